"""The daemon is ready before its indexes are read: a real daemon on a real index of 30,000 pictures
(random signatures written through the store), real signals, a real query over its socket."""

from __future__ import annotations

import numpy as np
from daemon_harness import DaemonProcess

from neardupd.bench import synthetic
from neardupd.store import open_store

PICTURES = 30_000
"""Enough keypoints that reading them takes seconds (about 8 on the project's machine)."""


def _write_index(path, pictures: int) -> None:
    rng = np.random.default_rng(3)
    thumb = np.repeat(np.repeat(rng.integers(0, 256, (8, 8), dtype=np.uint8), 8, 0), 8, 1)
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
