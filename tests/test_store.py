"""The SQLite index: migrations, readers, non-UTF-8 names, renames, deletions, errors."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neardupd import thumb_file
from neardupd.config import Config
from neardupd.decode import read_stream
from neardupd.errors import DamagedRowError, SchemaTooNewError, StoreError
from neardupd.indexer import Indexer, Outcome
from neardupd.signature import ROTATIONS, THUMB, WINDOWS
from neardupd.store import HashRows, load_migrations, open_store


class CountingDecoder:
    """The real reader (Pillow's decode), counting its calls (a seam injected through the constructor)."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, handle, path, **kwargs):
        self.calls.append(os.fsencode(path))
        return read_stream(handle, path, **kwargs)


def _indexer(db: Path, decoder=read_stream):
    store = open_store(db)
    return store, Indexer(store, Config(database=db), reader=decoder)


def test_migration_from_empty_sets_the_latest_version(tmp_path):
    with open_store(tmp_path / "new.sqlite") as store:
        assert store.version == load_migrations()[-1][0]
        tables = {row[0] for row in store.connection.execute("SELECT name FROM sqlite_master")}
        assert {"files", "signatures", "hashes", "errors", "matches", "duplicate_pairs", "duplicate_groups"} <= tables
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_every_migration_sets_its_version(tmp_path):
    for version, sql in load_migrations():
        assert f"PRAGMA user_version = {version};" in sql


def test_reopening_is_idempotent_and_a_newer_schema_is_refused(tmp_path):
    db = tmp_path / "index.sqlite"
    with open_store(db) as store:
        version = store.version
    with open_store(db) as store:
        assert store.version == version
        store.connection.execute(f"PRAGMA user_version = {version + 1}")
    with pytest.raises(SchemaTooNewError) as caught:
        open_store(db)
    assert "upgrade neardupd" in str(caught.value)


@pytest.fixture()
def odd_names(tmp_path, data):
    """A folder with a photo whose name is not UTF-8 and a copy of it: (folder, the odd name's bytes)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    odd = os.path.join(os.fsencode(folder), b"caf\xe9-\xff.jpg")
    with open(odd, "wb") as out:
        out.write((data / "edits/aaa-orig.jpg").read_bytes())
    shutil.copy(data / "edits/high-contrast.jpg", folder / "contrast.jpg")
    return folder, odd


def test_non_utf8_file_names_are_indexed_and_matched(tmp_path, odd_names):
    folder, odd = odd_names
    store, indexer = _indexer(tmp_path / "index.sqlite")
    with store, indexer:
        summary = indexer.scan([folder])
        assert summary.counts == {"indexed": 2}
        row = store.connection.execute("SELECT path, path_bytes FROM files WHERE path_bytes = ?", (odd,)).fetchone()
        assert row[1] == odd and "\ufffd" in row[0]
        assert len(store.pairs(float(store.setting("match_threshold")))) == 1


def test_rescan_after_rename_and_move_decodes_nothing(tmp_path, data):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ("aaa-orig.jpg", "blur-a-lot.jpg", "shrink-a-lot.jpg"):
        shutil.copy(data / "edits" / name, folder / name)
    decoder = CountingDecoder()
    store, indexer = _indexer(tmp_path / "index.sqlite", decoder)
    with store, indexer:
        indexer.scan([folder])
        assert len(decoder.calls) == 3
        ids_before = {row[0] for row in store.connection.execute("SELECT id FROM files")}
        pairs_before = len(store.pairs(float(store.setting("match_threshold"))))
        (folder / "aaa-orig.jpg").rename(folder / "sub" / "renamed.jpg")
        (folder / "blur-a-lot.jpg").rename(folder / "blurred.jpg")
        summary = indexer.scan([folder])
        assert len(decoder.calls) == 3, decoder.calls[3:]
        assert summary.counts == {"moved": 2, "unchanged": 1}
        assert {row[0] for row in store.connection.execute("SELECT id FROM files")} == ids_before
        assert len(store.pairs(float(store.setting("match_threshold")))) == pairs_before > 0
        assert store.file_at(os.fsencode(folder / "sub" / "renamed.jpg")) is not None


def test_unchanged_files_are_skipped_and_deleted_files_forgotten(tmp_path, data):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(data / "edits/aaa-orig.jpg", folder / "a.jpg")
    shutil.copy(data / "edits/sharpen-a-little.jpg", folder / "b.jpg")
    decoder = CountingDecoder()
    store, indexer = _indexer(tmp_path / "index.sqlite", decoder)
    with store, indexer:
        indexer.scan([folder])
        assert indexer.scan([folder]).counts == {"unchanged": 2}
        (folder / "b.jpg").unlink()
        summary = indexer.scan([folder])
        assert summary.removed == 1
        assert store.counts() == {"files": 1, "errors": 0, "pairs": 0}
        assert store.connection.execute("SELECT count(*) FROM matches").fetchone()[0] == 0
        assert store.connection.execute("SELECT count(DISTINCT file_id) FROM hashes").fetchone()[0] == 1
        assert len(decoder.calls) == 2


def test_a_changed_file_is_indexed_again(tmp_path, data):
    folder = tmp_path / "photos"
    folder.mkdir()
    target = folder / "a.jpg"
    shutil.copy(data / "edits/aaa-orig.jpg", target)
    store, indexer = _indexer(tmp_path / "index.sqlite")
    with store, indexer:
        indexer.scan([folder])
        digest_before = store.file_at(os.fsencode(target)).file_digest
        shutil.copy(data / "camera/jolla.jpg", target)
        assert indexer.index_file(os.fsencode(target)) is Outcome.INDEXED
        assert store.file_at(os.fsencode(target)).file_digest != digest_before
        assert store.counts()["files"] == 1


def test_bad_files_are_recorded_and_the_scan_goes_on(tmp_path, data):
    store, indexer = _indexer(tmp_path / "index.sqlite")
    with store, indexer:
        summary = indexer.scan([data / "hostile"])
        assert summary.counts["failed"] == 6 and summary.counts["indexed"] == 6
        kinds = dict(store.connection.execute("SELECT path, kind FROM errors").fetchall())
        assert kinds[str(data / "hostile/truncated-12mp.jpg")] == "truncated"
        assert kinds[str(data / "hostile/bomb-20000x20000.png")] == "too_large"
        assert all(message for (message,) in store.connection.execute("SELECT message FROM errors"))
        assert indexer.scan([data / "hostile"]).counts == {"failed": 6, "unchanged": 6}


def test_readers_open_read_only_while_the_writer_holds_the_database(tmp_path, data):
    db = tmp_path / "index.sqlite"
    store, indexer = _indexer(db)
    with store, indexer:
        indexer.scan([data / "dihedral"])
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        assert reader.execute("SELECT count(*) FROM duplicate_pairs").fetchone()[0] == 28
        groups = reader.execute("SELECT count(DISTINCT group_id), count(*) FROM duplicate_groups").fetchone()
        assert groups == (1, 8)
        with pytest.raises(sqlite3.OperationalError):
            reader.execute("DELETE FROM files")
        reader.close()


def test_integrity_and_foreign_keys_hold_after_a_scan(data_index):
    connection = sqlite3.connect(data_index)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    duplicate_pairs = connection.execute(
        "SELECT count(*) FROM (SELECT a, b FROM matches GROUP BY a, b HAVING count(*) > 1)").fetchone()[0]
    assert duplicate_pairs == 0
    connection.close()


def test_json_gives_the_exact_bytes_of_a_name_that_is_not_utf8(tmp_path, odd_names, cli):
    """A script can open the file `dupes --json` names, even when the name is not UTF-8."""
    import base64
    import json

    folder, odd = odd_names
    db = tmp_path / "index.sqlite"
    cli("scan", "--db", str(db), str(folder))
    pair = json.loads(cli("dupes", "--db", str(db), "--json").stdout)
    named = [base64.b64decode(pair[f"{side}_b64"]) for side in ("a", "b") if f"{side}_b64" in pair]
    assert named == [odd] and os.path.isfile(named[0])
    assert "contrast.jpg" in pair["a"] + pair["b"] and "\ufffd" in pair["a"] + pair["b"]
    plan = json.loads(cli("act", "--plan", "--json", "--db", str(db)).stdout)
    assert odd in [base64.b64decode(path) for path in plan["move_b64"]] + [base64.b64decode(plan.get("keep_b64", ""))]


def test_hash_rows_are_grouped_per_picture_whatever_order_they_are_read_in(data_index):
    """The neighbour index's bulk read: each picture's content hash and its 42 variants in order
    (windows, then rotations), a picture without variants marked so; from a real scan and a
    shuffled table with a picture lacking variants and hashes past 2**63."""
    with open_store(data_index, readonly=True) as store:
        rows = store.index_hashes()
    with sqlite3.connect(data_index) as db:
        for file_id, content, variants, complete in zip(rows.file_ids.tolist(), rows.contents.tolist(),
                                                        rows.variants.tolist(), rows.complete.tolist(), strict=True):
            stored = db.execute("SELECT kind, form, hash FROM hashes WHERE file_id = ? AND "
                                "(kind != 'content' OR form = 0) ORDER BY kind = 'rotation', kind = 'window', form",
                                (file_id,)).fetchall()
            assert [value % 2**64 for _, _, value in stored] == [content, *(variants if complete else [])]
    assert rows.variants.shape[1] == 42 and 0 < rows.complete.sum() < len(rows.complete)  # tiny ones have none
    table = [(5, 0, 0, -1), (5, 0, 3, 7)] + [(9, 0, 0, 2)] + [(9, 1, form, form) for form in range(3)] + [(9, 2, 0, -5)]
    grouped = HashRows.grouped(np.array(table[::-1] + [(4, 0, 0, 11)], dtype=np.int64))
    assert grouped.file_ids.tolist() == [4, 5, 9] and grouped.contents.tolist() == [11, 2**64 - 1, 2]
    assert grouped.variants[2].tolist() == [0, 1, 2, 2**64 - 5] and grouped.complete.tolist() == [False, False, True]


def test_old_indexes_are_read_as_they_are_and_upgraded_to_one_row_of_hashes_and_webp_thumbs(old_index, data_index):
    """A version-7 index (its tables made by migrations 1-7, its rows those of a real scan, thumbs raw):
    read as it is, then upgraded in place (v8: one B-tree by file, no index by value; v9: a row of 50
    hashes a picture; v10: WebP thumbs). The neighbour index reads the same hashes either way,
    ``hashes`` still gives every row (a view now), and files deleted later take their hashes with
    them. Each thumb is read back as a new picture's would be, from a WebP file any library opens."""
    db = old_index(7)
    with sqlite3.connect(db) as old:
        old.create_function("raw", 1, lambda webp: thumb_file.unpack(webp).tobytes())
        old.execute(f"ATTACH DATABASE '{data_index}' AS scanned")
        for table in ("files", "signatures", "hashes"):
            columns = ", ".join(row[1] for row in old.execute(f"PRAGMA main.table_info({table})"))
            old.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns.replace(' thumb,', ' raw(thumb),')} "
                        f"FROM scanned.{table}")
        before = old.execute("SELECT * FROM hashes ORDER BY file_id, kind, form").fetchall()
        raw = dict(old.execute("SELECT file_id, thumb FROM signatures"))
    assert raw and {len(thumb) for thumb in raw.values()} == {THUMB * THUMB}
    with open_store(db, readonly=True) as reader:
        as_it_was = reader.index_hashes()
        rotations_only = reader.index_hashes(len(WINDOWS))  # what a large library's index reads
        assert all(reader.picture(file_id).thumb.tobytes() == thumb for file_id, thumb in raw.items())
    with open_store(db) as store:
        assert store.version == len(load_migrations()) >= 10
        rows = store.index_hashes()
        assert (store.index_hashes(len(WINDOWS)).variants == rows.variants[:, len(WINDOWS):]).all()
        for file_id, thumb in raw.items():
            stored = thumb_file.as_stored(np.frombuffer(thumb, np.uint8).reshape(THUMB, THUMB))[1]
            assert np.array_equal(store.picture(file_id).thumb, stored)
        gone = int(rows.file_ids[0])
        store.connection.execute("DELETE FROM files WHERE id = ?", (gone,))
    for field in ("file_ids", "contents", "variants", "complete"):
        assert (getattr(rows, field) == getattr(as_it_was, field)).all()
    assert rotations_only.variants.shape[1] == len(ROTATIONS) and (rotations_only.complete == rows.complete).all()
    assert (rotations_only.variants == rows.variants[:, len(WINDOWS):]).all()
    with sqlite3.connect(db) as upgraded:
        webp = dict(upgraded.execute("SELECT file_id, thumb FROM signatures"))
        after = upgraded.execute("SELECT * FROM hashes ORDER BY file_id, kind, form").fetchall()
        kinds = dict(upgraded.execute("SELECT name, type FROM sqlite_master WHERE name IN ('hashes', 'hash_rows')"))
        pictures = upgraded.execute("SELECT count(*), count(window0) FROM hash_rows").fetchone()
        assert kinds == {"hashes": "view", "hash_rows": "table"}
        assert pictures == (len(rows.file_ids) - 1, rows.complete[1:].sum())  # tiny ones: no windows
    assert after == [row for row in before if row[0] != gone] and len(after) < len(before)
    assert sum(map(len, webp.values())) < sum(map(len, raw.values())) / 2
    with Image.open(io.BytesIO(next(iter(webp.values())))) as opened:
        assert (opened.format, opened.size) == ("WEBP", (THUMB, THUMB))
    with open_store(data_index, readonly=True) as scanned:
        again = scanned.index_hashes()
    assert (rows.file_ids == again.file_ids).all() and (rows.variants == again.variants).all()


