"""`neardupd scan` with a decoder process per core: the same index as decoding in one process, and a
decoder that crashes or hangs costs one file, not the scan. Real files, real processes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

from conftest import run_cli

from neardupd import scanner
from neardupd.config import Config, DaemonSettings
from neardupd.indexer import Indexer
from neardupd.store import open_store
from neardupd.workers import Job, JobStatus, WorkerPool


def _pairs(db: Path) -> set[tuple[str, str, float, str]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT fa.path, fb.path, round(m.score, 6), m.kind FROM matches m "
                                  "JOIN files fa ON fa.id = m.a JOIN files fb ON fb.id = m.b").fetchall()
    return {(min(a, b), max(a, b), score, kind) for a, b, score, kind in rows}


def test_decoder_processes_index_what_one_process_does(tmp_path, data):
    folder = tmp_path / "photos"
    shutil.copytree(data / "edits", folder / "edits")
    shutil.copytree(data / "hostile", folder / "hostile")
    scanned = run_cli("scan", "--db", str(tmp_path / "parallel.sqlite"), str(folder))
    assert "cannot start decoder processes" not in scanned.stderr  # the decoders did the work
    single = tmp_path / "single.sqlite"
    with open_store(single) as store, Indexer(store, Config(database=single)) as indexer:
        in_process = indexer.scan([folder])
    parallel = _pairs(tmp_path / "parallel.sqlite")
    assert len(parallel) >= 66
    assert parallel == _pairs(single)
    assert in_process.counts == {"indexed": 18, "failed": 6}


def test_a_decoder_that_crashes_or_hangs_costs_one_file(tmp_path, data, monkeypatch):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("aaa-orig.jpg", "blur-a-lot.jpg", "sharpen-a-lot.jpg"):
        shutil.copy(data / "edits" / name, folder / name)
    shutil.copy(data / "edits" / "shrink-a-lot.jpg", folder / "poison.jpg")
    shutil.copy(data / "edits" / "high-contrast.jpg", folder / "sleepy.jpg")
    monkeypatch.setenv("NEARDUPD_TEST_FAULTS", "crash=poison*,hang=sleepy*")
    db = tmp_path / "index.sqlite"
    config = Config(database=db, daemon=DaemonSettings(decode_timeout=2.0))
    with open_store(db) as store, Indexer(store, config) as indexer:
        pool = scanner.start_decoders(config)
        assert pool is not None
        try:
            summary = scanner.scan(indexer, [folder], pool=pool)
            again = scanner.scan(indexer, [folder], pool=pool)
        finally:
            pool.stop()
        quarantined = sorted(kind for (kind,) in store.connection.execute("SELECT kind FROM quarantine"))
    assert summary.counts == {"indexed": 3, "quarantined": 2}
    assert quarantined == ["crash", "timeout"]
    assert again.counts == {"unchanged": 3, "quarantined": 2}


def test_a_rescan_of_changed_files_in_decoders_matches_as_one_process_does(tmp_path, data):
    """Files replaced between scans: their old rows leave the searches when the new versions are
    read, not when stored, so later pictures' candidates are those of a scan in one process."""
    folder = tmp_path / "photos"
    shutil.copytree(data / "edits", folder)
    single, parallel = tmp_path / "single.sqlite", tmp_path / "parallel.sqlite"
    with open_store(single) as store, Indexer(store, Config(database=single)) as indexer:
        indexer.scan([folder])
    shutil.copy(single, parallel)
    names = sorted(path.name for path in folder.iterdir())
    for changed, source in ((names[2], names[9]), (names[5], names[0]), (names[11], names[4])):
        shutil.copy(folder / source, folder / changed)  # now a copy of another file
        os.utime(folder / changed, ns=(2_000_000_000 * 10**9, 2_000_000_000 * 10**9))
    with open_store(single) as store, Indexer(store, Config(database=single)) as indexer:
        in_process = indexer.scan([folder])
    config = Config(database=parallel)
    with open_store(parallel) as store, Indexer(store, config) as indexer:
        pool = scanner.start_decoders(config)
        assert pool is not None
        try:
            in_decoders = scanner.scan(indexer, [folder], pool=pool)
        finally:
            pool.stop()
    assert in_process.counts == in_decoders.counts == {"indexed": 3, "unchanged": len(names) - 3}
    assert _pairs(parallel) == _pairs(single)
    assert sum(kind == "exact" for *_, kind in _pairs(parallel)) >= 3
    with sqlite3.connect(parallel) as connection:
        assert connection.execute("SELECT count(*) FROM matches WHERE a NOT IN (SELECT id FROM files) "
                                  "OR b NOT IN (SELECT id FROM files)").fetchone() == (0,)


