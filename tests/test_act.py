"""The clean-up: the copies go to the quarantine, written down first, and come back byte for byte;
a file changed since it was indexed is refused; an apply killed half-way is undone completely."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from neardupd.review.quarantine import PAUSE_ENV


@pytest.fixture()
def library(edited_library, cli):
    folder, db = edited_library
    shutil.copy(folder / "orig.jpg", folder / "orig (1).jpg")
    cli("scan", "--db", str(db), str(folder))
    return folder, db


def _state(folder) -> dict[str, tuple[str, int]]:
    """Every file below the folder: its content digest and modification time."""
    return {str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_apply_then_undo_gives_back_every_file_byte_for_byte(library, cli):
    folder, db = library
    before = _state(folder)
    plan = json.loads(cli("act", "--plan", "--json", "--db", str(db)).stdout)
    applied = cli("act", "--apply", "--db", str(db))
    assert "3 file(s) moved" in applied.stdout
    assert sorted(_state(folder)) == ["orig.jpg"]  # the keeper stays, the others are in the quarantine
    quarantine = db.parent / "quarantine"
    for path in plan["move"]:
        assert (quarantine / path.lstrip("/")).is_file()
    assert cli("dupes", "--db", str(db)).stdout.strip() == "no copies found"  # out of the index too
    undone = cli("undo", "--db", str(db))
    assert "3 file(s) put back" in undone.stdout
    assert _state(folder) == before
    cli("scan", "--db", str(db), str(folder))
    assert len(cli("dupes", "--db", str(db), "--json").stdout.splitlines()) >= 3


@pytest.fixture()
def other_filesystem(tmp_path):
    """A folder on another filesystem than the library's (/dev/shm, a tmpfs), removed afterwards."""
    shm = "/dev/shm"
    if not os.path.isdir(shm) or not os.access(shm, os.W_OK) or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no writable folder on another filesystem than the test's tmp dir")
    folder = tempfile.mkdtemp(prefix="neardupd-quarantine-", dir=shm)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_quarantine_on_another_filesystem_is_copied_checked_and_undone(library, cli, tmp_path, other_filesystem):
    """A move between filesystems is a copy checked against the digest, then the removal: both ways."""
    folder, db = library
    before = _state(folder)
    config = tmp_path / "elsewhere.toml"
    config.write_text(f'[keep]\nquarantine = "{other_filesystem}"\n')
    plan = json.loads(cli("--config", str(config), "act", "--plan", "--json", "--db", str(db)).stdout)
    applied = cli("--config", str(config), "act", "--apply", "--db", str(db))
    assert "3 file(s) moved" in applied.stdout and sorted(_state(folder)) == ["orig.jpg"]
    for path in plan["move"]:
        moved = os.path.join(other_filesystem, path.lstrip("/"))
        assert os.stat(moved).st_dev != os.stat(folder).st_dev
        digest = hashlib.sha256(pathlib.Path(moved).read_bytes()).hexdigest()
        assert (digest, os.stat(moved).st_mtime_ns) == before[os.path.relpath(path, folder)]
    undone = cli("--config", str(config), "undo", "--db", str(db))
    assert "3 file(s) put back" in undone.stdout and _state(folder) == before
    assert not any(os.path.isfile(os.path.join(other_filesystem, path.lstrip("/"))) for path in plan["move"])


def test_a_file_changed_since_it_was_indexed_is_refused(library, cli):
    folder, db = library
    with open(folder / "half.jpg", "ab") as handle:  # an edit after the scan
        handle.write(b"\0")
    applied = cli("act", "--apply", "--db", str(db), check=False)
    assert applied.returncode == 1 and "half.jpg: changed since it was indexed" in applied.stderr
    assert (folder / "half.jpg").is_file() and "2 file(s) moved" in applied.stdout


def test_an_apply_killed_half_way_is_undone_completely(library, cli):
    folder, db = library
    before = _state(folder)
    apply = subprocess.Popen([sys.executable, "-m", "neardupd.cli", "act", "--apply", "--db", str(db)],
                             env={**os.environ, PAUSE_ENV: "1.5"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_state(folder)) > len(before) - 2:  # until the second has moved
        time.sleep(0.02)
    apply.send_signal(signal.SIGKILL)  # in the pause after the second move, before the journal says so
    apply.communicate()
    assert apply.returncode == -signal.SIGKILL
    assert len(_state(folder)) == len(before) - 2  # two moved, the third still in place
    undone = cli("undo", "--db", str(db))
    assert "2 file(s) put back" in undone.stdout
    assert _state(folder) == before


def test_an_exact_duplicate_can_become_a_hard_link_to_the_kept_file_and_back(library, cli):
    folder, db = library
    before = _state(folder)
    cli("act", "--apply", "--link-exact", "--db", str(db))
    assert os.path.samefile(folder / "orig (1).jpg", folder / "orig.jpg")  # same bytes, no space
    assert not (folder / "crop.jpg").exists()  # not an exact duplicate: moved, no link
    cli("scan", "--db", str(db), str(folder))
    plan = json.loads(cli("act", "--plan", "--json", "--db", str(db)).stdout or "{}")
    assert not any(path.endswith("orig (1).jpg") for path in plan.get("move", []))  # a link frees nothing
    cli("undo", "--db", str(db))
    assert _state(folder) == before
    assert not os.path.samefile(folder / "orig (1).jpg", folder / "orig.jpg")
