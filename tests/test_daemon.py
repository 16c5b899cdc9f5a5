"""`neardupd run`: a real daemon subprocess, real files, real signals, a real sd_notify socket."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from daemon_harness import REPO, DaemonProcess, distinct_picture, mount_tmpfs, wait_until


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    photos = tmp_path / "photos"
    photos.mkdir()
    return photos


@pytest.fixture
def daemon(tmp_path: Path, folder: Path):
    state = tmp_path / "state"
    state.mkdir()
    process = DaemonProcess(state, [folder])
    yield process
    process.close()


def _pictures(folder: Path, count: int, first: int = 0, prefix: str = "p") -> list[Path]:
    paths = []
    for seed in range(first, first + count):
        path = folder / f"{prefix}{seed:05d}.png"
        distinct_picture(seed).save(path)
        paths.append(path)
    return paths


def test_new_files_appear_and_systemd_hears_of_it(daemon, folder, data):
    daemon.start()
    shutil.copy(data / "camera/jolla.jpg", folder / "jolla.jpg")
    _pictures(folder, 3)
    wait_until(lambda: len(daemon.indexed()) == 4, 60, what="4 files indexed")
    wait_until(lambda: any(m == "WATCHDOG=1" for m in daemon.read_messages()), 10, what="WATCHDOG=1")
    assert any("STATUS=" in m and "indexed" in m for m in daemon.read_messages())
    assert daemon.stop(timeout=30) == 0
    assert any(m.startswith("STOPPING=1") for m in daemon.read_messages())
    assert daemon.setting("daemon_state") == "stopped"


def test_moves_and_renames_decode_nothing(daemon, folder):
    sub = folder / "album"
    sub.mkdir()
    _pictures(sub, 4)
    daemon.start()
    wait_until(lambda: len(daemon.indexed()) == 4 and daemon.idle(), 60, what="first indexing")
    before = dict(daemon.query("SELECT path, id || '@' || indexed_at FROM files"))
    decoded = daemon.setting("daemon_decoded")
    os.rename(sub / "p00000.png", sub / "renamed.png")
    os.rename(sub, folder / "moved-album")
    expected = {str(folder / "moved-album" / name) for name in ("renamed.png", "p00001.png", "p00002.png",
                                                                 "p00003.png")}
    wait_until(lambda: daemon.indexed() == expected and daemon.idle(), 30, what="the moves")
    time.sleep(1.0)  # a heartbeat later
    after = dict(daemon.query("SELECT path, id || '@' || indexed_at FROM files"))
    assert sorted(after.values()) == sorted(before.values())  # same rows, never re-indexed
    assert daemon.setting("daemon_decoded") == decoded


def test_a_file_copied_in_slowly_is_decoded_once_when_complete(tmp_path, folder, data):
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [folder], quiet=1.5)
    try:
        daemon.start()
        source = (data / "camera/iphone_hdr_NO.jpg").read_bytes()
        target = folder / "arriving.jpg"
        with open(target, "wb") as handle:
            for start in range(0, len(source), len(source) // 8):
                handle.write(source[start:start + len(source) // 8])
                handle.flush()
                time.sleep(0.5)  # slower than nothing, faster than the quiet period
        wait_until(lambda: daemon.indexed() == {str(target)}, 30, what="the slow file")
        time.sleep(2.5)
        assert daemon.setting("daemon_decoded") == "1"
        assert daemon.query("SELECT count(*) FROM errors") == [(0,)]
    finally:
        daemon.close()


def test_an_emptied_or_vanished_root_deletes_nothing(daemon, folder, tmp_path):
    _pictures(folder, 5)
    daemon.start()
    wait_until(lambda: len(daemon.indexed()) == 5 and daemon.idle(), 60, what="first indexing")
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in folder.iterdir():  # the share looks empty, as when it is unmounted
        shutil.move(path, aside / path.name)
    wait_until(lambda: daemon.query("SELECT count(*) FROM files WHERE missing_since IS NOT NULL") == [(5,)], 30,
               what="rows held as missing")
    daemon.signal(signal.SIGHUP)  # a reload reconciles: the root is empty
    time.sleep(3.0)
    assert daemon.query("SELECT count(*) FROM files") == [(5,)]
    os.rmdir(folder)  # the root vanishes altogether
    daemon.signal(signal.SIGHUP)
    time.sleep(3.0)
    assert daemon.query("SELECT count(*) FROM files") == [(5,)]
    shutil.move(aside, folder)  # back again: present, not re-decoded
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: len(daemon.indexed()) == 5, 30, what="files present again")
    assert daemon.setting("daemon_decoded") == "5"
    assert daemon.running()


def test_a_deleted_file_loses_its_row_and_a_new_file_at_its_path_is_indexed(daemon, folder, data):
    paths = _pictures(folder, 40)
    daemon.start()
    wait_until(lambda: len(daemon.indexed()) == 40 and daemon.idle(), 60, what="first indexing")
    paths[0].unlink()  # 1 of 40 is below the 5 % guard: deleted at once
    wait_until(lambda: daemon.query("SELECT count(*) FROM files") == [(39,)], 30, what="the row deleted")
    shutil.copy(data / "camera/jolla.jpg", paths[1])  # a new picture at an old path
    wait_until(lambda: daemon.query("SELECT format FROM files WHERE path = ?", (str(paths[1]),)) == [("JPEG",)],
               30, what="the new file at the old path")


def test_a_decoder_that_crashes_or_hangs_quarantines_the_file_and_work_goes_on(tmp_path, folder):
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [folder], extra="decode_timeout = 2.0",
                           env={"NEARDUPD_TEST_FAULTS": "crash=poison*,hang=sleepy*"})
    try:
        _pictures(folder, 1, prefix="poison")
        _pictures(folder, 1, first=1, prefix="sleepy")
        daemon.start()
        good = _pictures(folder, 4, first=10)
        wait_until(lambda: {str(p) for p in good} <= daemon.indexed(), 60, what="the good files")
        wait_until(lambda: len(daemon.query("SELECT kind FROM quarantine")) == 2, 30, what="two quarantined")
        assert sorted(k for (k,) in daemon.query("SELECT kind FROM quarantine")) == ["crash", "timeout"]
        daemon.signal(signal.SIGHUP)  # unchanged quarantined files are not tried again
        time.sleep(3.0)
        assert daemon.running()
        assert int(daemon.setting("daemon_decoded")) == 6
    finally:
        daemon.close()


def test_the_hostile_folder_never_stops_the_daemon(daemon, folder, data):
    shutil.copytree(data / "hostile", folder / "hostile")
    shutil.copytree(data / "broken", folder / "broken")
    files = {str(p) for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}
    daemon.start()
    wait_until(lambda: daemon.idle() and len(daemon.indexed()) > 0, 120, what="the hostile files")

    def accounted() -> set[str]:
        rows = daemon.query("SELECT path FROM files UNION SELECT path FROM errors UNION SELECT path FROM quarantine")
        return {path for (path,) in rows}

    wait_until(lambda: files <= accounted() | _not_images(files), 60, what="every file accounted for")
    assert daemon.running()
    assert daemon.stop() == 0


def _not_images(files: set[str]) -> set[str]:
    """Files the indexer skips as not images at all (no image extension and no image signature)."""
    from neardupd.files import may_be_image as _may_be_image
    return {f for f in files if not _may_be_image(os.fsencode(f))}


@pytest.mark.slow
def test_readers_in_other_processes_never_see_an_error(daemon, folder):
    daemon.start()
    reader = subprocess.Popen([sys.executable, "-c", READER, str(daemon.database), "12"], stdout=subprocess.PIPE,
                              text=True)
    for batch in range(6):
        _pictures(folder, 15, first=batch * 15)
        time.sleep(0.7)
    out, _ = reader.communicate(timeout=60)
    reads, errors = (int(v) for v in out.split())
    assert reads > 50 and errors == 0, out
    wait_until(lambda: len(daemon.indexed()) == 90, 90, what="90 files")


READER = """
import sqlite3, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
reads = errors = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        db.execute("PRAGMA busy_timeout = 10000")
        db.execute("SELECT count(*) FROM files").fetchone()
        db.execute("SELECT count(*) FROM duplicate_pairs").fetchone()
        db.close()
        reads += 1
    except sqlite3.Error as err:
        if "unable to open" not in str(err) and "no such table" not in str(err):
            errors += 1
            print(err, file=sys.stderr)
    time.sleep(0.05)
