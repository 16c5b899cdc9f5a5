"""How the neighbour search grows with the library: milliseconds per new picture at several sizes.

Fills a :class:`~neardupd.neighbours.HammingIndex` with random pictures (a content hash and the
42 variant hashes the indexer stores: 36 windows, 6 rotated views) and times ``nearest`` with the
indexer's own settings and probes (8 dihedral forms, 42 variants, 36 mirrored windows). The
search is a linear scan, so the time per new picture grows with the library; the sum over an
initial indexing grows with its square, which this prints as an estimate too.

    python benchmarks/neighbour_scale.py [--sizes 1000 10000 50000 100000] [--queries 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from neardupd.config import MatchSettings
from neardupd.neighbours import HammingIndex
from neardupd.rules import VARIANTS, new_neighbour_index
from neardupd.signature import WINDOWS


def random_hashes(rng: np.random.Generator, count: int) -> list[int]:
    return [int(value) for value in rng.integers(0, 2**63, count, dtype=np.int64)]


def per_query_ms(index: HammingIndex, rng: np.random.Generator, queries: int, settings: MatchSettings) -> float:
    times = []
    for _ in range(queries):
        forms, variants, flipped = random_hashes(rng, 8), random_hashes(rng, VARIANTS), random_hashes(rng, len(WINDOWS))
        start = time.perf_counter()
        index.nearest(forms, variants, radius=settings.radius, limit=settings.candidates + 1,
                      keep_within=settings.always_within, contained=flipped, overlap_radius=settings.overlap_radius)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 50_000, 100_000])
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    settings = MatchSettings()
    index = new_neighbour_index()
    print(f"{'pictures':>10} {'ms per new picture':>19} {'us per stored picture':>22} {'est. initial indexing':>22}")
    for size in sorted(args.sizes):
        while len(index) < size:
            index.add(len(index), random_hashes(rng, 1)[0], random_hashes(rng, VARIANTS))
        milliseconds = per_query_ms(index, rng, args.queries, settings)
        initial_hours = milliseconds / 1000 * size / 2 / 3600  # sum of a linear cost over 0..size
        print(f"{size:>10,} {milliseconds:>19.1f} {milliseconds * 1000 / size:>22.2f} {initial_hours:>20.2f} h")


if __name__ == "__main__":
    main()
