"""NAS scale: a database of N pictures written through neardupd's own store, and what a library of
that size costs: database bytes per picture, loading the indexes (seconds, memory per picture), the
neighbour search per new picture against a scan of every hash and a BK-tree in the same run, the
keypoint search, and the seconds from launch to the daemon's READY=1 and to `neardupd query`'s answer.

The pictures are synthetic (no image files): uniform random hashes and keypoint descriptors (256 a
picture, as a camera photo has), the thumbs of bench-dev's photos in turn. Each new picture searched
with has one stored picture planted near it: a hash at a chosen distance in one of the search's
relations (content ~ content, content ~ window, window ~ content, window ~ window, rotation ~
rotation), at every distance up to the relation's radius in turn.

    python benchmarks/scale.py N [--queries 60] [--db PATH] [--no-launch]

An existing ``--db`` of at least N pictures is measured as it is (writing a million pictures takes
a while); a new one is kept at PATH. ``pip install -e '.[bench]'`` for the BK-tree (pybktree).
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from neardupd import thumb_file
from neardupd.bench import synthetic
from neardupd.config import MatchSettings
from neardupd.descriptor_index import INDEXED, DescriptorIndex
from neardupd.neighbours import HammingIndex
from neardupd.rules import OVERLAP_PAIRS, VARIANTS, indexed_variants_from, new_neighbour_index, search_radii
from neardupd.signature import WINDOWS, make_thumb
from neardupd.store import open_store

REPO = Path(__file__).resolve().parent.parent
BENCH_DEV = REPO.parent / "shared" / "bench-dev"
CAMERA_PHOTO = REPO.parent / "shared" / "data" / "camera" / "HMD_Nokia_8.3_5G.jpg"
BATCH = 2_000
"""Pictures written per transaction."""


def real_thumbs(count: int = 200) -> list[tuple[bytes, np.ndarray]]:
    """Thumbs of bench-dev's photos as stored (their bytes are what a database holds), else smooth random ones."""
    paths = sorted((BENCH_DEV / "images").glob("*"))[:count] if BENCH_DEV.exists() else []
    thumbs = [make_thumb(np.asarray(Image.open(path).convert("L"))) for path in paths]
    rng = np.random.default_rng(1)
    thumbs = thumbs or [np.repeat(np.repeat(rng.integers(0, 256, (8, 8), dtype=np.uint8), 8, 0), 8, 1)
                        for _ in range(50)]
    return [thumb_file.as_stored(thumb) for thumb in thumbs]


def write_database(path: str, pictures: int, rng: np.random.Generator, keypoints: bool = True) -> float:
    """N synthetic pictures through Store.add_file, BATCH a transaction (without keypoints: as
    pictures too small for them); returns pictures a second."""
    thumbs = real_thumbs()
    started = time.perf_counter()
    with open_store(path) as store:
        have = store.counts()["files"]
        for first in range(have, pictures, BATCH):
            with store.transaction():
                for number in range(first, min(first + BATCH, pictures)):
                    synthetic.add_picture(store, number, rng, thumbs[number % len(thumbs)], keypoints=keypoints)
            print(f"\r  written {min(first + BATCH, pictures):,}", end="", file=sys.stderr, flush=True)
        store.checkpoint()
    print(file=sys.stderr)
    return max(0, pictures - have) / (time.perf_counter() - started)