print(reads, errors)
"""


@pytest.mark.slow
def test_kill_9_during_ingest_always_recovers(tmp_path, folder):
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [folder], quiet=0.2)
    rng = random.Random(7)
    try:
        for round_number in range(20):
            _pictures(folder, 6, first=round_number * 6)
            if round_number % 5 == 4:  # some moves and deletions too
                victim = sorted(folder.glob("p*.png"))[round_number]
                victim.rename(folder / f"moved-{round_number}.png")
            daemon.start(wait_ready=rng.random() < 0.5)
            time.sleep(rng.uniform(0.2, 2.5))
            daemon.kill()
        daemon.start()
        on_disk = {str(p) for p in folder.iterdir()}
        wait_until(lambda: daemon.indexed() == on_disk and daemon.idle(), 120, what="the index to equal the folder")
        assert daemon.query("PRAGMA integrity_check") == [("ok",)]
        assert daemon.query("SELECT count(*) FROM files") == [(len(on_disk),)]
        assert daemon.query("SELECT count(*), count(DISTINCT path_bytes) FROM files")[0] == (len(on_disk),) * 2
        assert daemon.query("SELECT count(*) FROM (SELECT a, b FROM matches GROUP BY a, b HAVING count(*) > 1)") \
            == [(0,)]
        assert daemon.query("PRAGMA foreign_key_check") == []
    finally:
        daemon.close()


def test_a_bad_config_is_one_message_and_exit_78(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[daemon]\nworkers = 0\n")
    result = subprocess.run([sys.executable, "-m", "neardupd.cli", "run", "--config", str(bad)], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 78
    assert "daemon.workers" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    broken = tmp_path / "broken.toml"
    broken.write_text("[daemon\n")
    result = subprocess.run([sys.executable, "-m", "neardupd.cli", "run", "--config", str(broken)], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 78 and "TOML" in result.stderr


def test_sighup_reloads_a_good_config_and_refuses_a_bad_one(daemon, folder, tmp_path):
    daemon.start()
    second = tmp_path / "second"
    second.mkdir()
    _pictures(second, 2, prefix="s")
    daemon.config.write_text(daemon.config.read_text() + "workers = -1\n")  # invalid
    daemon.signal(signal.SIGHUP)
    time.sleep(2.0)
    assert daemon.running() and "config not reloaded" in daemon.log_text()
    daemon.write_config([folder, second])
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: len(daemon.indexed()) == 2, 30, what="the new root indexed")


def test_status_and_check(daemon, folder, cli):
    _pictures(folder, 3)
    daemon.start()
    wait_until(lambda: len(daemon.indexed()) == 3 and daemon.idle(), 60, what="indexing")
    status = cli("status", "--db", str(daemon.database))
    assert "running" in status.stdout and "3 files" in status.stdout
    assert cli("check", "--db", str(daemon.database)).stdout.strip().endswith("ok")
    daemon.stop()
    stopped = cli("status", "--db", str(daemon.database), check=False)
    assert stopped.returncode == 3 and "not running" in stopped.stdout
    with open(folder / "p00001.png", "r+b") as handle:  # same size and mtime, other bytes
        stat = os.stat(handle.fileno())
        handle.seek(60)
        handle.write(b"\x00" * 16)
    os.utime(folder / "p00001.png", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    bad = cli("check", "--db", str(daemon.database), check=False)
    assert bad.returncode == 1 and "digest" in bad.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(tmp_path):
    unit = (REPO / "systemd" / "neardupd.service").read_text()
    executable = shutil.which("neardupd") or str(Path(sys.executable).parent / "neardupd")
    local = tmp_path / "neardupd.service"
    local.write_text(unit.replace("/opt/neardupd/bin/neardupd", executable))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "neardupd.service" in line]
    assert result.returncode == 0 and not problems, result.stderr


@pytest.mark.slow
def test_a_stopped_daemon_that_missed_a_burst_catches_up(daemon, folder):
    """SIGSTOP: more events than the kernel's inotify queue holds arrive (it overflows); SIGCONT:
    the daemon notices the overflow, reconciles, and indexes all 1,000 files of 50 new folders.
    (The 10,000-file burst is timed in benchmarks/daemon_speed.py.)"""
    scratch = folder / ".scratch"  # excluded from indexing, but watched: its events fill the kernel queue
    scratch.mkdir()
    daemon.start()
    time.sleep(1.0)
    daemon.signal(signal.SIGSTOP)
    try:
        expected = set()
        for number in range(50):
            album = folder / f"album-{number:02d}"
            album.mkdir()
            for index in range(20):
                path = album / f"p{index:03d}.png"
                distinct_picture(number * 1000 + index, size=48).save(path)
                expected.add(str(path))
        for index in range(18000):
            (scratch / f"{index}").write_bytes(b"x")
    finally:
        daemon.signal(signal.SIGCONT)
    wait_until(lambda: "overflow" in daemon.log_text(), 60, what="the overflow to be noticed")
    wait_until(lambda: len(daemon.indexed()) == 1_000, 300, every=1.0, what="1,000 files indexed")
    assert daemon.indexed() == expected
    assert daemon.running()


def test_a_decoder_killed_while_idle_is_replaced(daemon, folder):
    daemon.start()
    decoders = daemon.decoders()
    assert len(decoders) == 2
    os.kill(decoders[0], signal.SIGKILL)
    wait_until(lambda: "idle decoder process died" in daemon.log_text(), 10, what="the replacement")
    _pictures(folder, 4)
    wait_until(lambda: len(daemon.indexed()) == 4, 60, what="files indexed after the replacement")
    assert daemon.running()


def _held(daemon: DaemonProcess) -> int:
    return daemon.query("SELECT count(*) FROM files WHERE missing_since IS NOT NULL")[0][0]


@pytest.mark.slow
def test_an_unmounted_share_keeps_its_rows_and_a_remounted_one_is_watched_again(tmp_path, folder):
    """A real mount: the watch on an unmounted share sees nothing more, so the daemon notices the
    root became another folder, holds the rows (past the grace period), and watches the share again
    when it comes back: its files are present again undecoded and a new one is indexed at once."""
    if not mount_tmpfs(folder):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [folder], extra="missing_grace = 2.0")
    saved = tmp_path / "saved"
    try:
        _pictures(folder, 5)
        shutil.copytree(folder, saved)  # copy2: same sizes and mtimes, as the share will show them again
        daemon.start()
        wait_until(lambda: len(daemon.indexed()) == 5 and daemon.idle(), 60, what="first indexing")
        time.sleep(2.5)  # the root has been healthy for longer than the grace period
        subprocess.run(["umount", str(folder)], check=True)
        wait_until(lambda: _held(daemon) == 5, 20, what="rows held as missing after the unmount")
        assert daemon.query("SELECT state FROM roots") == [("empty",)]
        time.sleep(6.0)  # three grace periods with the share away
        assert daemon.query("SELECT count(*) FROM files") == [(5,)]
        assert mount_tmpfs(folder)
        shutil.copytree(saved, folder, dirs_exist_ok=True)
        distinct_picture(99).save(folder / "new.png")
        wait_until(lambda: len(daemon.indexed()) == 6, 30, what="the remounted share's files")
        time.sleep(2.5)  # a heartbeat later
        assert daemon.setting("daemon_decoded") == "6"  # the five came back undecoded
        assert "watching again" in daemon.log_text()
    finally:
        daemon.close()
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.slow
def test_a_root_on_another_device_is_held_then_accepted_after_the_grace_period(tmp_path):
    """The root's path leads to another file system (a symlink swapped, as a disk replaced): the old
    rows are held while the root's new files are indexed; after the grace period there, the new
    device is accepted and the old rows go."""
    first = tmp_path / "disk-a"
    first.mkdir()
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system (/dev/shm) to move the root to")
    second = Path(tempfile.mkdtemp(dir=shm, prefix="neardupd-test-"))
    root = tmp_path / "share"
    root.symlink_to(first)
    _pictures(first, 5)
    _pictures(second, 2, first=100, prefix="b")
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [root], extra="missing_grace = 3.0")
    try:
        daemon.start()
        wait_until(lambda: len(daemon.indexed()) == 5 and daemon.idle(), 60, what="first indexing")
        swap = tmp_path / "swap"
        swap.symlink_to(second)
        os.replace(swap, root)
        wait_until(lambda: daemon.indexed() == {str(root / "b00100.png"), str(root / "b00101.png")}, 30,
                   what="the new device's files")
        assert daemon.query("SELECT count(*) FROM files") == [(7,)]  # the first disk's rows held
        assert daemon.query("SELECT state FROM roots") == [("other_device",)]
        wait_until(lambda: daemon.query("SELECT count(*) FROM files") == [(2,)], 40,
                   what="the old rows deleted once the device is accepted")
        assert "accepting it" in daemon.log_text()
        assert daemon.query("SELECT state FROM roots") == [("healthy",)]
    finally:
        daemon.close()
        shutil.rmtree(second, ignore_errors=True)


def test_a_reload_that_changes_the_decoders_mid_ingest_loses_nothing(daemon, folder):
    daemon.start()
    paths = _pictures(folder, 300)
    wait_until(lambda: len(daemon.indexed()) >= 20, 60, what="ingest under way")
    daemon.write_config([folder], workers=1, extra="decode_timeout = 30")
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: len(daemon.decoders()) == 1, 30, what="one decoder after the reload")
    more = _pictures(folder, 100, first=300)
    daemon.write_config([folder], workers=3)
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: daemon.indexed() == {str(path) for path in paths + more}, 120, what="all 400 indexed")
    time.sleep(2.5)  # a heartbeat later
    assert len(daemon.decoders()) == 3
    assert daemon.query("SELECT (SELECT count(*) FROM errors) + (SELECT count(*) FROM quarantine)") == [(0,)]
    assert daemon.setting("daemon_decoded") == "400"  # nothing decoded twice across the restarts
    assert daemon.running()


@pytest.mark.slow
def test_a_polled_root_sees_new_moved_and_deleted_files(tmp_path, folder):
    """Forced polling (as for a network share): watchdog's polling observer, no inotify."""
    state = tmp_path / "state"
    state.mkdir()
    daemon = DaemonProcess(state, [folder], extra=f'poll = ["{folder}"]\npoll_interval = 1.0\nmissing_grace = 1.0')
    try:
        daemon.start()
        assert "polled every 1 s" in daemon.log_text()
        paths = _pictures(folder, 3)
        wait_until(lambda: len(daemon.indexed()) == 3 and daemon.idle(), 30, what="new files polled")
        os.rename(paths[0], folder / "renamed.png")
        paths[1].unlink()
        wait_until(lambda: daemon.indexed() == {str(folder / "renamed.png"), str(paths[2])}, 30,
                   what="the rename and the deletion")
        wait_until(lambda: daemon.query("SELECT count(*) FROM files") == [(2,)], 15,
                   what="the deleted file's row gone after the 1 s grace period")
        time.sleep(2.5)  # a heartbeat later
        assert daemon.setting("daemon_decoded") == "3"
        aside = tmp_path / "aside"
        aside.mkdir()
        for path in folder.iterdir():  # the share shows up empty, as when its server is gone
            shutil.move(path, aside / path.name)
        wait_until(lambda: _held(daemon) == 2, 15, what="the rows held as missing")
        time.sleep(4.0)  # well past the grace period: the root is empty, not healthy
        assert daemon.query("SELECT count(*) FROM files") == [(2,)]
    finally:
        daemon.close()


