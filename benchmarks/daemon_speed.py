"""The daemon's two numbers: how soon a new file is queryable, and how long a 10,000-file burst takes.

Runs a real `neardupd run` (default settings but the folder and database) on a temporary folder:

* latency: writes ``--files`` real photos (bench-dev images) one at a time, and for each measures
  the seconds from the end of its last write to its row being visible to a read-only reader,
  minus the quiet period (``daemon.quiet_period``, 10 s by default): what the daemon itself adds;
* burst: ``--burst`` small distinct pictures into 50 new folders at once, then the seconds from
  the first write until all are indexed (and files per second).

    python benchmarks/daemon_speed.py [--files 12] [--burst 10000] [--skip-burst]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from daemon_harness import DaemonProcess, distinct_picture, wait_until  # noqa: E402

from neardupd.config import DaemonSettings  # noqa: E402


def latency(home: Path, files: int) -> list[float]:
    folder = home / "latency"
    folder.mkdir()
    state = home / "latency-state"
    state.mkdir()
    quiet = DaemonSettings().quiet_period
    daemon = DaemonProcess(state, [folder], quiet=quiet)
    photos = sorted((REPO.parent / "shared" / "bench-dev" / "images").glob("*.jpg"))[:files]
    delays = []
    try:
        daemon.start()
        for photo in photos:
            target = folder / photo.name
            shutil.copyfile(photo, target)
            written = time.monotonic()
            wait_until(lambda target=target: str(target) in daemon.indexed(), quiet + 60, every=0.02,
                       what=f"{target.name} indexed")
            delays.append(time.monotonic() - written - quiet)
    finally:
        daemon.close()
    return delays


def burst(home: Path, count: int) -> float:
    folder = home / "burst"
    folder.mkdir()
    state = home / "burst-state"
    state.mkdir()
    daemon = DaemonProcess(state, [folder], quiet=DaemonSettings().quiet_period)
    try:
        daemon.start()
        started = time.monotonic()
        for number in range(count):
            album = folder / f"album-{number % 50:02d}"
            album.mkdir(exist_ok=True)
            distinct_picture(number, size=64).save(album / f"p{number:05d}.png")
        wait_until(lambda: len(daemon.indexed()) == count, 7200, every=1.0, what="the burst indexed")
        return time.monotonic() - started
    finally:
        daemon.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--skip-burst", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        delays = latency(home, args.files)
        print(f"latency after the quiet period ({DaemonSettings().quiet_period:g} s), {len(delays)} photos: "
              f"median {statistics.median(delays):.2f} s, min {min(delays):.2f} s, max {max(delays):.2f} s")
        if not args.skip_burst:
            seconds = burst(home, args.burst)
            print(f"burst of {args.burst} files into 50 new folders: all indexed in {seconds:.0f} s "
                  f"({args.burst / seconds:.0f} files/s, quiet period included)")


if __name__ == "__main__":
    main()
