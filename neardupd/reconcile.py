"""Bringing the database in line with the disk: the watcher's changes, and the full walk that is the
daemon's source of truth.

Both only *queue* work (durable rows of ``pending``) and mark indexed files that are gone as
missing; they never open a file. What is not a regular file, or a symlink out of the roots, is
recorded as such and never queued. Missing rows are deleted later, as the deletion guard
(:mod:`neardupd.guard`) allows. The walk is resumable in small steps, so the daemon keeps serving
events (and systemd's watchdog) while it walks a large library.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence

from neardupd import guard
from neardupd.config import Config
from neardupd.files import Refusal, look, walk_images
from neardupd.indexer import Indexer, Work
from neardupd.store import Store, iso_time
from neardupd.watcher import Change, ChangeKind

log = logging.getLogger(__name__)


def queue(indexer: Indexer, path: bytes, quiet_period: float, now: float) -> bool:
    """Queue ``path`` when :meth:`Indexer.plan` says it needs work (not indexed, failed or
    quarantined as it is); record it instead if it must never be opened. A file modified within the
    quiet period waits for it, an older one is due at once. True when it was queued. (Inside
    ``indexer.writing()``.)"""
    step = indexer.plan(path)
    if isinstance(step, Refusal):
        indexer.refuse(path, step)
    if not isinstance(step, Work):
        return False
    modified = step.mtime_ns / 1e9
    indexer.store.queue(path, step.size, step.mtime_ns,
                        now if now - modified >= quiet_period else now + quiet_period)
    return True


class Walk:
    """One reconciliation of all roots, done in steps of a few hundred files."""

    def __init__(self, indexer: Indexer, roots: Sequence[bytes], patterns: Sequence[bytes], config: Config,
                 reason: str) -> None:
        self.indexer = indexer
        self.store: Store = indexer.store
        self.config = config
        self.reason = reason
        self.seen = 0
        self.queued = 0
        self.missing = 0
        self._steps = self._run(list(roots), tuple(patterns))
        self._now = 0.0

    def step(self, now: float, budget: int = 500) -> bool:
        """Walk up to ``budget`` more files; True when the whole walk is done."""
        self._now = now
        with self.indexer.writing():
            for _ in range(budget):
                if next(self._steps, False) is False:
                    return True
        return False

    def _run(self, roots: list[bytes], patterns: tuple[bytes, ...]) -> Iterator[bool]:
        for root in roots:
            state = guard.judge_root(self.store, root, self.config.daemon, self._now)
            if state in (guard.VANISHED, guard.EMPTY):
                self.missing += guard.hold_all(self.store, root, self._now)
                continue
            known = {row.path: row for row in self.store.files_under(root)}
            present: set[bytes] = set()
            for path in walk_images(root, patterns):
                self._look_at(path, known, present)
                yield True
            self.missing += guard.mark_gone(self.store, root, present, self._now)
            guard.forget_gone_paths(self.store, root, present)
            yield True

    def _look_at(self, path: bytes, known: dict, present: set[bytes]) -> None:
        try:
            info = os.stat(path)
        except OSError:
            return
        present.add(path)
        self.seen += 1
        row = known.get(path)
        if row and (row.size, row.mtime_ns) == (info.st_size, info.st_mtime_ns):
            if row.missing_since is not None:
                self.store.mark_present(row.id)
            return
        try:
            self.queued += queue(self.indexer, path, self.config.daemon.quiet_period, self._now)
        except OSError:
            return


class Changes:
    """Applies the watcher's changes to the database: queue what changed, keep the rows of what
    moved (nothing is decoded again), mark what went as missing. (Inside ``indexer.writing()``.)"""

    def __init__(self, indexer: Indexer, config: Config) -> None:
        self.indexer = indexer
        self.store: Store = indexer.store
        self.config = config
        self._moved_count = 0

    def apply(self, change: Change, now: float) -> bytes | None:
        """Apply one change; a folder whose contents must all be looked at next (moved in, or
        created with files in it), for :meth:`queue_folder`."""
        if change.kind is ChangeKind.CHANGED:
            self._changed(change.path, now)
        elif change.kind is ChangeKind.DELETED:
            self._gone(change.path, now)
        elif change.kind is ChangeKind.MOVED and change.dest is not None:
            return self._moved(change.path, change.dest, now)
        elif change.kind is ChangeKind.FOLDER:
            return change.path
        return None

    def take_moved(self) -> int:
        """Files moved (rows kept, nothing decoded) since the last call."""
        moved, self._moved_count = self._moved_count, 0
        return moved

    def queue_folder(self, folder: bytes, patterns: Sequence[bytes], now: float) -> int:
        """Everything below a folder that appeared; how many were queued."""
        queued = 0
        for path in walk_images(folder, patterns):
            try:
                queued += queue(self.indexer, path, self.config.daemon.quiet_period, now)
            except OSError:
                continue
        return queued

    def _changed(self, path: bytes, now: float) -> None:
        try:
            queue(self.indexer, path, self.config.daemon.quiet_period, now)
        except OSError:
            return

    def _gone(self, path: bytes, now: float) -> None:
        known = self.store.file_at(path)
        if known:
            self.store.mark_missing(known.id, iso_time(now))
            return
        for row in self.store.files_under(path):  # a folder
            self.store.mark_missing(row.id, iso_time(now))
        for table in ("pending", "errors", "quarantine"):
            self.store.forget_path(table, path)

    def _moved(self, source: bytes, dest: bytes, now: float) -> bytes | None:
        if os.path.isdir(dest):
            return self._moved_folder(source, dest, now)
        known = self.store.file_at(source)
        self.store.forget_path("pending", source)
        try:
            info = look(dest, self.indexer.roots, self.config.files.follow_symlinks)
        except OSError:
            info = None
        if known and isinstance(info, os.stat_result) and known.size == info.st_size:
            replaced = self.store.file_at(dest)
            if replaced and replaced.id != known.id:
                self.indexer.forget(replaced.id)
            self.store.move_file(known.id, dest, info.st_mtime_ns)
            self._moved_count += 1
            return None
        if known:
            self.store.mark_missing(known.id, iso_time(now))
        if info is not None:
            self._changed(dest, now)
        return None

    def _moved_folder(self, source: bytes, dest: bytes, now: float) -> bytes:
        for row in self.store.files_under(source):
            target = dest.rstrip(b"/") + row.path[len(source.rstrip(b"/")):]
            try:
                info = os.stat(target)
            except OSError:
                self.store.mark_missing(row.id, iso_time(now))
                continue
            if info.st_size == row.size and self.store.file_at(target) is None:
                self.store.move_file(row.id, target, info.st_mtime_ns)
                self._moved_count += 1
            else:
                self.store.mark_missing(row.id, iso_time(now))
        for path in self.store.paths_under("pending", source):
            self.store.forget_path("pending", path)
        return dest
