"""Moving copies into the quarantine and back, with an undo journal written before anything moves.

neardupd never deletes a photo. ``neardupd act --apply`` moves each losing copy to the quarantine
folder, at its own path below it (``/photos/2019/a.jpg`` -> ``QUARANTINE/photos/2019/a.jpg``), and
``neardupd undo`` puts every file back, byte for byte, at its path. The journal (JSON lines, each
flushed to disk before the step it announces) makes both safe to interrupt, even by ``kill -9``: a move
is written down before it happens and marked done after; ``undo`` reads what was written and puts back
whatever left its place, wherever the interruption fell.

A file is moved only if it is still what was indexed (size, mtime and SHA-256 of its bytes), and
never over an existing file. Across filesystems a move is a copy, checked against the digest and
flushed, then the removal of the original.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from neardupd.files import open_regular
from neardupd.store import iso_time

log = logging.getLogger(__name__)

PAUSE_ENV = "NEARDUPD_ACT_PAUSE"
"""Seconds to wait after each move (tests interrupt an apply half-way through with it)."""


class Refused(Exception):
    """A file that must not be moved: changed since it was indexed, gone, or its target taken."""


@dataclass(frozen=True)
class Move:
    source: bytes
    target: bytes
    digest: bytes
    size: int
    mtime_ns: int
    link_to: bytes | None = None
    """The kept file, when an exact duplicate's path is to hold a hard link to it once moved."""


def _encode(path: bytes) -> str:
    return base64.b64encode(path).decode("ascii")


def _decode(text: str) -> bytes:
    return base64.b64decode(text)


def quarantine_path(quarantine: Path, path: bytes) -> bytes:
    """Where ``path`` goes in the quarantine: its absolute path below the quarantine folder."""
    return os.path.join(os.fsencode(quarantine), os.path.abspath(path).lstrip(b"/"))


def digest_of(path: bytes) -> bytes:
    with open_regular(path) as handle:
        return hashlib.file_digest(handle, "sha256").digest()


def check_unchanged(move: Move) -> None:
    """Refuse a file that is not the one indexed any more (or is not a regular file now)."""
    try:
        stat = os.lstat(move.source)
    except FileNotFoundError as err:
        raise Refused(f"{os.fsdecode(move.source)}: gone since it was indexed") from err
    if (stat.st_size, stat.st_mtime_ns) != (move.size, move.mtime_ns) or digest_of(move.source) != move.digest:
        raise Refused(f"{os.fsdecode(move.source)}: changed since it was indexed (run `neardupd scan` and plan again)")
    if os.path.lexists(move.target):
        raise Refused(f"{os.fsdecode(move.target)}: already taken in the quarantine")


class Journal:
    """An append-only JSON-lines file; every line is on disk before the step it announces."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def start(cls, folder: Path, database: Path) -> Journal:
        folder.mkdir(parents=True, exist_ok=True)
        journal = cls(folder / f"act-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.jsonl")
        journal.write({"op": "start", "at": iso_time(), "database": str(database)})
        return journal

    @staticmethod
    def latest(folder: Path) -> Journal | None:
        found = sorted(folder.glob("act-*.jsonl"), key=lambda path: path.stat().st_mtime_ns) if folder.is_dir() else []
        return Journal(found[-1]) if found else None

    def write(self, entry: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> Iterator[dict]:
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if line.endswith("\n"):  # a last line cut by a crash was never acted on
                    yield json.loads(line)

    def announce(self, move: Move) -> None:
        self.write({"op": "move", "from": _encode(move.source), "to": _encode(move.target),
                    "digest": move.digest.hex(), "size": move.size, "mtime_ns": move.mtime_ns,
                    "link_to": _encode(move.link_to) if move.link_to else None})

    def done(self, move: Move) -> None:
        self.write({"op": "moved", "from": _encode(move.source)})


def move(item: Move) -> None:
    """Move one file to its place in the quarantine (a copy, checked and flushed, across filesystems)."""
    relocate(item.source, item.target, item.digest)
    if item.link_to is not None:
        try:  # the path keeps a name for the same bytes, at no cost in space
            os.link(item.link_to, item.source)
        except OSError as err:
            log.warning("%s: moved, but no hard link to %s made (%s)", os.fsdecode(item.source),
                        os.fsdecode(item.link_to), err.strerror or err)
    _pause()


def relocate(source: bytes, target: bytes, digest: bytes) -> None:
    """Give ``source``'s file the path ``target`` (never over an existing file): a new name for the
    same inode on one filesystem; across filesystems a copy, flushed and checked against ``digest``
    under a temporary name, then the original removed."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.link(source, target)  # link fails if the target exists
        os.unlink(source)
        return
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise
    partial = target + b".part"
    with open_regular(source) as reader, open(partial, "xb") as writer:
        shutil.copyfileobj(reader, writer)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(source, partial)
    if digest_of(partial) != digest:
        os.unlink(partial)
        raise OSError(f"{os.fsdecode(source)}: the copy at {os.fsdecode(target)} does not match; left in place")
    os.link(partial, target)
    os.unlink(partial)
    os.unlink(source)


def undo(journal: Journal) -> tuple[int, list[str]]:
    """Put back every file the journal's apply moved (or had begun to move); how many, and the
    problems (a path taken again, a quarantined file changed)."""
    restored, problems = 0, []
    announced = [entry for entry in journal.entries() if entry["op"] == "move"]
    undone = {entry["from"] for entry in journal.entries() if entry["op"] == "undone"}
    for entry in reversed(announced):
        if entry["from"] in undone:
            continue
        source, target, digest = _decode(entry["from"]), _decode(entry["to"]), bytes.fromhex(entry["digest"])
        if entry.get("link_to") and os.path.lexists(target) and same_file(source, _decode(entry["link_to"])):
            os.unlink(source)  # the hard link made in its place: the kept file itself stays
        outcome = _put_back(source, target, digest)
        if outcome not in (RESTORED, IN_PLACE):
            problems.append(outcome)
            continue
        journal.write({"op": "undone", "from": entry["from"]})
        restored += outcome == RESTORED
    journal.write({"op": "undo_finished", "at": iso_time()})
    return restored, problems


RESTORED, IN_PLACE = "restored", "in place"


def same_file(first: bytes, second: bytes) -> bool:
    """Whether two paths name one file (a hard link, or the path itself); False if either is gone."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _put_back(source: bytes, target: bytes, digest: bytes) -> str:
    """One file back at ``source`` from ``target``: RESTORED, IN_PLACE (it had not moved), or the problem."""
    for partial in (target + b".part", source + b".part"):
        if os.path.lexists(partial):  # a copy an interruption left half-made: its original is still in place
            os.unlink(partial)
    if not os.path.lexists(target):
        return IN_PLACE if os.path.lexists(source) else f"{os.fsdecode(source)}: not in the quarantine either"
    if os.path.lexists(source):
        if digest_of(source) == digest:  # interrupted between link and unlink: both are the file
            os.unlink(target)
            return IN_PLACE
        return f"{os.fsdecode(source)}: the path is taken by another file; {os.fsdecode(target)} left in the quarantine"
    if digest_of(target) != digest:
        return f"{os.fsdecode(target)}: changed in the quarantine; left there"
    relocate(target, source, digest)
    return RESTORED


def _pause() -> None:
    seconds = float(os.environ.get(PAUSE_ENV, "0") or 0)
    if seconds > 0:
        time.sleep(seconds)
