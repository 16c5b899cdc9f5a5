"""How often the keep-best rules keep the true original, on a labelled folder (bench-dev's layout:
``images/`` and ``truth.json`` with each file's group and role).

Indexes the folder into a temporary database (or reads ``--db``), plans the clean-up with the
default rules (``neardupd act --plan``), and counts, over the groups that hold their original, the
groups whose kept file is that original; then the rules that chose, and the edits of the copies kept
instead.

    python benchmarks/keeper.py [BENCH_DIR] [--db INDEX]
"""

from __future__ import annotations

from collections import Counter

import labelled

from neardupd.config import Config
from neardupd.review.plan import plan


def main() -> None:
    args = labelled.parser(__doc__).parse_args()
    config = Config()
    with labelled.indexed(args.bench, args.db) as (truth, store):
        plans = plan(store, store.pairs(float(store.setting("match_threshold") or config.match.threshold)), config)
    right, rules, missed = 0, Counter(), Counter()
    counted = 0
    for group in plans:
        members = [group.choice.keeper, *group.moved]
        roles = [labelled.role(truth, m.path) for m in members]
        if not any(entry["role"] == "original" for entry in roles):
            continue
        counted += 1
        kept = roles[0]
        rules[group.choice.rule] += 1
        if kept["role"] == "original":
            right += 1
        else:
            missed[kept.get("transform", kept["role"]).split("+")[0]] += 1
    print(f"{args.bench}: {len(plans)} groups, {counted} holding their original")
    print(f"kept the original in {right}/{counted} = {right / max(counted, 1):.3f} (target >= 0.95)")
    print("chosen by:", ", ".join(f"{rule} {count}" for rule, count in rules.most_common()))
    print("kept a copy instead (its first edit):", ", ".join(f"{name} {n}" for name, n in missed.most_common(12)))


if __name__ == "__main__":
    main()
