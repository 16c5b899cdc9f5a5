"""Hostile files and storage faults: nothing freezes, nothing outside the roots is read, every fault is
one clear line and a prompt exit. Real FIFOs, symlinks, sparse files, mounts (where allowed), users."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from daemon_harness import REPO, DaemonProcess, distinct_picture, mount_tmpfs, wait_until

from neardupd import cli
from neardupd.config import Config, DaemonSettings
from neardupd.guard import missing_verdict, too_many_gone
from neardupd.indexer import Indexer
from neardupd.store import open_store

IS_ROOT = os.geteuid() == 0
NOBODY = 65534


def _scan(db: Path, *paths: Path, timeout: float = 60, config: Path | None = None):
    args = [sys.executable, "-m", "neardupd.cli", *(["--config", str(config)] if config else []),
            "scan", "--db", str(db), *map(str, paths)]
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _as_nobody(work: Callable[[], int]) -> subprocess.CompletedProcess:
    """Run ``work`` in a forked child that is user and group nobody (no exec: the interpreter lives
    under /root here, which nobody may not enter); its exit code, stdout and stderr."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 - read after the child ends
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)  # noqa: SIM115
            logging.basicConfig(force=True, stream=sys.stderr, level=logging.WARNING,
                                format="%(levelname)s %(name)s: %(message)s")
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            code = work()
        except BaseException:  # noqa: BLE001 - reported through stderr and the exit code
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    out.seek(0)
    err.seek(0)
    with out, err:
        return subprocess.CompletedProcess([], os.waitstatus_to_exitcode(status), out.read().decode(),
                                           err.read().decode())


def _cli_as_nobody(*args: str) -> subprocess.CompletedProcess:
    return _as_nobody(lambda: cli.run(list(args)))


