"""Accuracy on a labelled folder with the README protocol, through the real command line.

Runs `neardupd scan` on BENCH/images into a fresh database, then `neardupd dupes --json
--min-score 0`, and scores the pairs (strict and ref R@P99, AP, recall per transform).

    python benchmarks/bench_dev.py ../shared/bench-dev
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neardupd.bench.protocol import Truth, score


def main(folder: str) -> int:
    bench = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "neardupd.cli", "scan", "--db", str(db), str(bench / "images")],
                       check=True)
        scan_seconds = time.perf_counter() - started
        out = subprocess.run([sys.executable, "-m", "neardupd.cli", "dupes", "--db", str(db), "--json",
                              "--min-score", "0"], check=True, capture_output=True, text=True).stdout
    pairs = [json.loads(line) for line in out.splitlines()]
    result = score(Truth.load(bench), ((Path(p["a"]).name, Path(p["b"]).name, p["score"]) for p in pairs))
    print(f"scan of {bench / 'images'}: {scan_seconds:.1f} s, {len(pairs)} pairs reported")
    print("\n".join(result.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "../shared/bench-dev"))
