"""Response times of the review page (`neardupd serve`) on an index: the group list and the pair view,
p50 and p99 over N requests each, measured from a client on this machine (the server in its own process).

    python benchmarks/review_page.py [--db INDEX | BENCH_DIR] [--requests 100]

Without --db, BENCH_DIR/images (default: ../shared/bench-dev) is indexed into a temporary database first.
The pair views are of different pairs (their pictures come from the thumbnail cache after the first look,
as in use); the first request of each kind, which makes the plans, is reported on its own.
"""

from __future__ import annotations

import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import labelled


def _get(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    body = urllib.request.urlopen(url, timeout=120).read()
    return time.perf_counter() - started, body


def _percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (n={len(ordered)})"


def main() -> None:
    parser = labelled.parser(__doc__)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with labelled.index_path(args.bench, args.db) as db:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-m", "neardupd.cli", "serve", "--db", db, "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    first, page = _get(url + "/")
                    break
                except OSError:
                    time.sleep(0.1)
            pairs = sorted(set(re.findall(rb'href="(/pair/\d+/\d+)"', page)))
            lists = [_get(f"{url}/?page={1 + i % 5}")[0] for i in range(args.requests)]
            views = [_get(url + pairs[i % len(pairs)].decode())[0] for i in range(args.requests)]
            images = [_get(f"{url}/thumb/{pairs[i % len(pairs)].decode().split('/')[2]}/160.jpg")[0]
                      for i in range(args.requests)]
        finally:
            server.terminate()
            server.wait(10)
    print(f"review page on {db if args.db else args.bench}")
    print(f"  first group list (plans made): {first * 1000:.0f} ms")
    print(f"  group list (20 groups a page): {_percentiles(lists)}")
    print(f"  pair view (page):              {_percentiles(views)}")
    print(f"  thumbnail (cached after first): {_percentiles(images)}")


if __name__ == "__main__":
    main()