def test_a_held_picture_is_searched_and_its_replaced_row_is_not(tmp_path, data):
    """Between being read and being stored (its judgements out), a picture is met by the next
    picture's searches under a provisional key, which becomes its file id once stored; the row of
    the file's earlier version is out of the searches and the digest lookups from the start."""
    db = tmp_path / "index.sqlite"
    edits = data / "edits"
    with open_store(db) as store, Indexer(store, Config(database=db)) as indexer:
        indexer.scan([edits / "aaa-orig.jpg"])
        old = store.file_at(os.fsencode(edits / "aaa-orig.jpg"))
        assert old is not None
        analyse = indexer.analyser.analyse
        newer = analyse(os.fsencode(edits / "blur-a-little.jpg"))
        key = indexer.matcher.hold(newer, replacing=old.id)
        same_bytes = indexer.matcher.candidates(analyse(os.fsencode(edits / "aaa-orig.jpg")))
        assert old.id not in same_bytes.found  # its digest no longer counts...
        assert {candidate.other for candidate in same_bytes.proposed} == {key}  # ...nor its hashes
        assert indexer.matcher.match(analyse(os.fsencode(edits / "blur-a-lot.jpg")))[0].other == key
        path = os.fsencode(edits / "blur-a-little.jpg")
        with store.transaction():  # stored, as the indexer stores it (the searches hold only indexed files)
            stored = store.add_file(path, os.path.getsize(path), os.stat(path).st_mtime_ns, newer.file_digest,
                                    newer.pixel_digest, newer.format, newer.picture.width, newer.picture.height,
                                    newer.signature, newer.picture.features)
        indexer.matcher.settle(key, stored)
        later = indexer.matcher.candidates(analyse(os.fsencode(edits / "sharpen-a-lot.jpg")))
        assert [candidate.other for candidate in later.proposed] == [stored]


def _answers(pool: WorkerPool, count: int) -> dict[int, JobStatus]:
    """Each job's status, by key, once ``count`` are in (a lost job: fewer, after 20 s of nothing)."""
    results: dict[int, JobStatus] = {}
    for _ in range(20):
        results.update((result.job.key, result.status) for result in pool.collect(1.0))
        if len(results) == count:
            break
    return results


def test_a_job_queued_behind_a_crash_is_answered_by_the_fresh_decoder(tmp_path, data, monkeypatch):
    """With two jobs sent to one decoder, the second waits in its pipe; when the first kills the
    decoder, the second goes to the one that takes its place, not lost and not blamed."""
    monkeypatch.setenv("NEARDUPD_TEST_FAULTS", "crash=poison*")
    shutil.copy(data / "edits" / "shrink-a-lot.jpg", tmp_path / "poison.jpg")
    config = Config(database=tmp_path / "index.sqlite", daemon=DaemonSettings(workers=1))
    pool = WorkerPool(config)
    try:
        pool.submit(Job(1, os.fsencode(tmp_path / "poison.jpg")), depth=2)
        pool.submit(Job(2, os.fsencode(data / "edits" / "aaa-orig.jpg")), depth=2)
        assert pool.room(2) == 0 and pool.idle() == 0
        results = _answers(pool, 2)
    finally:
        pool.stop()
    assert results == {1: JobStatus.CRASH, 2: JobStatus.OK}
    assert pool.replaced == 1


def test_a_job_sent_to_a_decoder_already_dead_goes_to_the_next(tmp_path, data, monkeypatch):
    """The pipe of a decoder that died on its job is broken: a job sent after it waits for its
    successor instead of failing the scan."""
    monkeypatch.setenv("NEARDUPD_TEST_FAULTS", "crash=poison*")
    shutil.copy(data / "edits" / "shrink-a-lot.jpg", tmp_path / "poison.jpg")
    pool = WorkerPool(Config(database=tmp_path / "index.sqlite", daemon=DaemonSettings(workers=1)))
    try:
        pool.submit(Job(1, os.fsencode(tmp_path / "poison.jpg")), depth=2)
        deadline = time.monotonic() + 30
        while pool.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pool.alive()
        pool.submit(Job(2, os.fsencode(data / "edits" / "aaa-orig.jpg")), depth=2)
        results = _answers(pool, 2)
    finally:
        pool.stop()
    assert results == {1: JobStatus.CRASH, 2: JobStatus.OK}
