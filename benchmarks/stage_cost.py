"""Per-image cost of each indexing stage on a folder (default: ../shared/bench-dev/images).

Indexes every file with `Indexer.index_file` (the same steps as a scan, but on one thread, so
the profiler sees them all) into a fresh database under cProfile and prints, per image, the time
spent in decoding, hashing the file, the base signature (pHash, content box, thumb), the
variant hashes (windows and rotations: the extra candidates), the neighbour search, and the
confirmation of candidates — so the cost of the extra candidates and of confirmation can be
read against decoding. Profiling adds overhead; compare the stages with each other.

    python benchmarks/stage_cost.py [FOLDER]
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from neardupd.config import Config
from neardupd.files import walk_images
from neardupd.indexer import Indexer
from neardupd.store import open_store

STAGES = {
    "Pillow decode (draft)": ("decode.py", "read_stream"),
    "normalise (upright, RGB, pixel digest, shrink)": ("decode.py", "normalise"),
    "SHA-256 of the file": ("indexer.py", "digest"),
    "all signatures": ("signature.py", "compute"),
    "  of which variant hashes": ("signature.py", "variant_hashes"),
    "neighbour search": ("neighbours.py", "nearest"),
    "confirmation + explanation": ("indexer.py", "judge"),
    "database writes": ("store.py", "add_file"),
}


def main(folder: str) -> None:
    paths = list(walk_images(os.fsencode(os.path.abspath(folder))))
    count = len(paths)
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(database=Path(tmp) / "cost.sqlite")
        with open_store(config.database) as store:
            indexer = Indexer(store, config)
            # warm up: the first calls into OpenCV and NumPy are slower
            indexer.matches_of(indexer.analyser.analyse(paths[0]))
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.runcall(lambda: [indexer.index_file(path) for path in paths])
            elapsed = time.perf_counter() - started
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    print(f"{count} images in {folder}: {elapsed:.1f} s under the profiler, {elapsed / count * 1000:.1f} ms/image")
    for label, (module, function) in STAGES.items():
        total = sum(cumulative for (file, _, name), (_, _, _, cumulative, _) in stats.items()
                    if file.endswith(module) and name == function)
        print(f"  {label:<48} {total / count * 1000:7.2f} ms/image")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/bench-dev/images")
