"""How the neighbour search grows with the library: milliseconds per new picture at several sizes,
by multi-index hashing (what the index uses from ``MULTI_INDEX_FROM`` pictures on) and by a scan
of every hash, on the same pictures and new pictures in one run, with a check that both answer the
same.

Fills :class:`~neardupd.neighbours.HammingIndex` es with random pictures (a content hash and the 42
variant hashes the indexer stores: 36 windows, 6 rotated views; uniform random bits, so fewer chance
near neighbours than real pHashes have and the multi-index search stops later) and times ``nearest``
with the matcher's own radii and stored variants at each size (from ``large_library`` on, no
windows) and its probes (8 dihedral forms, 42 variants, 36 mirrored windows), one of which is
planted near a stored picture's hash (each relation searched and distance up to its radius in turn:
that picture must be found).

    python benchmarks/neighbour_scale.py [--sizes 10000 30000 100000 300000] [--queries 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from scale import planted_queries  # benchmarks/scale.py

from neardupd.config import MatchSettings
from neardupd.neighbours import HammingIndex
from neardupd.rules import OVERLAP_PAIRS, VARIANTS, indexed_variants_from, search_radii


def fill(indexes: list[HammingIndex], rng: np.random.Generator, size: int) -> None:
    while len(indexes[0]) < size:
        count = min(100_000, size - len(indexes[0]))
        contents = rng.integers(0, 2**64, count, dtype=np.uint64)
        variants = rng.integers(0, 2**64, (count, VARIANTS), dtype=np.uint64)
        items = np.arange(len(indexes[0]), len(indexes[0]) + count, dtype=np.int64)
        for index in indexes:
            index.add_many(items, contents, variants[:, index.first_variant:], np.ones(count, dtype=bool))


def timed(index: HammingIndex, queries: list, settings: MatchSettings) -> tuple[list[float], list]:
    times, answers = [], []
    for forms, variants, flipped in queries:
        start = time.perf_counter()
        radius, overlap_radius = search_radii(settings, len(index))  # the matcher's, at this size
        answers.append(index.nearest(forms, variants, radius=radius, limit=settings.candidates + 1,
                                     keep_within=settings.always_within, contained=flipped,
                                     overlap_radius=overlap_radius))
        times.append((time.perf_counter() - start) * 1000)
    return times, answers


def stored_pictures(index: HammingIndex, count: int) -> dict[int, tuple[int, list[int]]]:
    """``count`` stored pictures spread over the index: item -> (content hash, variant hashes)."""
    contents, variants = index._content, index._variant  # noqa: SLF001 - a benchmark's look inside
    items = range(0, len(index), max(1, len(index) // count))
    return {item: (int(contents.hashes[contents.row_of.get(item), 0]),  # variants not indexed: 0
                   [0] * index.first_variant + variants.hashes[variants.row_of.get(item)].tolist()) for item in items}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--radius", type=int, help="the search radius (default: the settings')")
    parser.add_argument("--overlap-radius", type=int, help="the overlap radius (default: the settings')")
    parser.add_argument("--no-scan", action="store_true", help="time the multi-index search alone")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    settings = MatchSettings()
    if args.radius is not None or args.overlap_radius is not None:  # at every size, the large library's too
        radius = settings.radius if args.radius is None else args.radius
        overlap_radius = settings.overlap_radius if args.overlap_radius is None else args.overlap_radius
        settings = dataclasses.replace(settings, radius=radius, overlap_radius=overlap_radius,
                                       large_radius=radius, large_overlap_radius=overlap_radius)
    scan = HammingIndex(VARIANTS, OVERLAP_PAIRS, multi_index_from=2**62)
    multi = HammingIndex(VARIANTS, OVERLAP_PAIRS, multi_index_from=1)
    print(f"{'pictures':>10} {'multi-index p50':>16} {'p99':>7} {'scan p50':>9} {'p99':>7} {'scan/multi':>11}"
          f" {'listing s':>10} {'same answers':>13} {'planted found':>14}")
    for size in sorted(args.sizes):
        fill([multi] if args.no_scan else [scan, multi], rng, size)
        for index in (scan, multi):  # as the matcher does: a large library's index keeps no windows
            index.index_from(indexed_variants_from(settings, size))
        started = time.perf_counter()
        multi.catch_up()  # lists the pictures added since the last size
        listing = time.perf_counter() - started
        planted = planted_queries(rng, stored_pictures(multi, args.queries), args.queries,
                                  search_radii(settings, size), windows=multi.first_variant == 0)
        queries = [(forms, variants, flipped) for forms, variants, flipped, _, _ in planted]
        multi_ms, multi_answers = timed(multi, queries, settings)
        scan_ms, scan_answers = timed(multi if args.no_scan else scan, queries, settings)
        found = sum(any(n.item == item for n in answer)
                    for (*_, item, _), answer in zip(planted, multi_answers, strict=True))
        p50, p99 = (np.percentile(multi_ms, 50), np.percentile(multi_ms, 99))
        s50, s99 = (np.percentile(scan_ms, 50), np.percentile(scan_ms, 99))
        print(f"{size:>10,} {p50:>13.1f} ms {p99:>7.1f} {s50:>6.1f} ms {s99:>7.1f} {s50 / p50:>10.1f}x"
              f" {listing:>10.1f} {str(multi_answers == scan_answers):>13} {found:>4}/{len(planted)}")


if __name__ == "__main__":
    main()