def rss() -> int:
    """Resident memory of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def index_bytes(index: HammingIndex) -> int:
    """The arrays of a scanned index (no listings): what is taken off the measured memory for the
    reference scan held beside the index measured."""
    tables = (index._content, index._variant)  # noqa: SLF001 - a benchmark's look inside
    return sum(table.hashes.nbytes + table.items.nbytes + table.alive.nbytes + table.row_of.nbytes
               for table in tables)


def table_sizes(path: str, pictures: int) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6").fetchall()
        except sqlite3.OperationalError:
            return "(no dbstat in this SQLite)"
    return ", ".join(f"{name} {size / pictures:,.0f}" for name, size in rows)


Query = tuple[list[int], list[int], list[int], int, int]


def planted_queries(rng: np.random.Generator, stored: dict[int, tuple[int, list[int]]], count: int,
                    radii: tuple[int, int], windows: bool = True) -> list[Query]:
    """(forms, variants, mirrored windows, planted item, distance): random probes, one of which is a
    given distance from one stored hash of a stored picture, by relation and distance in turn. Without
    ``windows`` (a large library's index keeps none), content ~ window becomes content ~ rotated view,
    and window ~ window a mirrored window ~ content."""
    queries = []
    items = list(stored)
    for number in range(count):
        forms, variants = rng.integers(0, 2**64, 8, dtype=np.uint64).tolist(), rng.integers(0, 2**64, VARIANTS,
                                                                                            dtype=np.uint64).tolist()
        flipped = rng.integers(0, 2**64, len(WINDOWS), dtype=np.uint64).tolist()
        item = items[number % len(items)]
        content, held = stored[item]
        relation = number % 5 if windows or number % 5 != 3 else 5
        radius = radii[1] if relation in (3, 4) else radii[0]
        distance = (number // 5) % (radius + 1)
        flip = sum(1 << int(bit) for bit in rng.choice(64, distance, replace=False))
        window, turned = int(rng.integers(len(WINDOWS))), int(rng.integers(len(WINDOWS), VARIANTS))
        if relation == 0:
            forms[int(rng.integers(8))] = content ^ flip
        elif relation == 1:
            forms[int(rng.integers(8))] = held[window if windows else turned] ^ flip
        elif relation == 2:
            variants[window] = content ^ flip
        elif relation == 3:
            variants[int(rng.integers(len(WINDOWS)))] = held[window] ^ flip
        elif relation == 4:
            variants[int(rng.integers(len(WINDOWS), VARIANTS))] = held[turned] ^ flip
        else:
            flipped[int(rng.integers(len(WINDOWS)))] = content ^ flip
        queries.append((forms, variants, flipped, item, distance))
    return queries


def search_figures(path: str, pictures: int, queries: int, rng: np.random.Generator, keypoints: bool) -> None:
    settings = MatchSettings()
    before = rss()
    started = time.perf_counter()
    first = indexed_variants_from(settings, pictures)  # the matcher's, at this size
    index = new_neighbour_index(first)
    stored: dict[int, tuple[int, list[int]]] = {}  # the pictures planted near new ones, spread over the library
    stride = max(1, pictures // queries)
    with open_store(path, readonly=True) as store:
        rows = store.index_hashes(first)  # as the daemon reads them
    index.add_many(rows.file_ids, rows.contents, rows.variants, rows.complete)
    for row in range(0, len(rows.file_ids), stride):  # variants not read: 0
        stored[int(rows.file_ids[row])] = (int(rows.contents[row]), [0] * first + rows.variants[row].tolist())
    loaded = time.perf_counter() - started
    index.catch_up()  # lists it, as the daemon's loading does
    listed = time.perf_counter() - started - loaded
    scan = HammingIndex(VARIANTS, OVERLAP_PAIRS, first_variant=first, multi_index_from=2**62)  # the reference
    scan.add_many(rows.file_ids, rows.contents, rows.variants, rows.complete)
    del rows
    memory = rss() - before - index_bytes(scan)  # what the index holds, the loading's buffers let go
    print(f"hash index: loaded in {loaded:.1f} s, listed in {listed:.1f} s, {memory / pictures:,.0f} B of memory"
          " per picture")
    radius, overlap_radius = search_radii(settings, pictures)  # the matcher's, at this size
    asked = {"radius": radius, "limit": settings.candidates + 1, "keep_within": settings.always_within,
             "overlap_radius": overlap_radius}
    planted = planted_queries(rng, stored, queries, (radius, overlap_radius), windows=first == 0)
    times, answers, found, must = [], [], 0, 0
    for forms, variants, flipped, item, distance in planted:
        start = time.perf_counter()
        answer = index.nearest(forms, variants, contained=flipped, **asked)
        times.append((time.perf_counter() - start) * 1000)
        answers.append(answer)
        if distance <= settings.always_within:
            must += 1
            found += any(n.item == item for n in answer)
    print(f"search per new picture (radius {radius}, overlap radius {overlap_radius}, "
          f"{'every variant' if first == 0 else 'no windows'} indexed): p50"
          f" {np.percentile(times, 50):.1f} ms, p99 {np.percentile(times, 99):.1f} ms;"
          f" planted neighbours within {settings.always_within} bits found: {found}/{must}")
    scan_times, same = [], 0
    for (forms, variants, flipped, _, _), answer in zip(planted, answers, strict=True):
        start = time.perf_counter()
        same += scan.nearest(forms, variants, contained=flipped, **asked) == answer
        scan_times.append((time.perf_counter() - start) * 1000)
    print(f"numpy scan of the same hashes (XOR + popcount): p50 {np.percentile(scan_times, 50):.1f} ms,"
          f" p99 {np.percentile(scan_times, 99):.1f} ms; the same answer for {same}/{len(planted)} new pictures")
    del scan
    bk_tree(index, planted, pictures, radius)
    if keypoints:
        keypoint_figures(path, pictures, rng)


def bk_tree(index: HammingIndex, planted: list, pictures: int, radius: int) -> None:
    """pybktree over the content hashes alone, asked for the content ~ content relation (8 forms)."""
    try:
        import pybktree
    except ImportError:
        print("BK-tree: pybktree is not installed (pip install -e '.[bench]')")
        return
    contents = index._content.hashes[:index._content.size, 0].tolist()  # noqa: SLF001 - a benchmark's look inside
    started = time.perf_counter()
    tree = pybktree.BKTree(lambda a, b: (a ^ b).bit_count(), contents)
    built = time.perf_counter() - started
    times = []
    for forms, *_ in planted[:20]:
        start = time.perf_counter()
        for form in forms:
            tree.find(form, radius)
        times.append((time.perf_counter() - start) * 1000)
    print(f"BK-tree (pybktree) over the {pictures:,} content hashes only, content ~ content at radius"
          f" {radius}: built in {built:.1f} s, p50 {np.percentile(times, 50):.1f} ms a new picture")


def keypoint_figures(path: str, pictures: int, rng: np.random.Generator) -> None:
    before, started = rss(), time.perf_counter()
    keypoints = DescriptorIndex()
    with open_store(path, readonly=True) as store, keypoints.bulk():
        for file_ids, found in store.index_features(INDEXED):
            keypoints.add_many(file_ids, found.counts, found.descriptors, found.pixels)
    loaded, memory = time.perf_counter() - started, rss() - before
    times = []
    for _ in range(20):
        descriptors = rng.integers(0, 256, (512, 32), dtype=np.uint8)
        points = rng.random((512, 2), dtype=np.float32) * 480
        start = time.perf_counter()
        keypoints.search(descriptors, points, mirrored_from=256, min_votes=MatchSettings().min_votes, limit=8)
        times.append((time.perf_counter() - start) * 1000)
    print(f"keypoint index: loaded in {loaded:.1f} s, {memory / pictures:,.0f} B of memory per picture;"
          f" search p50 {np.percentile(times, 50):.1f} ms, p99 {np.percentile(times, 99):.1f} ms a new picture")


def launch_figures(path: str) -> None:
    """Seconds from launch to the daemon's READY=1, to a `neardupd query` it answers while its
    indexes load and to one it answers with them loaded, and to an answer of `query --local`
    (which loads them itself)."""
    command = [sys.executable, "-m", "neardupd.cli"]
    query = [*command, "query", "--db", path, str(CAMERA_PHOTO)]
    started = time.perf_counter()
    subprocess.run([*query, "--local"], cwd=REPO, capture_output=True)
    local = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(os.path.join(tmp, "notify"))
        listener.settimeout(600)
        os.mkdir(os.path.join(tmp, "photos"))
        env = {**os.environ, "NOTIFY_SOCKET": os.path.join(tmp, "notify")}
        started = time.perf_counter()
        with open(os.path.join(tmp, "log"), "w+") as log:
            daemon = subprocess.Popen([*command, "run", "--db", path, "--root", os.path.join(tmp, "photos")],
                                      cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log)
            try:
                while b"READY=1" not in listener.recv(4096):
                    pass
                ready = time.perf_counter() - started
                subprocess.run(query, cwd=REPO, capture_output=True)
                first = time.perf_counter() - started
                again = time.perf_counter()
                subprocess.run(query, cwd=REPO, capture_output=True)
                loaded = time.perf_counter() - again
            finally:
                daemon.terminate()
                daemon.wait(60)
                listener.close()
            log.seek(0)
            said = [line.strip() for line in log if "loaded in" in line]
    print(f"launch: the daemon said READY=1 after {ready:.1f} s ({said[0] if said else 'no loading line'});"
          f" a `neardupd query` sent then was answered {first:.1f} s after launch, one sent once loaded in"
          f" {loaded:.2f} s; `neardupd query --local` took {local:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pictures", type=int)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--db", help="the database to write (kept) or measure (default: a temporary one)")
    parser.add_argument("--no-launch", action="store_true", help="skip the query and daemon launches")
    parser.add_argument("--no-keypoints", action="store_true",
                        help="pictures without keypoints (a million pictures' keypoint index needs ~14 GB)")
    args = parser.parse_args()
    rng = np.random.default_rng(12)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or os.path.join(tmp, "scale.sqlite")
        rate = write_database(path, args.pictures, rng, not args.no_keypoints)
        with open_store(path, readonly=True) as store:
            pictures = store.counts()["files"]
        size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
        written = f"{rate:,.0f} written a second" if rate else "as it was"
        print(f"{pictures:,} pictures ({written}); database {size / pictures:,.0f} B a picture:"
              f" {table_sizes(path, pictures)}")
        search_figures(path, pictures, args.queries, rng, not args.no_keypoints)
        if not args.no_launch:
            launch_figures(path)


if __name__ == "__main__":
    main()