def _errors(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as connection:
        return {os.path.basename(path): kind for path, kind in connection.execute("SELECT path, kind FROM errors")}


def _indexed(db: Path) -> set[str]:
    with sqlite3.connect(db) as connection:
        return {os.path.basename(path) for (path,) in connection.execute("SELECT path FROM files")}


# --- 1, 3, 10: only regular files under the roots are opened, the header is read before the hash ---


def test_scan_never_opens_a_fifo_a_device_or_a_file_outside_the_roots(tmp_path):
    root, outside = tmp_path / "photos", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    distinct_picture(1).save(root / "real.png")
    distinct_picture(2).save(outside / "private.png")
    os.mkfifo(root / "x.jpg")
    (root / "zero.jpg").symlink_to("/dev/zero")
    (root / "y.jpg").symlink_to(outside / "private.png")
    os.mkfifo(outside / "trap.jpg")  # opened, it would block the scan for ever
    (root / "trap.jpg").symlink_to(outside / "trap.jpg")
    (root / "inside.png").symlink_to(root / "real.png")  # a link within the root is followed
    db = tmp_path / "index.sqlite"
    result = _scan(db, root, timeout=60)
    assert result.returncode == 0, result.stderr
    assert _indexed(db) == {"real.png", "inside.png"}
    assert _errors(db) == {"x.jpg": "not_regular", "zero.jpg": "outside_roots", "y.jpg": "outside_roots",
                           "trap.jpg": "outside_roots"}
    with sqlite3.connect(db) as connection:  # the link's own size is recorded, never its target's
        size = connection.execute("SELECT size FROM errors WHERE path LIKE '%y.jpg'").fetchone()[0]
    assert size == os.lstat(root / "y.jpg").st_size != os.stat(outside / "private.png").st_size


def test_a_50_gb_sparse_file_named_jpg_is_refused_by_its_header_not_hashed(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    with open(root / "huge.jpg", "wb") as handle:
        handle.write(b"not an image header")
        handle.truncate(50 * 1024**3)
    db = tmp_path / "index.sqlite"
    with open_store(db) as store, Indexer(store, Config(database=db)) as indexer:
        before = _bytes_read()
        summary = indexer.scan([root])
        read = _bytes_read() - before
    assert summary.counts == {"failed": 1}
    assert _errors(db) == {"huge.jpg": "unsupported"}
    assert read < 16 * 1024**2, read  # its header and the database, not 50 GB (hashed whole before)


def _bytes_read() -> int:
    """Bytes this process (all its threads) has read so far."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["rchar"])


def test_a_fifo_moved_into_a_watched_root_freezes_nothing(tmp_path):
    root, incoming = tmp_path / "photos", tmp_path / "I"
    root.mkdir()
    incoming.mkdir()
    os.mkfifo(incoming / "in_fifo")
    os.mkfifo(incoming / "named.jpg")
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [root])
    try:
        daemon.start()
        os.rename(incoming, root / "incoming")
        time.sleep(1.0)
        distinct_picture(5).save(root / "after.png")
        wait_until(lambda: str(root / "after.png") in daemon.indexed(), 30, what="a file after the FIFOs")
        wait_until(lambda: len(daemon.query("SELECT 1 FROM errors WHERE kind = 'not_regular'")) == 2, 10,
                   what="both FIFOs recorded as not regular files")
        assert daemon.query("SELECT count(*) FROM pending") == [(0,)]
        assert daemon.stop(timeout=20) == 0
        daemon.start()  # nothing left to freeze a restart
        wait_until(lambda: daemon.idle(), 20, what="idle after the restart")
        assert daemon.stop(timeout=20) == 0
    finally:
        daemon.close()


def test_the_daemon_does_not_follow_a_symlink_out_of_its_root(tmp_path):
    root, outside = tmp_path / "photos", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    distinct_picture(7).save(outside / "private.png")
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [root])
    try:
        daemon.start()
        (root / "y.png").symlink_to(outside / "private.png")
        distinct_picture(8).save(root / "mine.png")
        wait_until(lambda: daemon.indexed() == {str(root / "mine.png")} and
                   daemon.query("SELECT kind FROM errors") == [("outside_roots",)], 30, what="the link refused")
        assert int(daemon.setting("daemon_decoded") or 0) == 1
    finally:
        daemon.close()


# --- 2, 6: storage faults end in one line and a prompt, non-zero exit ---


def test_a_full_database_disk_is_one_line_and_a_prompt_exit(tmp_path):
    disk = tmp_path / "small-disk"
    disk.mkdir()
    if not IS_ROOT or not mount_tmpfs(disk, "600k"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    root = tmp_path / "photos"
    root.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [root])
    daemon.database = disk / "index.sqlite"
    daemon.write_config([root])
    try:
        daemon.start()
        for seed in range(400):  # ~12 KB of index each: far more than 600 KB
            distinct_picture(seed, size=64).save(root / f"p{seed:04d}.png")
        code = daemon.process.wait(90)
        assert code == 75
        errors = [line for line in daemon.log_text().splitlines() if "ERROR" in line]
        assert len(errors) == 1 and "database disk full: free space on" in errors[0], daemon.log_text()
        assert "Traceback" not in daemon.log_text()
        assert daemon.decoders_left() == []
    finally:
        daemon.close()
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_database_deleted_under_the_daemon_stops_it_loudly(daemon_in, tmp_path):
    daemon, root = daemon_in
    distinct_picture(1).save(root / "a.png")
    wait_until(lambda: len(daemon.indexed()) == 1, 30, what="one file indexed")
    daemon.database.unlink()
    assert daemon.process.wait(20) == 75
    assert "deleted or replaced while the daemon ran" in daemon.log_text()
    assert daemon.decoders_left() == []


def test_decoders_go_with_a_killed_daemon(tmp_path):
    """A decoder busy with a file when the daemon is killed never reads its pipe again: it must be
    ended by the kernel, not linger."""
    root = tmp_path / "photos"
    root.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [root], env={"NEARDUPD_TEST_FAULTS": "hang=sleepy*"})
    try:
        daemon.start()
        distinct_picture(1).save(root / "sleepy.png")
        wait_until(lambda: daemon.query("SELECT count(*) FROM pending") == [(1,)], 30, what="the file queued")
        time.sleep(2.0)  # past the 0.3 s quiet period: a decoder is inside the file (it stays pending till stored)
        daemon.kill()
        assert daemon.decoders_left() == []
        assert "Traceback" not in daemon.log_text()
    finally:
        daemon.close()


@pytest.fixture
def daemon_in(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [root])
    daemon.start()
    yield daemon, root
    daemon.close()


# --- 4, 5: readers, and damaged or foreign databases ---


def _readable_place() -> Path:
    """A folder nobody can reach (pytest's tmp_path is under a 0700 folder of root's)."""
    place = Path(tempfile.mkdtemp(prefix="neardupd-reader-"))
    place.chmod(0o755)
    return place


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run a reader as another user")
def test_a_group_reader_reads_the_index_of_a_stopped_daemon(tmp_path):
    place = _readable_place()
    try:
        state, root = place / "state", place / "photos"
        state.mkdir()
        root.mkdir()
        distinct_picture(1).save(root / "a.png")
        distinct_picture(1).save(root / "b.png")
        daemon = DaemonProcess(state, [root])
        try:
            daemon.start()
            wait_until(lambda: len(daemon.indexed()) == 2 and daemon.idle(), 30, what="indexing")
            assert daemon.stop() == 0
        finally:
            daemon.close()
        os.chown(state, 0, NOBODY)
        state.chmod(0o750)
        for path in state.glob("index.sqlite*"):
            os.chown(path, 0, NOBODY)
            path.chmod(0o640)
        reader = _as_nobody(lambda: _read_files(daemon.database))
        assert reader.returncode == 2, reader.stderr  # the README's recipe: two files
        status = _cli_as_nobody("status", "--db", str(daemon.database))
        assert status.returncode == 3 and "not running" in status.stdout, status.stderr
        dupes = _cli_as_nobody("dupes", "--db", str(daemon.database))
        assert dupes.returncode == 0 and "b.png" in dupes.stdout, dupes.stderr
    finally:
        shutil.rmtree(place, ignore_errors=True)


def _read_files(database: Path) -> int:
    """README's read recipe: the number of indexed files."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    connection.execute("PRAGMA busy_timeout = 10000")
    return connection.execute("SELECT count(*) FROM files").fetchone()[0]


def _indexed_db(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    root.mkdir(exist_ok=True)
    for seed in range(30):
        distinct_picture(seed).save(root / f"p{seed}.png")
    db = tmp_path / "index.sqlite"
    assert _scan(db, root).returncode == 0
    return db


def _one_line(result: subprocess.CompletedProcess, code: int = 65) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["dupes", "status", "check", "failed"])
def test_read_commands_on_a_file_that_is_not_a_database(tmp_path, cli, command):
    bogus = tmp_path / "notes.sqlite"
    bogus.write_bytes(b"just some notes, not SQLite at all\n" * 200)
    assert "not a neardupd index" in _one_line(cli(command, "--db", str(bogus), check=False))


@pytest.mark.parametrize("command", ["dupes", "status", "check", "failed"])
def test_read_commands_refuse_a_newer_schema(tmp_path, cli, command):
    db = _indexed_db(tmp_path)
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA user_version = 999")
    assert "upgrade neardupd" in _one_line(cli(command, "--db", str(db), check=False))


def test_a_damaged_page_is_one_line_for_readers_and_a_problem_for_check(tmp_path, cli):
    db = _indexed_db(tmp_path)
    with sqlite3.connect(db) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
    with open(db, "r+b") as handle:  # garble the pages after the schema's
        for page in range(2, pages):
            handle.seek(page * page_size + 8)
            handle.write(b"\xa5" * 64)
    assert "damaged" in _one_line(cli("dupes", "--db", str(db), check=False))
    checked = cli("check", "--db", str(db), check=False)
    assert checked.returncode == 1 and "PROBLEM: integrity" in checked.stdout, (checked.stdout, checked.stderr)
    assert "Traceback" not in checked.stderr


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run a reader as another user")
def test_a_read_only_copy_of_a_wal_database_without_its_shm_is_one_line(tmp_path):
    place = _readable_place()
    try:
        db = _indexed_db(tmp_path)
        copy = place / "copy.sqlite"
        with sqlite3.connect(db) as connection:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("INSERT INTO meta VALUES ('x', 'y')")  # the WAL has content, -shm exists
            shutil.copy(db, copy)  # the main file only: a WAL database without -wal and -shm
        copy.chmod(0o444)
        place.chmod(0o555)
        assert "-shm" in _one_line(_cli_as_nobody("dupes", "--db", str(copy)))
    finally:
        place.chmod(0o755)
        shutil.rmtree(place, ignore_errors=True)


# --- 7, 8: one deletion guard for scan and the daemon ---


def test_scan_holds_the_rows_of_an_emptied_mount_point(tmp_path, cli):
    root = tmp_path / "share"
    root.mkdir()
    mounted = IS_ROOT and mount_tmpfs(root, "4m")
    try:
        for seed in range(3):
            distinct_picture(seed).save(root / f"p{seed}.png")
        db = tmp_path / "index.sqlite"
        assert cli("scan", "--db", str(db), str(root)).returncode == 0
        if mounted:
            subprocess.run(["umount", str(root)], check=True)
            mounted = False
        else:  # no mount here: the folder emptied looks the same
            for path in root.iterdir():
                path.unlink()
        summary = cli("scan", "--db", str(db), str(root)).stdout
        assert "0 removed" in summary and "3 gone but held as missing" in summary
        assert len(_indexed(db)) == 3
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(root)], capture_output=True)


