"""How often a pair's ``likely_original`` (the pair rule of ``neardupd/original.py``) names the true
original, on a labelled folder (bench-dev's layout: ``images/`` and ``truth.json``), over the
original–copy pairs found; and the edits of the copies it named instead.

    python benchmarks/likely_original.py [BENCH_DIR] [--db INDEX]
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

from neardupd.store import open_store

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", nargs="?", default=str(REPO.parent / "shared" / "bench-dev"))
    parser.add_argument("--db", help="an index of the folder's images (default: made here)")
    args = parser.parse_args()
    truth = json.loads((Path(args.bench) / "truth.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or os.path.join(tmp, "pairs.sqlite")
        if not args.db:
            subprocess.run([sys.executable, "-m", "neardupd.cli", "scan", "--db", db, str(Path(args.bench) / "images")],
                           check=True, capture_output=True)
        with open_store(db, readonly=True) as store:
            rows = store.pairs(0.0)
    right, missed = 0, Counter()
    counted = 0
    for row in rows:
        a, b = (truth[os.path.basename(os.fsdecode(path))] for path in (row.a, row.b))
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