def test_an_upgrade_that_meets_a_thumb_of_the_wrong_length_changes_nothing(old_index):
    """A raw thumb that is not thumb_size x thumb_size stops the upgrade to v10 before any is converted."""
    db = old_index(9)
    with sqlite3.connect(db) as old:
        for file_id, length in ((1, THUMB * THUMB), (2, 100)):
            old.execute("INSERT INTO files (id, path, path_bytes, size, mtime_ns, file_digest, pixel_digest, format, "
                        "width, height, indexed_at) VALUES (?, ?, ?, 1, 1, X'00', X'01', 'JPEG', 1, 1, "
                        "'2026-12-06T00:00:00Z')", (file_id, f"/{file_id}.jpg", f"/{file_id}.jpg".encode()))
            old.execute("INSERT INTO signatures (file_id, phash, content_left, content_top, content_right, "
                        "content_bottom, contrast, mean_r, mean_g, mean_b, thumb_size, thumb) "
                        "VALUES (?, 0, 0, 0, 1, 1, 9, 1, 1, 1, ?, zeroblob(?))", (file_id, THUMB, length))
    with pytest.raises(StoreError, match="CHECK constraint failed"):
        open_store(db)
    with sqlite3.connect(db) as still:
        assert still.execute("PRAGMA user_version").fetchone()[0] == 9
        lengths = still.execute("SELECT length(thumb) FROM signatures ORDER BY file_id").fetchall()
        assert lengths == [(THUMB * THUMB,), (100,)]