def test_a_clean_up_while_the_daemon_runs_is_seen_as_moves_and_undone(daemon, folder, data, tmp_path):
    """`act --apply` moves the copies out of the roots while the daemon watches them: nothing is held
    as missing or indexed again from the quarantine, and `undo` brings the group back."""
    from PIL import Image

    photo = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    photo.save(folder / "orig.jpg", quality=95)
    photo.resize((photo.width // 2, photo.height // 2)).save(folder / "half.jpg", quality=90)
    shutil.copy(folder / "orig.jpg", folder / "orig (1).jpg")
    daemon.start()
    every = {str(folder / name) for name in ("orig.jpg", "half.jpg", "orig (1).jpg")}
    wait_until(lambda: daemon.indexed() == every and daemon.idle(), 60, what="first indexing")
    act = [sys.executable, "-m", "neardupd.cli", "--config", str(daemon.config)]
    applied = subprocess.run([*act, "act", "--apply"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert applied.returncode == 0 and "2 file(s) moved" in applied.stdout, applied.stderr
    distinct_picture(7).save(folder / "after.png")  # events are handled in order: once this is in, the moves were
    after = {str(folder / "orig.jpg"), str(folder / "after.png")}
    wait_until(lambda: daemon.indexed() == after and daemon.idle(), 30, what="the moves, then a new file")
    assert daemon.query("SELECT count(*) FROM files WHERE missing_since IS NOT NULL") == [(0,)]
    undone = subprocess.run([*act, "undo"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert undone.returncode == 0 and "2 file(s) put back" in undone.stdout, undone.stderr
    wait_until(lambda: daemon.indexed() == every | after and daemon.idle(), 60, what="the files put back")
    wait_until(lambda: daemon.query("SELECT count(*) FROM matches") == [(3,)], 30, what="the group's 3 pairs")
    assert daemon.stop(timeout=30) == 0
