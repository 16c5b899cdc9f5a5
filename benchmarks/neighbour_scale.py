"""How the neighbour search grows with the library: milliseconds per new picture at several sizes,
by multi-index hashing (what the index uses from ``MULTI_INDEX_FROM`` pictures on) and by a scan
of every hash, on the same pictures and new pictures in one run, with a check that both answer the
same.

Fills :class:`~neardupd.neighbours.HammingIndex` es with random pictures (a content hash and the 42
variant hashes the indexer stores: 36 windows, 6 rotated views; uniform random bits, so fewer chance
near neighbours than real pHashes have and the multi-index search stops later) and times ``nearest``
with the indexer's own settings and probes (8 dihedral forms, 42 variants, 36 mirrored windows).

    python benchmarks/neighbour_scale.py [--sizes 10000 30000 100000 300000] [--queries 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neardupd.config import MatchSettings
from neardupd.neighbours import HammingIndex
from neardupd.rules import OVERLAP_PAIRS, VARIANTS
from neardupd.signature import WINDOWS


def fill(indexes: list[HammingIndex], rng: np.random.Generator, size: int) -> None:
    while len(indexes[0]) < size:
        count = min(100_000, size - len(indexes[0]))
        contents = rng.integers(0, 2**64, count, dtype=np.uint64)
        variants = rng.integers(0, 2**64, (count, VARIANTS), dtype=np.uint64)
        for row in range(count):
            content, stored = int(contents[row]), variants[row].tolist()
            for index in indexes:
                index.add(len(index), content, stored)


def timed(index: HammingIndex, queries: list, settings: MatchSettings) -> tuple[list[float], list]:
    times, answers = [], []
    for forms, variants, flipped in queries:
        start = time.perf_counter()
        answers.append(index.nearest(forms, variants, radius=settings.radius, limit=settings.candidates + 1,
                                     keep_within=settings.always_within, contained=flipped,
                                     overlap_radius=settings.overlap_radius))
        times.append((time.perf_counter() - start) * 1000)
    return times, answers


def random_hashes(rng: np.random.Generator, count: int) -> list[int]:
    return rng.integers(0, 2**64, count, dtype=np.uint64).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000])
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    settings = MatchSettings()
    scan = HammingIndex(VARIANTS, OVERLAP_PAIRS, multi_index_from=2**62)
    multi = HammingIndex(VARIANTS, OVERLAP_PAIRS, multi_index_from=1)
    print(f"{'pictures':>10} {'multi-index p50':>16} {'p99':>7} {'scan p50':>9} {'p99':>7} {'scan/multi':>11}"
          f" {'listing s':>10} {'same answers':>13}")
    for size in sorted(args.sizes):
        fill([scan, multi], rng, size)
        started = time.perf_counter()
        multi.nearest([0], [], radius=0, limit=1)  # lists the pictures added since the last size
        listing = time.perf_counter() - started
        queries = [(random_hashes(rng, 8), random_hashes(rng, VARIANTS), random_hashes(rng, len(WINDOWS)))
                   for _ in range(args.queries)]
        multi_ms, multi_answers = timed(multi, queries, settings)
        scan_ms, scan_answers = timed(scan, queries, settings)
        p50, p99 = (np.percentile(multi_ms, 50), np.percentile(multi_ms, 99))
        s50, s99 = (np.percentile(scan_ms, 50), np.percentile(scan_ms, 99))
        print(f"{size:>10,} {p50:>13.1f} ms {p99:>7.1f} {s50:>6.1f} ms {s99:>7.1f} {s50 / p50:>10.1f}x"
              f" {listing:>10.1f} {str(multi_answers == scan_answers):>13}")


if __name__ == "__main__":
    main()