def test_an_upgrade_that_would_lose_a_hash_changes_nothing(old_index):
    """A hash with no column to go to (a form past the 36 windows) stops the upgrade to v9, whole."""
    db = old_index(8)
    with sqlite3.connect(db) as old:
        old.execute("INSERT INTO files (id, path, path_bytes, size, mtime_ns, file_digest, pixel_digest, format, "
                    "width, height, indexed_at) VALUES (1, '/a.jpg', X'2f612e6a7067', 1, 1, X'00', X'01', 'JPEG', "
                    "1, 1, '2026-12-06T00:00:00Z')")
        old.execute("INSERT INTO hashes VALUES (1, 'content', 0, 5), (1, 'window', 36, 6)")
    with pytest.raises(StoreError, match="CHECK constraint failed"):
        open_store(db)
    with sqlite3.connect(db) as still:
        assert still.execute("PRAGMA user_version").fetchone()[0] == 8
        assert still.execute("SELECT count(*) FROM hashes").fetchone()[0] == 2


def test_a_damaged_thumb_drops_its_picture_from_the_searches_and_the_scan_goes_on(tmp_path, data, cli):
    """A thumb that is no WebP file, or one of another size, is a damaged row: a scan that meets it
    as a candidate warns, leaves it out and still finds the other copies."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("aaa-orig.jpg", "shrink-a-little.jpg"):
        shutil.copy(data / "edits" / name, folder / name)
    db = tmp_path / "index.sqlite"
    cli("scan", "--db", str(db), str(folder))
    small = thumb_file.pack(np.zeros((32, 48), np.uint8))
    with sqlite3.connect(db) as damaged:
        rows = damaged.execute("SELECT file_id FROM signatures ORDER BY file_id").fetchall()
        for (file_id,), thumb in zip(rows, (b"RIFF\0\0\0\0WEBP damaged", small), strict=True):
            damaged.execute("UPDATE signatures SET thumb = ? WHERE file_id = ?", (thumb, file_id))
    with open_store(db, readonly=True) as store:
        for (file_id,) in rows:
            with pytest.raises(DamagedRowError, match=f"file id {file_id}'s thumb cannot be read"):
                store.picture(file_id)
    shutil.copy(data / "edits/shrink-a-lot.jpg", folder / "shrink-a-lot.jpg")
    scanned = cli("-v", "scan", "--db", str(db), str(folder))
    assert scanned.stderr.count("thumb cannot be read") == 2 and "dropped from the searches" in scanned.stderr
    found = cli("query", "--db", str(db), "--local", str(data / "edits/shrink-a-lot.jpg"))
    assert "shrink-a-lot.jpg" in found.stdout
