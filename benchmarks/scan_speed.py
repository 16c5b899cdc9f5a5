"""Scan cost against the floor of decoding alone, measured in one run (a ratio, not seconds).

For a folder (default: ../shared/data/camera), time
  * decode: Pillow open + draft() to the work size + load, nothing else;
  * scan:   a full `Indexer.scan` of the same files into a fresh SQLite file (read, digest,
            decode, sign, store, match);
alternating the two `--rounds` times and keeping each one's best, then print scan/decode.
The core-engine target is at most 1.3.

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
from neardupd.indexer import Indexer, walk_images
from neardupd.store import open_store


def decode_only(paths: list[bytes], work_size: int) -> float:
    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.draft("RGB", (work_size, work_size))
            image.load()
    return time.perf_counter() - started


def scan_once(folder: str, config: Config) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        config = config.replace(database=Path(tmp) / "speed.sqlite")
        with open_store(config.database) as store:
            indexer = Indexer(store, config)
            started = time.perf_counter()
            indexer.scan([folder])
            return time.perf_counter() - started


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
    best_decode, best_scan = min(decode_times), min(scan_times)
    print(f"{len(paths)} files in {args.folder}, best of {args.rounds} rounds")
    print(f"decode only (Pillow draft): {best_decode * 1000:.1f} ms ({best_decode / len(paths) * 1000:.1f} ms/file)")
    print(f"neardupd scan:              {best_scan * 1000:.1f} ms ({best_scan / len(paths) * 1000:.1f} ms/file)")
    print(f"ratio scan/decode: {best_scan / best_decode:.2f} (target <= 1.30)")


if __name__ == "__main__":
    main()
