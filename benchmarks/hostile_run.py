"""A hostile folder through `neardupd scan` and through the daemon: time, classification, peak memory.

The folder: a FIFO, a FIFO named .jpg, a symlink to /dev/zero named .jpg, a symlink to a photo
outside the root, a 50 GB sparse file named .jpg, a mode-000 folder with a photo in it, and
../shared/data/hostile and broken. Prints, for each, how long it took, how every file was
classified, and the peak resident memory of scan, of the daemon and of each decoder (sampled
every 50 ms from /proc), against the decoders' address-space limit.

    python benchmarks/hostile_run.py
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "tests"))
from daemon_harness import DaemonProcess, distinct_picture, wait_until  # noqa: E402


def build(base: Path) -> tuple[Path, int]:
    root, outside = base / "photos", base / "elsewhere"
    root.mkdir()
    outside.mkdir()
    shutil.copytree(DATA / "hostile", root / "hostile")
    shutil.copytree(DATA / "broken", root / "broken")
    os.mkfifo(root / "in_fifo")
    os.mkfifo(root / "x.jpg")
    (root / "zero.jpg").symlink_to("/dev/zero")
    distinct_picture(1).save(outside / "private.png")
    (root / "y.jpg").symlink_to(outside / "private.png")
    with open(root / "sparse.jpg", "wb") as handle:
        handle.truncate(50 * 1024**3)
    locked = root / "locked"
    locked.mkdir()
    distinct_picture(2).save(locked / "a.png")
    locked.chmod(0)
    distinct_picture(3).save(root / "fine.png")
    return root, sum(1 for _ in root.rglob("*")) - 1


def classified(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as connection:
        counts = {"indexed": connection.execute("SELECT count(*) FROM files").fetchone()[0]}
        for kind, n in connection.execute("SELECT kind, count(*) FROM errors GROUP BY kind"):
            counts[f"error {kind}"] = n
        for kind, n in connection.execute("SELECT kind, count(*) FROM quarantine GROUP BY kind"):
            counts[f"quarantine {kind}"] = n
    return counts


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_scan(root: Path, base: Path) -> None:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "neardupd.cli", "scan", "--db", str(base / "scan.sqlite"),
                             str(root)], cwd=REPO, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"scan: exit {result.returncode} in {seconds:.1f} s, peak RSS {peak:.0f} MB")
    print(f"  {result.stdout.strip().splitlines()[0] if result.stdout.strip() else result.stderr[-300:]}")
    print(f"  classified: {classified(base / 'scan.sqlite')}")


def run_daemon(root: Path, base: Path) -> None:
    state = base / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [root])
    peaks: dict[int, float] = {}
    try:
        started = time.monotonic()
        daemon.start()

        def sample_until_idle() -> bool:
            for pid in [daemon.process.pid, *daemon.decoders()]:
                peaks[pid] = max(peaks.get(pid, 0.0), rss_mb(pid))
            return daemon.idle() and len(daemon.indexed()) > 0

        wait_until(sample_until_idle, 300, every=0.05, what="the daemon idle")
        seconds = time.monotonic() - started
        code = daemon.stop(30)
    finally:
        daemon.close()
    main = peaks.pop(daemon.process.pid, 0.0)
    print(f"daemon: idle after {seconds:.1f} s, SIGTERM exit {code}; peak RSS daemon {main:.0f} MB, "
          f"decoders {', '.join(f'{v:.0f}' for v in peaks.values())} MB (limit: 2048 MB address space each)")
    print(f"  classified: {classified(daemon.database)}")


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="neardupd-hostile-"))
    try:
        root, entries = build(base)
        print(f"{root}: {entries} entries")
        run_scan(root, base)
        run_daemon(root, base)
    finally:
        (base / "photos" / "locked").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
