"""How often a pair's ``likely_original`` (the pair rule of ``neardupd/original.py``) names the true
original, on a labelled folder (bench-dev's layout: ``images/`` and ``truth.json``), over the
original–copy pairs found; and the edits of the copies it named instead.

    python benchmarks/likely_original.py [BENCH_DIR] [--db INDEX]
"""

from __future__ import annotations

import json
from collections import Counter

import labelled


def main() -> None:
    args = labelled.parser(__doc__).parse_args()
    with labelled.indexed(args.bench, args.db) as (truth, store):
        rows = store.pairs(0.0)
    right, missed = 0, Counter()
    counted = 0
    for row in rows:
        a, b = (labelled.role(truth, path) for path in (row.a, row.b))
        if {a["role"], b["role"]} != {"original", "copy"} or a["group"] != b["group"] or row.kind == "similar":
            continue
        counted += 1
        named = json.loads(row.details).get("likely_original", "a")
        if named == ("a" if a["role"] == "original" else "b"):
            right += 1
        else:
            missed[(b if a["role"] == "original" else a)["transform"].split("+")[0]] += 1
    print(f"{args.bench}: likely_original right on {right}/{counted} = {right / max(counted, 1):.3f} "
          "original-copy pairs")
    print("named the copy instead (its first edit):", ", ".join(f"{name} {n}" for name, n in missed.most_common(12)))


if __name__ == "__main__":
    main()