def test_a_deleted_photo_in_a_small_folder_goes_at_once_and_leaves_dupes(daemon_in, cli):
    daemon, root = daemon_in
    picture = distinct_picture(3)
    for name in ("a.png", "b.png", "c.png"):
        picture.save(root / name)  # three exact copies
    wait_until(lambda: len(daemon.indexed()) == 3 and daemon.idle(), 30, what="three copies indexed")
    (root / "c.png").unlink()  # one of three: a third of the folder, but no accident (held for an hour before)
    wait_until(lambda: daemon.query("SELECT count(*) FROM files") == [(2,)], 15, what="its row deleted")
    listed = cli("dupes", "--db", str(daemon.database)).stdout
    assert "a.png" in listed and "c.png" not in listed


def test_the_guard_holds_many_files_gone_at_once_until_the_grace_period_passes(tmp_path):
    settings = DaemonSettings(missing_grace=3600.0)
    assert not too_many_gone(1, 3, settings) and too_many_gone(25, 30, settings)
    root = tmp_path / "photos"
    root.mkdir()
    for seed in range(30):
        distinct_picture(seed, size=32).save(root / f"p{seed:02d}.png")
    db = tmp_path / "index.sqlite"
    config = Config(database=db)
    with open_store(db) as store, Indexer(store, config) as indexer:
        start = time.time()
        indexer.scan([root], now=start)
        for path in sorted(root.iterdir())[:25]:
            path.unlink()
        summary = indexer.scan([root], now=start + 10)
        assert (summary.removed, summary.held) == (0, 25)
        assert all(os.path.exists(pair.a) and os.path.exists(pair.b) for pair in store.pairs(0.0))
        assert store.status_counts(start)["missing"] == 25
        with store.transaction():  # an hour later, the root healthy all along
            verdict = missing_verdict(store, os.fsencode(root), settings, start + 10 + 3601)
        assert len(verdict.delete) == 25 and verdict.held == 0
        assert indexer.scan([root], now=start + 10 + 3601).removed == 25


