"""Recall per edit family at the default threshold, against originals only, from a kept bench database.

Pairs of two copies are left out (as in ref R@P99); false positives are pairs of different groups
scoring at or above the threshold.

    neardupd bench BENCH_DIR --keep-db DB
    python benchmarks/family_recall.py BENCH_DIR DB [THRESHOLD]
"""

from __future__ import annotations

import collections
import json
import os
import sqlite3
import sys

from neardupd.config import MatchSettings


def main() -> None:
    folder, database = sys.argv[1], sys.argv[2]
    threshold = float(sys.argv[3]) if len(sys.argv) > 3 else MatchSettings().threshold
    with open(os.path.join(folder, "truth.json")) as handle:
        truth = json.load(handle)
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    best: dict[str, float] = {}
    false_positives = 0
    pairs = connection.execute("SELECT fa.path, fb.path, m.score FROM matches AS m "
                               "JOIN files AS fa ON fa.id = m.a JOIN files AS fb ON fb.id = m.b")
    for a, b, score in pairs:
        first, second = truth[os.path.basename(a)], truth[os.path.basename(b)]
        if first["role"] == "copy" and second["role"] == "copy":
            continue
        if first["group"] == second["group"]:
            copy = os.path.basename(a if first["role"] == "copy" else b)
            best[copy] = max(best.get(copy, 0.0), score)
        elif score >= threshold:
            false_positives += 1
    found, total = collections.Counter(), collections.Counter()
    for name, entry in truth.items():
        if entry["role"] == "copy":
            total[entry["transform"]] += 1
            found[entry["transform"]] += best.get(name, 0.0) >= threshold
    print(f"threshold {threshold}: {sum(found.values())}/{sum(total.values())} copies found, "
          f"{false_positives} false positives (copy-copy pairs left out)")
    for family in sorted(total):
        print(f"  {family:15} {found[family]:4}/{total[family]}")


if __name__ == "__main__":
    main()
