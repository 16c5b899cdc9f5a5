"""`neardupd query` answered by the running daemon: a real daemon, a real Unix socket, real photos."""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import stat
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from daemon_harness import DaemonProcess, wait_until
from PIL import Image

from neardupd.analyse import Analyser
from neardupd.asking import AskingError, QueryServer, answer, ask, socket_path
from neardupd.config import Config
from neardupd.pairs import Scored


def _smaller_copy(source: Path, target: Path) -> Path:
    with Image.open(source) as image:
        image.resize((image.width // 3, image.height // 3)).save(target, quality=70)
    return target


def test_query_is_answered_by_the_running_daemon_as_by_a_local_index(tmp_path, data, cli):
    photos, state = tmp_path / "photos", tmp_path / "state"
    photos.mkdir(), state.mkdir()
    for name in ("jolla.jpg", "iphone_hdr_NO.jpg", "exif-rotn-1.jpg"):
        shutil.copy(data / "camera" / name, photos / name)
    copy = _smaller_copy(data / "camera/jolla.jpg", tmp_path / "sent by a messenger.jpg")
    daemon = DaemonProcess(state, [photos])
    try:
        daemon.start()
        wait_until(lambda: len(daemon.indexed()) == 3 and daemon.idle(), 60, what="indexing")
        assert stat.S_ISSOCK(os.stat(socket_path(daemon.database)).st_mode)
        db = str(daemon.database)
        asked = cli("-v", "query", "--db", db, "--json", str(copy))
        assert "loading the index here" not in asked.stderr  # the daemon answered
        assert str(photos / "jolla.jpg") in asked.stdout and '"kind": "near"' in asked.stdout
        assert asked.stdout == cli("query", "--local", "--db", db, "--json", str(copy)).stdout
        assert daemon.stop() == 0
        assert not os.path.exists(socket_path(daemon.database))  # taken away on the way out
        alone = cli("-v", "query", "--db", db, "--json", str(copy))
        assert "loading the index here" in alone.stderr and alone.stdout == asked.stdout
    finally:
        daemon.close()


@pytest.fixture
def database(tmp_path) -> Path:
    path = tmp_path / "index.sqlite"
    path.write_bytes(b"")
    path.chmod(0o640)
    return path


@pytest.fixture
def analysed(data):
    with Analyser(Config()) as analyser:
        return analyser.analyse(os.fsencode(data / "camera/jolla.jpg"))


def _answer_one(server: QueryServer, found: list) -> threading.Thread:
    """The daemon's part: take one question off the queue and answer it."""
    def main_loop() -> None:
        question = server.questions.get(timeout=30)
        question.answer.put(answer(found))
    thread = threading.Thread(target=main_loop)
    thread.start()
    return thread


def test_a_picture_goes_over_the_socket_and_its_matches_come_back(database, analysed):
    server = QueryServer(database)
    try:
        assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o660  # whoever may read the index may ask it
        stored = b"/photos/caf\xe9 \xff.jpg"  # not UTF-8: comes back byte for byte
        verdict = Scored(0.9, "near", "none", {"scale": 0.33})
        main_loop = _answer_one(server, [(stored, verdict)])
        matches = ask(database, analysed, timeout=30)
        main_loop.join()
        assert [(os.fsencode(m["path"]), m["score"], m["kind"], m["details"]) for m in matches] == \
            [(stored, 0.9, "near", {"scale": 0.33})]
    finally:
        server.close()
    assert not server.path.exists()
    with pytest.raises(AskingError, match="no answer from the daemon"):
        ask(database, analysed, timeout=5)


def _sent(path: Path, data: bytes) -> bytes:
    """What the socket answers to ``data``, sent as it is."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(30)
        conn.connect(os.fsencode(path))
        conn.sendall(data)
        return b"".join(iter(lambda: conn.recv(65536), b""))


def _framed(payload: bytes) -> bytes:
    return struct.pack(">Q", len(payload)) + payload


class _Exploit:
    def __reduce__(self):
        return (subprocess.call, ([sys.executable, "-c", "open('pwned', 'w')"],))


def test_a_request_that_is_not_a_signed_picture_builds_nothing(database, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    server = QueryServer(database)
    try:
        refused = _sent(server.path, _framed(pickle.dumps({"version": 1, "item": _Exploit()})))
        assert b"request refused" in refused and b"subprocess.call is not part of a query" in refused
        assert b"not a version-1 query" in _sent(server.path, _framed(pickle.dumps({"version": 9})))
        assert b"larger than any signed picture" in _sent(server.path, struct.pack(">Q", 1 << 40))
        assert b"request refused" in _sent(server.path, _framed(b"\x80\x05 not a pickle"))
        assert server.questions.empty()
    finally:
        server.close()
    assert not (tmp_path / "pwned").exists()


def test_a_dead_daemons_socket_is_replaced_and_a_live_ones_kept(database):
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(os.fsencode(socket_path(database)))
    left.close()  # a socket file nobody listens on: what a killed daemon leaves
    first = QueryServer(database)
    try:
        with pytest.raises(AskingError, match="another neardupd daemon answers there"):
            QueryServer(database)
        assert first.path.is_socket()
    finally:
        first.close()
