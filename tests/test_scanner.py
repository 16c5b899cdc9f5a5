"""`neardupd scan` with a decoder process per core: the same index as decoding in one process, and a
decoder that crashes or hangs costs one file, not the scan. Real files, real processes."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from conftest import run_cli

from neardupd import scanner
from neardupd.config import Config, DaemonSettings
from neardupd.indexer import Indexer
from neardupd.store import open_store


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
