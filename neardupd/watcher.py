"""Watching the roots: the only module that imports watchdog. It filters and enqueues, never decodes.

Local folders are watched with inotify; network mounts (NFS, CIFS/SMB, FUSE, ... from the mount
table) and roots forced in ``daemon.poll`` are scanned at intervals by watchdog's polling observer.
Events only say what to look at first: the daemon's reconciliation walk is the source of truth,
and this module asks for one whenever events may have been lost (inotify's queue overflowed,
which watchdog only logs, or an observer died).
"""

from __future__ import annotations

import enum
import errno
import logging
import os
import queue
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from neardupd.files import is_excluded

log = logging.getLogger(__name__)

NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "afs",
                                 "davfs", "sshfs", "fuse", "fuseblk", "lustre", "gpfs", "beegfs"})
"""File systems whose changes made elsewhere inotify never sees (plus every ``fuse.*``)."""


class ChangeKind(enum.Enum):
    CHANGED = "changed"
    """Created, written, attributes changed."""
    DELETED = "deleted"
    MOVED = "moved"
    FOLDER = "folder"
    """A folder appeared or moved in: walk it."""


@dataclass(frozen=True)
class Change:
    """Something happened at ``path`` (moved: to ``dest``)."""

    kind: ChangeKind
    path: bytes
    dest: bytes | None = None


def mount_type(path: bytes, mounts_file: str = "/proc/self/mounts") -> str:
    """The file system type of the mount holding ``path`` ('' if unknown)."""
    target = os.path.realpath(path)
    best, kind = b"", ""
    try:
        with open(mounts_file, "rb") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace(b"\\040", b" ")
                inside = target == point or target.startswith(point.rstrip(b"/") + b"/")
                if inside and len(point) >= len(best):
                    best, kind = point, fields[2].decode(errors="replace")
    except OSError:
        return ""
    return kind


def folder_identity(path: bytes) -> tuple[int, int] | None:
    """(device, inode) of the folder at ``path`` now; None when there is no folder there."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


def is_network(kind: str) -> bool:
    return kind in NETWORK_FILESYSTEMS or kind.startswith("fuse.")


class _Handler(FileSystemEventHandler):
    def __init__(self, root: bytes, patterns: tuple[bytes, ...], sink: queue.SimpleQueue[Change]) -> None:
        self.root = root
        self.patterns = patterns
        self.sink = sink

    def _excluded(self, path: bytes) -> bool:
        relative = os.path.relpath(path, self.root)
        return any(is_excluded(part, self.patterns) for part in relative.split(b"/") if part not in (b".", b".."))

    def on_any_event(self, event: FileSystemEvent) -> None:
        source = os.fsencode(event.src_path)
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.event_type == "moved":
            dest = os.fsencode(event.dest_path)
            gone, came = self._excluded(source), self._excluded(dest)
            if event.is_directory:
                if not gone:
                    self.sink.put(Change(ChangeKind.DELETED, source))
                if not came:
                    self.sink.put(Change(ChangeKind.FOLDER, dest))
                return
            if gone and came:
                return
            if gone:  # e.g. rsync's .name.XXXXXX renamed to its final name
                self.sink.put(Change(ChangeKind.CHANGED, dest))
            elif came:  # moved into the trash, or to a temporary name
                self.sink.put(Change(ChangeKind.DELETED, source))
            else:
                self.sink.put(Change(ChangeKind.MOVED, source, dest))
            return
        if self._excluded(source):
            return
        if event.is_directory:
            if event.event_type == "created":
                self.sink.put(Change(ChangeKind.FOLDER, source))
            elif event.event_type == "deleted":
                self.sink.put(Change(ChangeKind.DELETED, source))
            return
        self.sink.put(Change(ChangeKind.DELETED if event.event_type == "deleted" else ChangeKind.CHANGED, source))


class _OverflowAlarm(logging.Handler):
    """watchdog reports a kernel queue overflow only in its log: turn that line into a request."""

    def __init__(self, alarm: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.alarm = alarm

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.alarm("the kernel's inotify event queue overflowed")


class Watcher:
    """Observers for the roots, putting :class:`Change` records on ``changes``."""

    def __init__(self, roots: Sequence[bytes], patterns: Iterable[bytes], changes: queue.SimpleQueue[Change],
                 alarm: Callable[[str], None], poll: Iterable[bytes] = (), poll_interval: float = 300.0) -> None:
        self.roots = list(roots)
        self.patterns = tuple(patterns)
        self.changes = changes
        self.alarm = alarm
        self.poll = {os.path.abspath(p) for p in poll}
        self.poll_interval = poll_interval
        self._observers: list[BaseObserver] = []
        self._log_alarm = _OverflowAlarm(alarm)
        self._watched: dict[bytes, tuple[int, int] | None] = {}

    def start(self) -> list[str]:
        """Start watching every root that is a folder now; return how each is watched, for the log."""
        logging.getLogger("watchdog").addHandler(self._log_alarm)
        notes = []
        for root in self.roots:
            self._watched[root] = folder_identity(root)
            if self._watched[root] is None:
                notes.append(f"{os.fsdecode(root)}: not a folder now; watched once one appears there")
                continue
            kind = mount_type(root)
            polled = root in self.poll or is_network(kind)
            observer: BaseObserver = PollingObserver(timeout=self.poll_interval) if polled else Observer()
            observer.schedule(_Handler(root, self.patterns, self.changes), root, recursive=True)
            try:
                observer.start()
            except OSError as err:
                hint = " (raise the sysctl fs.inotify.max_user_watches)" if err.errno == errno.ENOSPC else ""
                self.alarm(f"cannot watch {os.fsdecode(root)} ({err}){hint}; relying on reconciliation")
                continue
            self._observers.append(observer)
            how = f"polled every {self.poll_interval:g} s" if polled else "inotify"
            notes.append(f"{os.fsdecode(root)}: {how} ({kind or 'unknown file system'})")
        return notes

    def alive(self) -> bool:
        return all(observer.is_alive() for observer in self._observers)

    def replaced_roots(self) -> list[bytes]:
        """Roots that are no longer the folder being watched: a share mounted or unmounted over
        them, a folder that appeared, vanished or was swapped. Their watches see nothing more."""
        return [root for root, identity in self._watched.items() if folder_identity(root) != identity]

    def stop(self) -> None:
        logging.getLogger("watchdog").removeHandler(self._log_alarm)
        for observer in self._observers:
            observer.stop()
        for observer in self._observers:
            observer.join(5)
        self._observers.clear()
