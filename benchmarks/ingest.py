"""How fast a first indexing goes, against the limit of decoding alone, in one run.

For a folder of distinct camera-sized JPEGs (made here once: bench-dev's photos, none a copy of
another, enlarged to ``--side`` pixels on the long side and saved at quality 92, as a phone's photos
are, with a sensor's grain; ``--folder`` to use your own) and for bench-dev itself, it times:

* the limit: Pillow ``draft()`` decoding to the work size, in one process per core;
* ``neardupd scan`` into a new database (a subprocess), with its CPU time over its wall time;
* the daemon (``neardupd run``) from launch until every file is indexed;
* a naive ``imagehash.phash(Image.open(path))`` loop in one process (on the first 40 files);

and prints images per second and each one's time over the limit's.

    python benchmarks/ingest.py [--files 200] [--side 4000] [--folder DIR] [--work DIR] [--as-large]
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from daemon_harness import DaemonProcess, wait_until  # noqa: E402

from neardupd.config import Config  # noqa: E402

BENCH_DEV = REPO.parent / "shared" / "bench-dev"
GRAIN = 4.0
"""Grey levels of noise added to the enlarged photos: without it they are smooth and decode several
times faster than a phone's photo of that size (with it, about as fast as ../shared/data/camera's)."""


def camera_folder(work: Path, files: int, side: int) -> Path:
    """``files`` distinct photos at camera size (made once in ``work``)."""
    folder = work / f"camera-{side}-grain"
    folder.mkdir(parents=True, exist_ok=True)
    truth = json.loads((BENCH_DEV / "truth.json").read_text())
    sources = sorted(name for name, entry in truth.items() if entry["role"] != "copy")[:files]
    hour_ago = time.time() - 3600  # not fresh: the daemon indexes them at once, with no quiet period
    for name in sources:
        target = folder / (Path(name).stem + ".jpg")
        if not target.exists():
            with Image.open(BENCH_DEV / "images" / name) as image:
                scale = side / max(image.size)
                size = (round(image.width * scale), round(image.height * scale))
                large = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
            grain = np.random.default_rng(len(name)).normal(0, GRAIN, large.shape[:2])[..., None]  # a sensor's
            Image.fromarray(np.clip(large + grain, 0, 255).astype(np.uint8)).save(target, quality=92)
            os.utime(target, (hour_ago, hour_ago))
    return folder


def _draft(work: int, path: str) -> None:
    with Image.open(path) as image:
        image.draft("RGB", (work, work))
        image.load()


def decode_limit(paths: list[str]) -> float:
    """Seconds to draft-decode every file, one process per core."""
    draft = functools.partial(_draft, Config().decode.work_size)  # the settings read once, not per file
    with multiprocessing.get_context("spawn").Pool(os.cpu_count()) as pool:
        pool.map(draft, paths[:4])  # started and warm
        started = time.perf_counter()
        pool.map(draft, paths, chunksize=4)
        return time.perf_counter() - started


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def scan_seconds(folder: Path, tmp: Path, settings: str) -> tuple[float, float]:
    """(wall seconds, CPU over wall) of `neardupd scan` of the folder into a new database."""
    database, config = tmp / "scan.sqlite", tmp / "scan.toml"
    config.write_text(settings)
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "neardupd.cli", "--config", str(config), "scan", "--db", str(database),
                    str(folder)], cwd=REPO, check=True, capture_output=True)
    wall = time.perf_counter() - started
    database.unlink()
    return wall, (children_cpu() - cpu) / wall


def daemon_seconds(folder: Path, tmp: Path, count: int, settings: str) -> tuple[float, float]:
    """(wall seconds, CPU over wall) from launching the daemon on the folder to every file indexed."""
    home = tmp / "daemon"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    daemon = DaemonProcess(home, [folder], extra=settings)
    started = time.perf_counter()
    try:
        daemon.start(wait_ready=False)
        wait_until(lambda: len(daemon.indexed()) >= count, 3600, every=0.2, what="every file indexed")
        wall = time.perf_counter() - started
        cpu = tree_cpu(daemon.process.pid)  # before it stops: its decoders are still alive to be read
    finally:
        daemon.close()
    return wall, cpu / wall


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by a process and its live descendants (from /proc)."""
    parents, used = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def descends(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = parents.get(pid, 0)
        return False

    return sum(seconds for pid, seconds in used.items() if descends(pid))


def naive_seconds(paths: list[str]) -> float:
    """Seconds a file of ``imagehash.phash(Image.open(path))`` in one process."""
    sample = paths[:40]
    started = time.perf_counter()
    for path in sample:
        imagehash.phash(Image.open(path))
    return (time.perf_counter() - started) / len(sample)


def measure(name: str, folder: Path, tmp: Path, settings: str) -> None:
    paths = sorted(str(path) for path in folder.iterdir() if path.is_file() and path.suffix.lower() in
                   {".jpg", ".jpeg", ".png", ".webp"})
    count = len(paths)
    limit = decode_limit(paths)
    scan, scan_load = scan_seconds(folder, tmp, settings)
    daemon, daemon_load = daemon_seconds(folder, tmp, count, settings)
    naive = naive_seconds(paths)
    print(f"{name}: {count} files")
    print(f"  draft() decoding, {os.cpu_count()} processes: {count / limit:7.1f} images/s (the limit)")
    print(f"  neardupd scan:                  {count / scan:7.1f} images/s, {scan / limit:.2f}x the limit's time,"
          f" CPU/wall {scan_load:.2f}")
    print(f"  neardupd run (daemon):          {count / daemon:7.1f} images/s, {daemon / limit:.2f}x the limit's time"
          f" (launch included), CPU/wall {daemon_load:.2f}")
    print(f"  imagehash.phash(Image.open(p)): {1 / naive:7.1f} images/s in one process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--side", type=int, default=4000, help="long side of the made photos (4000: 12 MP)")
    parser.add_argument("--folder", type=Path, help="a folder of your own photos instead of the made ones")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "neardupd-ingest",
                        help="where the made photos are kept between runs")
    parser.add_argument("--as-large", action="store_true",
                        help="index as in a library past match.large_library pictures (its narrower hash search)")
    args = parser.parse_args()
    settings = "[match]\nlarge_library = 0\n" if args.as_large else ""
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or camera_folder(args.work, args.files, args.side)
        measure(f"photos of {args.side} px" if not args.folder else str(folder), folder, Path(tmp), settings)
        measure("bench-dev", BENCH_DEV / "images", Path(tmp), settings)


if __name__ == "__main__":
    main()
