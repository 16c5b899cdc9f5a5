"""``neardupd query`` answered by the running daemon, over a Unix socket beside the database.

The client (the ``query`` command) decodes and signs the image itself, as the user who asked: the
daemon never opens a file outside its roots, and what it is sent is a signed picture, not a path.
The daemon's main thread matches it between two turns of its loop against the indexes it already
holds (a client asking while they load waits for them), and answers in JSON. Whoever may read the
database may ask (the socket is readable and writable by them: a 0640 index gets a 0660 socket).

Wire format, version 1: a request is an 8-byte big-endian length and a pickle (protocol 5) of
``{"version": 1, "item": Analysed}``, read by an unpickler that builds nothing but neardupd's
dataclasses and numpy arrays; the answer is an 8-byte length and UTF-8 JSON, either
``{"matches": [{"path", "score", "kind", "transform", "details"}, ...]}`` (best first; a path that
is not UTF-8 comes with its bytes escaped as by ``os.fsdecode``) or ``{"error": "why"}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import io
import json
import logging
import os
import pickle
import queue
import socket
import stat
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

from neardupd.analyse import Analysed
from neardupd.pairs import Scored

log = logging.getLogger(__name__)

VERSION = 1
LARGEST_REQUEST = 64 << 20
"""Bytes; an analysed picture is about 30 KB."""
LONGEST_PATH = 100
"""Bytes of a Unix socket's path (the kernel's limit is 108)."""
_LENGTH = struct.Struct(">Q")
_NUMPY = {("numpy", "dtype"), ("numpy", "ndarray"), ("numpy._core.numeric", "_frombuffer"),
          ("numpy.core.numeric", "_frombuffer"), ("numpy._core.multiarray", "_reconstruct"),
          ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
          ("numpy.core.multiarray", "scalar")}


class AskingError(Exception):
    """The daemon could not be asked, or could not answer (the caller matches on its own)."""


def socket_path(database: Path) -> Path:
    """Where the daemon of ``database`` listens."""
    return database.with_name(database.name + ".sock")


@dataclass
class Question:
    """A picture to match, and where its answer goes (the JSON-ready answer)."""

    item: Analysed
    answer: queue.SimpleQueue[dict] = dataclasses.field(default_factory=queue.SimpleQueue)


class QueryServer:
    """Listens on :func:`socket_path` and puts each client's picture in :attr:`questions`, waiting
    for the daemon's main thread to answer it."""

    def __init__(self, database: Path, wait: float = 600.0) -> None:
        self.path = socket_path(database)
        self.questions: queue.SimpleQueue[Question] = queue.SimpleQueue()
        self.wait = wait
        readers = stat.S_IMODE(os.stat(database).st_mode) & 0o444
        self._listener = _listen(self.path, readers | readers >> 1)  # connecting takes write permission
        self._thread = threading.Thread(target=self._accept, name="query-server", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), name="query-client", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                client.settimeout(30.0)
                question = Question(_read_item(_receive(client)))
            except Exception as err:  # noqa: BLE001 - whatever a client sends, it gets an answer, the server goes on
                log.warning("query refused: %s", err)
                answer = {"error": f"request refused: {err}"}
            else:
                self.questions.put(question)
                try:
                    answer = question.answer.get(timeout=self.wait)
                except queue.Empty:
                    answer = {"error": f"the daemon did not answer within {self.wait:g} s"}
            with contextlib.suppress(OSError):
                client.settimeout(30.0)
                _send(client, json.dumps(answer).encode())


def serve_queries(database: Path) -> QueryServer | None:
    """A :class:`QueryServer` for the daemon of ``database``, or None (said in the log) where it
    cannot listen: ``neardupd query`` then loads the index itself."""
    try:
        return QueryServer(database)
    except (OSError, AskingError) as err:
        log.warning("queries will not be answered here (neardupd query loads the index itself): %s", err)
        return None


def ask(database: Path, item: Analysed, timeout: float = 600.0) -> list[dict]:
    """The daemon's matches of ``item`` (see the module's wire format); :class:`AskingError` when
    no daemon listens or it could not answer."""
    path = socket_path(database)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(os.fsencode(path))
            _send(conn, pickle.dumps({"version": VERSION, "item": item}, protocol=5))
            answer = json.loads(_receive(conn))
    except (OSError, ValueError) as err:
        raise AskingError(f"no answer from the daemon at {path}: {err}") from err
    if "error" in answer:
        raise AskingError(f"the daemon could not answer: {answer['error']}")
    return answer["matches"]


def answer(found: list[tuple[bytes, Scored]]) -> dict:
    """The JSON of an answer: the matches as (stored path, verdict), best first."""
    return {"matches": [{"path": os.fsdecode(path), "score": match.score, "kind": match.kind,
                         "transform": match.transform, "details": match.details} for path, match in found]}


def asked_matches(database: Path, item: Analysed) -> list[tuple[bytes, Scored]] | None:
    """:func:`ask`'s answer as (stored path, verdict) pairs; None when no daemon answers (said in
    the log: the caller loads the index itself)."""
    try:
        matches = ask(database, item)
    except AskingError as err:
        log.info("%s; loading the index here", err)
        return None
    return [(os.fsencode(match["path"]), Scored(match["score"], match["kind"], match["transform"], match["details"]))
            for match in matches]


def _listen(path: Path, mode: int) -> socket.socket:
    if len(os.fsencode(path)) > LONGEST_PATH:
        raise AskingError(f"{path}: too long for a Unix socket ({LONGEST_PATH} bytes at most)")
    if path.is_socket():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(os.fsencode(path))
            except OSError:
                path.unlink()  # left by a daemon that died
            else:
                raise AskingError(f"{path}: another neardupd daemon answers there (one daemon per database)")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o777 & ~mode)  # never a moment with wider permissions than the database's
    try:
        listener.bind(os.fsencode(path))
    finally:
        os.umask(old)
    listener.listen(16)
    return listener


def _send(conn: socket.socket, data: bytes) -> None:
    conn.sendall(_LENGTH.pack(len(data)) + data)


def _receive(conn: socket.socket) -> bytes:
    (length,) = _LENGTH.unpack(_exactly(conn, _LENGTH.size))
    if length > LARGEST_REQUEST:
        raise ValueError(f"{length} bytes: larger than any signed picture")
    return _exactly(conn, length)


def _exactly(conn: socket.socket, count: int) -> bytes:
    parts, left = [], count
    while left:
        part = conn.recv(min(left, 1 << 20))
        if not part:
            raise EOFError("the other side closed the connection")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_item(data: bytes) -> Analysed:
    request = _Unpickler(io.BytesIO(data)).load()
    if not isinstance(request, dict) or request.get("version") != VERSION:
        raise ValueError(f"not a version-{VERSION} query")
    item = request.get("item")
    if not isinstance(item, Analysed):
        raise ValueError("no analysed picture in the query")
    return item


class _Unpickler(pickle.Unpickler):
    """Builds neardupd's dataclasses and enums and numpy arrays, and nothing else."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _NUMPY:
            return super().find_class(module, name)
        if module.startswith("neardupd."):
            found = super().find_class(module, name)
            if isinstance(found, type) and (dataclasses.is_dataclass(found) or issubclass(found, enum.Enum)):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a query")
