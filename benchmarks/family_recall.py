"""Recall per edit family at the default threshold, against originals only, from a kept bench database.

Pairs of two copies are left out (as in ref R@P99); false positives are pairs of different groups
scoring at or above the threshold.

    neardupd bench BENCH_DIR --keep-db DB
    python benchmarks/family_recall.py BENCH_DIR DB [THRESHOLD]
"""

from __future__ import annotations

import collections
import os
import sys
from pathlib import Path

from neardupd.bench.protocol import Truth
from neardupd.config import MatchSettings
from neardupd.store import open_store


def main() -> None:
    folder, database = Path(sys.argv[1]), sys.argv[2]
    threshold = float(sys.argv[3]) if len(sys.argv) > 3 else MatchSettings().threshold
    truth = Truth.load(folder)
    with open_store(database, readonly=True) as store:
        rows = store.pairs(0.0)
    best: dict[frozenset[str], float] = {}
    false_positives = 0
    for row in rows:
        a, b = (os.path.basename(os.fsdecode(path)) for path in (row.a, row.b))
        label = truth.label(a, b)
        if label == 1:
            best[frozenset((a, b))] = max(best.get(frozenset((a, b)), 0.0), row.score)
        elif label == 0 and not truth.both_copies(a, b) and row.score >= threshold:
            false_positives += 1
    found, total = collections.Counter(), collections.Counter()
    for original, copy in truth.positives():
        total[truth.family(copy)] += 1
        found[truth.family(copy)] += best.get(frozenset((original, copy)), 0.0) >= threshold
    print(f"threshold {threshold}: {sum(found.values())}/{sum(total.values())} copies found, "
          f"{false_positives} false positives (copy-copy pairs left out)")
    for family in sorted(total):
        print(f"  {family:15} {found[family]:4}/{total[family]}")


if __name__ == "__main__":
    main()
