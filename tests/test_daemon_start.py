"""The daemon is ready before its indexes are read: a real daemon on a real index of 30,000 pictures
(random signatures written through the store), real signals, a real query over its socket."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
from daemon_harness import DaemonProcess

from neardupd import thumb_file
from neardupd.bench import synthetic
from neardupd.store import open_store

PICTURES = 30_000
"""Enough keypoints that reading them takes seconds (about 8 on the project's machine)."""


def _write_index(path, pictures: int) -> None:
    rng = np.random.default_rng(3)
    thumb = thumb_file.as_stored(np.repeat(np.repeat(rng.integers(0, 256, (8, 8), dtype=np.uint8), 8, 0), 8, 1))
    with open_store(path) as store, store.transaction():
        for number in range(pictures):
            synthetic.add_picture(store, number, rng, thumb)


def test_ready_before_the_index_is_read_a_query_waits_for_it_and_a_stop_does_not(tmp_path, data, cli):
    photos, state = tmp_path / "photos", tmp_path / "state"
    photos.mkdir(), state.mkdir()
    daemon = DaemonProcess(state, [photos])
    _write_index(daemon.database, PICTURES)
    try:
        daemon.start()  # returns at READY=1
        assert "loaded in" not in daemon.log_text()
        assert any("reading the index" in m for m in daemon.read_messages() if m.startswith("STATUS="))
        asked = cli("-v", "query", "--db", str(daemon.database), str(data / "camera/jolla.jpg"), check=False)
        assert "loading the index here" not in asked.stderr  # the daemon answered, once its indexes were in
        assert asked.returncode == 1 and "no copy of this image is indexed" in asked.stdout
        assert f"index of {PICTURES} pictures loaded in" in daemon.log_text()
        assert daemon.stop() == 0

        earlier = len(daemon.log_text())
        daemon.start()
        assert daemon.stop() == 0  # SIGTERM while the indexes load: out at once, cleanly
        assert "loaded in" not in daemon.log_text()[earlier:]
        assert daemon.setting("daemon_state") == "stopped"
        assert "stopped while reading the index" in (daemon.setting("daemon_status") or "")
    finally:
        daemon.close()


def test_an_index_upgraded_at_start_asks_systemd_for_time_before_ready(tmp_path, old_index):
    """A schema-9 index with a picture's raw thumb: the daemon upgrades it before READY=1, asking
    systemd for more time first (TimeoutStartSec would stop a long upgrade, which then starts again)."""
    photos, state = tmp_path / "photos", tmp_path / "state"
    photos.mkdir(), state.mkdir()
    daemon = DaemonProcess(state, [photos])
    raw = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))
    old_path = old_index(9)
    with sqlite3.connect(old_path) as old:
        old.execute("INSERT INTO files (id, path, path_bytes, size, mtime_ns, file_digest, pixel_digest, format, "
                    "width, height, indexed_at) VALUES (1, '/gone.jpg', X'2f676f6e652e6a7067', 1, 1, X'00', X'01', "
                    "'JPEG', 64, 64, '2026-12-06T00:00:00Z')")
        old.execute("INSERT INTO signatures (file_id, phash, content_left, content_top, content_right, content_bottom, "
                    "contrast, mean_r, mean_g, mean_b, thumb_size, thumb) VALUES (1, 0, 0, 0, 1, 1, 9, 1, 1, 1, 64, ?)",
                    (raw.tobytes(),))
    shutil.copy(old_path, daemon.database)
    try:
        daemon.start()
        messages = daemon.read_messages()
        extended = next(i for i, m in enumerate(messages) if m.startswith("EXTEND_TIMEOUT_USEC="))
        assert extended < next(i for i, m in enumerate(messages) if m.startswith("READY=1"))
        assert "STATUS=opening the index" in messages[extended]
        with open_store(daemon.database, readonly=True) as upgraded:
            assert upgraded.version >= 10
            assert np.array_equal(upgraded.picture(1).thumb, thumb_file.as_stored(raw)[1])
        assert daemon.stop() == 0
    finally:
        daemon.close()
