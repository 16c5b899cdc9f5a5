"""Indexing time of a folder now against an earlier neardupd, measured in one run (a ratio).

Checks out ``--base`` (default: 5cfb346, the core engine before the modified-copy work) into a
temporary git worktree, then alternately runs `neardupd scan` of FOLDER into a fresh database
with that checkout and with this one, ``--rounds`` times each, and prints the best time of each
and their ratio. The modified-copy target: at most 2x the core engine on bench-dev.

    python benchmarks/index_cost.py [FOLDER] [--base COMMIT] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORE_ENGINE = "5cfb346"


def scan_seconds(checkout: Path, folder: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "neardupd.cli", "scan", "--db", str(Path(tmp) / "cost.sqlite"),
                        str(folder)], cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)},
                       check=True, capture_output=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default=str(REPO.parent / "shared" / "bench-dev" / "images"))
    parser.add_argument("--base", default=CORE_ENGINE, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(args.folder).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=REPO, check=True,
                       capture_output=True)
        try:
            times: dict[str, list[float]] = {"base": [], "now": []}
            for _ in range(args.rounds):
                times["base"].append(scan_seconds(base, folder))
                times["now"].append(scan_seconds(REPO, folder))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO, check=False)
    best_base, best_now = min(times["base"]), min(times["now"])
    print(f"scan of {folder}, best of {args.rounds} alternating rounds")
    print(f"  {args.base} (base): {best_base:.1f} s   all: {', '.join(f'{t:.1f}' for t in times['base'])}")
    print(f"  this checkout: {best_now:.1f} s   all: {', '.join(f'{t:.1f}' for t in times['now'])}")
    print(f"ratio now/base: {best_now / best_base:.2f} (modified-copy target vs the core engine: <= 2.0)")


if __name__ == "__main__":
    main()
