"""How often the keep-best rules keep the true original, on a labelled folder (bench-dev's layout:
``images/`` and ``truth.json`` with each file's group and role).

Indexes the folder into a temporary database (or reads ``--db``), plans the clean-up with the
default rules (``neardupd act --plan``), and counts, over the groups that hold their original, the
groups whose kept file is that original; then the rules that chose, and the edits of the copies kept
instead.

    python benchmarks/keeper.py [BENCH_DIR] [--db INDEX]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from neardupd.config import Config
from neardupd.review.plan import plan
from neardupd.store import open_store

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", nargs="?", default=str(REPO.parent / "shared" / "bench-dev"))
    parser.add_argument("--db", help="an index of the folder's images (default: made here)")
    args = parser.parse_args()
    truth = json.loads((Path(args.bench) / "truth.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or os.path.join(tmp, "keeper.sqlite")
        if not args.db:
            subprocess.run([sys.executable, "-m", "neardupd.cli", "scan", "--db", db, str(Path(args.bench) / "images")],
                           check=True, capture_output=True)
        config = Config()
        with open_store(db, readonly=True) as store:
            plans = plan(store, store.pairs(float(store.setting("match_threshold") or config.match.threshold)), config)
    right, rules, missed = 0, Counter(), Counter()
    counted = 0
    for group in plans:
        members = [group.choice.keeper, *group.moved]
        names = [os.path.basename(os.fsdecode(m.path)) for m in members]
        if not any(truth[name]["role"] == "original" for name in names):
            continue
        counted += 1
        kept = truth[names[0]]
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
