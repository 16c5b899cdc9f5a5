"""Scan cost against the floor of decoding alone, measured in one run (a ratio, not seconds).

For a folder (default: ../shared/data/camera), time
  * decode: Pillow open + draft() to the work size + load, nothing else;
  * scan:   a full `Indexer.scan` of the same files into a fresh SQLite file (read, digest,
            decode, sign, store, match);
alternating the two `--rounds` times and keeping each one's best, then print scan/decode for
wall-clock time (the core-engine target: at most 1.3) and for the CPU time of the process
(a scan reads and decodes the next file on a helper thread while it signs, matches and stores
the current one, so its wall time can be lower than the CPU it uses).

    python benchmarks/scan_speed.py [FOLDER] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from PIL import Image

from neardupd.config import Config
from neardupd.files import walk_images
from neardupd.indexer import Indexer
from neardupd.store import open_store


def decode_only(paths: list[bytes], work_size: int) -> tuple[float, float]:
    """(wall, CPU) seconds."""
    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        with Image.open(path) as image:
            image.draft("RGB", (work_size, work_size))
            image.load()
    return time.perf_counter() - started, time.process_time() - cpu


def scan_once(folder: str, config: Config) -> tuple[float, float]:
    """(wall, CPU) seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        config = config.replace(database=Path(tmp) / "speed.sqlite")
        with open_store(config.database) as store:
            indexer = Indexer(store, config)
            started, cpu = time.perf_counter(), time.process_time()
            indexer.scan([folder])
            return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default="../shared/data/camera")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    config = Config()
    paths = list(walk_images(os.fsencode(os.path.abspath(args.folder))))
    decode_only(paths, config.decode.work_size)  # warm the page cache
    decode_times, scan_times = [], []
    for _ in range(args.rounds):
        decode_times.append(decode_only(paths, config.decode.work_size))
        scan_times.append(scan_once(args.folder, config))
    (decode_wall, decode_cpu), (scan_wall, scan_cpu) = min(decode_times), min(scan_times)
    per_file = 1000 / len(paths)
    print(f"{len(paths)} files in {args.folder}, best of {args.rounds} rounds (wall / CPU)")
    print(f"decode only (Pillow draft): {decode_wall * 1000:.1f} / {decode_cpu * 1000:.1f} ms "
          f"({decode_wall * per_file:.1f} / {decode_cpu * per_file:.1f} ms/file)")
    print(f"neardupd scan:              {scan_wall * 1000:.1f} / {scan_cpu * 1000:.1f} ms "
          f"({scan_wall * per_file:.1f} / {scan_cpu * per_file:.1f} ms/file)")
    print(f"CPU ratio scan/decode: {scan_cpu / decode_cpu:.2f}")
    print(f"ratio scan/decode: {scan_wall / decode_wall:.2f} (wall clock; target <= 1.30)")


if __name__ == "__main__":
    main()
