"""Decisions said once and kept: a pair said not to be a duplicate never comes back, after rescans,
moves and renames (keyed on content digests), in `dupes` and in the public `duplicate_pairs` view."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from neardupd.store import open_store


@pytest.fixture()
def library(edited_library):
    return edited_library


def _pairs(cli, db) -> set[frozenset[str]]:
    lines = cli("dupes", "--db", str(db), "--json").stdout.splitlines()
    return {frozenset(name.rsplit("/", 1)[-1] for name in (pair["a"], pair["b"])) for pair in map(json.loads, lines)}


def _view_pairs(db) -> set[frozenset[str]]:
    """What another program reading the database sees."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT path_a, path_b FROM duplicate_pairs").fetchall()
    return {frozenset(path.rsplit("/", 1)[-1] for path in row) for row in rows}


def test_a_pair_said_not_a_duplicate_never_comes_back(library, cli):
    folder, db = library
    both = frozenset({"orig.jpg", "crop.jpg"})
    assert both in _pairs(cli, db) and both in _view_pairs(db)
    said = cli("decide", "not-duplicate", "--db", str(db), str(folder / "orig.jpg"), str(folder / "crop.jpg"))
    assert "1 pair(s)" in said.stdout
    assert both not in _pairs(cli, db) and both not in _view_pairs(db)
    assert frozenset({"orig.jpg", "half.jpg"}) in _pairs(cli, db)  # only that pair
    shutil.move(folder / "crop.jpg", folder / "moved.jpg")  # a move, then a rescan: the decision holds
    cli("scan", "--db", str(db), str(folder))
    assert frozenset({"orig.jpg", "moved.jpg"}) not in _pairs(cli, db) | _view_pairs(db)
    listed = cli("decide", "list", "--db", str(db)).stdout
    assert listed.startswith("not a duplicate") and "moved.jpg" in listed
    cli("decide", "forget", "--db", str(db), str(folder / "orig.jpg"), str(folder / "moved.jpg"))
    assert frozenset({"orig.jpg", "moved.jpg"}) in _pairs(cli, db)


def test_a_group_said_not_duplicates_marks_every_pair(library, cli):
    folder, db = library
    cli("decide", "not-duplicate", "--db", str(db), *(str(folder / name) for name in ("orig.jpg", "crop.jpg",
                                                                                     "half.jpg")))
    assert _pairs(cli, db) == set() and _view_pairs(db) == set()


def test_files_kept_or_discarded_are_listed_with_their_paths(library, cli):
    folder, db = library
    cli("decide", "keep", "--db", str(db), str(folder / "orig.jpg"))
    cli("decide", "discard", "--db", str(db), str(folder / "half.jpg"))
    cli("decide", "keep", "--db", str(db), str(folder / "half.jpg"))  # deciding again replaces
    listed = [json.loads(line) for line in cli("decide", "list", "--db", str(db), "--json").stdout.splitlines()]
    assert [(row["decision"], row["paths"][0][0].rsplit("/", 1)[-1]) for row in listed] == [
        ("keep", "orig.jpg"), ("keep", "half.jpg")]


def test_a_file_not_indexed_is_refused_with_what_to_do(library, cli, tmp_path):
    folder, db = library
    stray = tmp_path / "stray.jpg"
    shutil.copy(folder / "orig.jpg", stray)
    refused = cli("decide", "keep", "--db", str(db), str(stray), check=False)
    assert refused.returncode == 1 and "not in the index" in refused.stderr and "neardupd scan" in refused.stderr
    alone = cli("decide", "not-duplicate", "--db", str(db), str(folder / "orig.jpg"), check=False)
    assert alone.returncode == 64


def test_an_index_of_schema_4_is_read_as_it_is_and_upgraded_by_a_writer(old_index):
    db = old_index(4)
    with open_store(db, readonly=True) as store:  # dupes on an index a daemon of 0.4 still writes
        assert store.version == 4 and store.pairs(0.0) == []
    with open_store(db) as store:
        assert store.version >= 5 and store.decisions() == []