# --- 9, 11: limits that fit; the SQLite of Debian 12 ---


def test_a_picture_the_decoder_memory_cannot_hold_is_too_large_in_scan_and_daemon(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    distinct_picture(4, size=2400).save(root / "big.png")  # 5.8 MP: more than 720 MB allows
    distinct_picture(5).save(root / "small.png")
    config = tmp_path / "tight.toml"
    config.write_text("[daemon]\nworker_memory_mb = 720\n")
    db = tmp_path / "scan.sqlite"
    result = _scan(db, root, config=config)
    assert result.returncode == 0, result.stderr
    assert _errors(db) == {"big.png": "too_large"} and _indexed(db) == {"small.png"}
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [root], extra="worker_memory_mb = 720")
    try:
        daemon.start()
        wait_until(lambda: daemon.query("SELECT kind FROM errors") == [("too_large",)], 30, what="too_large")
        assert daemon.query("SELECT count(*) FROM quarantine") == [(0,)]
    finally:
        daemon.close()


def test_status_counts_the_files_due_now_on_this_sqlite(tmp_path, cli):
    db = tmp_path / "index.sqlite"
    with open_store(db) as store, store.transaction():
        store.queue(b"/nowhere/a.jpg", 1, 1, time.time() - 5)
        store.queue(b"/nowhere/b.jpg", 1, 1, time.time() + 3600)
    text = cli("status", "--db", str(db), check=False).stdout
    assert "pending   2 (1 due now)" in text, (sqlite3.sqlite_version, text)


# --- 12: folders that cannot be read are said ---


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run the scan as a user the folder's mode stops")
def test_an_unreadable_subfolder_is_logged(tmp_path):
    place = _readable_place()
    try:
        root = place / "photos"
        (root / "locked").mkdir(parents=True)
        distinct_picture(1).save(root / "locked" / "a.png")
        distinct_picture(2).save(root / "b.png")
        (root / "locked").chmod(0)
        os.chown(place, NOBODY, NOBODY)
        result = _cli_as_nobody("scan", "--db", str(place / "index.sqlite"), str(root))
        assert result.returncode == 0, result.stderr
        assert "locked: cannot list this folder" in result.stderr
    finally:
        shutil.rmtree(place, ignore_errors=True)


def test_sigterm_with_files_in_flight_exits_promptly(daemon_in):
    daemon, root = daemon_in
    for seed in range(60):
        distinct_picture(seed).save(root / f"p{seed:03d}.png")
    time.sleep(0.8)
    daemon.signal(signal.SIGTERM)
    assert daemon.process.wait(25) == 0  # a hang guard; how long stopping takes is not measured here
    assert daemon.decoders_left() == []
