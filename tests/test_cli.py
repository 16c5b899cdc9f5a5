"""The command line, run as a real subprocess."""

from __future__ import annotations

import json
import shutil

from neardupd import report


def _library(tmp_path, data):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("aaa-orig.jpg", "high-contrast.jpg", "square-256x256.jpg"):
        shutil.copy(data / "edits" / name, folder / name)
    shutil.copy(data / "dihedral/bridge-6-flipy.jpg", folder / "flipped.jpg")
    shutil.copy(data / "edits/aaa-orig.jpg", folder / "exact-copy.jpg")
    shutil.copy(data / "camera/jolla.jpg", folder / "stranger.jpg")
    shutil.copy(data / "hostile/truncated-12mp.jpg", folder / "cut.jpg")
    return folder


def test_scan_then_dupes_json(tmp_path, data, cli):
    folder = _library(tmp_path, data)
    db = tmp_path / "index.sqlite"
    scanned = cli("scan", "--db", str(db), str(folder))
    assert "6 indexed" in scanned.stdout and "1 failed" in scanned.stdout
    lines = cli("dupes", "--db", str(db), "--json").stdout.splitlines()
    pairs = [json.loads(line) for line in lines]
    assert len(pairs) == 10  # 5 pictures of the bridge, all pairs
    assert all({"a", "b", "score", "kind", "transform"} <= set(p) for p in pairs)
    assert all(0.0 <= p["score"] <= 1.0 for p in pairs)
    assert not any("stranger" in p["a"] + p["b"] for p in pairs)
    exact = [p for p in pairs if p["kind"] == "exact"]
    assert len(exact) == 1 and {exact[0]["a"], exact[0]["b"]} == {str(folder / "aaa-orig.jpg"),
                                                                      str(folder / "exact-copy.jpg")}
    flipped = [p for p in pairs if "flipped" in p["a"] + p["b"] and p["kind"] != "exact"]
    assert all(p["kind"] == "modified" and "mirror" in p["transform"] for p in flipped)
    kinds = {p["kind"] for p in map(json.loads, cli("dupes", "--db", str(db), "--json", "--kind", "exact")
                                    .stdout.splitlines())}
    assert kinds == {"exact"}


def test_min_score_can_show_weaker_candidates(tmp_path, data, cli):
    folder = _library(tmp_path, data)
    db = tmp_path / "index.sqlite"
    cli("scan", "--db", str(db), str(folder))
    default = [json.loads(line) for line in cli("dupes", "--db", str(db), "--json").stdout.splitlines()]
    everything = [json.loads(line) for line in
                  cli("dupes", "--db", str(db), "--json", "--min-score", "0").stdout.splitlines()]
    threshold = min(p["score"] for p in default)
    assert threshold >= 0.65  # the index's match_threshold
    assert all(p in everything for p in default)
    assert all(p["score"] < 0.65 for p in everything if p not in default)
    text = cli("dupes", "--db", str(db)).stdout
    assert text.startswith("group 1: 5 files")


def test_database_location_from_environment_and_xdg(tmp_path, data, cli):
    folder = _library(tmp_path, data)
    via_env = tmp_path / "env.sqlite"
    cli("scan", str(folder), env={"NEARDUPD_DB": str(via_env)})
    assert via_env.exists()
    home = tmp_path / "xdg"
    cli("scan", str(folder), env={"NEARDUPD_DB": "", "XDG_DATA_HOME": str(home)})
    assert (home / "neardupd" / "index.sqlite").exists()


def test_compare_two_and_a_matrix(data, cli):
    two = cli("compare", str(data / "edits/aaa-orig.jpg"), str(data / "edits/blur-a-little.jpg"))
    score = float(two.stdout.split()[0])
    assert score > 0.8
    stranger = cli("compare", str(data / "edits/aaa-orig.jpg"), str(data / "camera/jolla.jpg"))
    assert float(stranger.stdout.split()[0]) < 0.5
    matrix = cli("compare", str(data / "edits/aaa-orig.jpg"), str(data / "dihedral/bridge-2-rotate-90.jpg"),
                     str(data / "camera/jolla.jpg")).stdout.splitlines()
    assert matrix[0].startswith("[0] ") and len(matrix) == 3 + 1 + 3
    row0 = [float(v) for v in matrix[4].split()[1:]]
    assert row0[0] == 1.0 and row0[1] > 0.8 and row0[2] < 0.5


def test_query_finds_what_is_indexed_without_adding_it(tmp_path, data, cli):
    folder = _library(tmp_path, data)
    db = tmp_path / "index.sqlite"
    cli("scan", "--db", str(db), str(folder))
    found = cli("query", "--db", str(db), "--json", str(data / "edits/sharpen-a-lot.jpg"))
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert {h["a"] for h in hits} >= {str(folder / "aaa-orig.jpg"), str(folder / "high-contrast.jpg")}
    missing = cli("query", "--db", str(db), str(data / "orientation/landscape_1.jpg"), check=False)
    assert missing.returncode == 1 and "no copy" in missing.stdout
    counts = cli("scan", "--db", str(db), str(folder)).stdout
    assert "6 images" in counts


def test_errors_are_one_line_with_a_non_zero_exit(tmp_path, data, cli):
    db = tmp_path / "not-a-db.sqlite"
    db.write_text("this is not sqlite")
    result = cli("scan", "--db", str(db), str(data / "edits"), check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and str(db) in result.stderr
    unreadable = cli("compare", str(data / "hostile/empty.jpg"), str(data / "edits/aaa-orig.jpg"), check=False)
    assert unreadable.returncode != 0 and "empty" in unreadable.stderr and "Traceback" not in unreadable.stderr


def test_a_large_index_is_said_to_be_loading_and_a_small_one_is_not():
    assert report.loading_line(report.LOADING_SAID_FROM - 1) is None
    assert report.loading_line(250_000) == "loading the index of 250,000 pictures (about 50 s)..."
