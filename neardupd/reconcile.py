"""Reconciliation, the daemon's source of truth: walk the roots and bring the database in line.

A walk queues every file that is new or changed (as durable pending work) and marks indexed files
that are gone as *missing*. Missing rows are deleted later by :func:`purge_missing`, and only when
that is safe: never while their root is unhealthy (vanished, emptied, on another device: an
unmounted share), and, when more than ``missing_share`` of a root's files are gone at once, only
after ``missing_grace`` seconds with the root healthy. Until then they are held, with their matches.

The walk is resumable in small steps, so the daemon keeps serving events (and systemd's watchdog)
while it walks a large library.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from neardupd.config import DaemonSettings
from neardupd.indexer import Indexer, walk_images
from neardupd.store import DaemonStore, now_iso

log = logging.getLogger(__name__)

HEALTHY, VANISHED, EMPTY, OTHER_DEVICE = "healthy", "vanished", "empty", "other_device"


def root_health(root: bytes, recorded_device: int | None) -> tuple[str, int | None]:
    """(state, device) of a root now."""
    try:
        info = os.stat(root)
    except OSError:
        return VANISHED, None
    if not stat.S_ISDIR(info.st_mode):
        return VANISHED, None
    try:
        with os.scandir(root) as entries:
            empty = next(entries, None) is None
    except OSError:
        return VANISHED, info.st_dev
    if empty:
        return EMPTY, info.st_dev
    if recorded_device is not None and info.st_dev != recorded_device:
        return OTHER_DEVICE, info.st_dev
    return HEALTHY, info.st_dev


def _age(iso: str | None) -> float:
    if not iso:
        return 0.0
    return (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds()


class Walk:
    """One reconciliation of all roots, done in steps of a few hundred files."""

    def __init__(self, store: DaemonStore, roots: Sequence[bytes], patterns: Sequence[bytes],
                 settings: DaemonSettings, reason: str) -> None:
        self.store = store
        self.settings = settings
        self.reason = reason
        self.seen = 0
        self.queued = 0
        self.missing = 0
        self._steps = self._run(list(roots), tuple(patterns))

    def step(self, budget: int = 500) -> bool:
        """Walk up to ``budget`` more files; True when the whole walk is done."""
        with self.store.transaction():
            for _ in range(budget):
                if next(self._steps, False) is False:
                    return True
        return False

    def _run(self, roots: list[bytes], patterns: tuple[bytes, ...]) -> Iterator[bool]:
        for root in roots:
            state = record_health(self.store, root, self.settings)
            rows = self.store.files_under(root)
            if state in (VANISHED, EMPTY):
                for file_id, _, _, _, missing_since in rows:
                    if missing_since is None:
                        self.store.mark_missing(file_id)
                        self.missing += 1
                continue
            known = {path: (file_id, size, mtime, missing) for file_id, path, size, mtime, missing in rows}
            present: set[bytes] = set()
            for path in walk_images(root, patterns):
                self._look_at(path, known, present)
                yield True
            for path, (file_id, _, _, missing_since) in known.items():
                if path not in present and missing_since is None and not os.path.lexists(path):
                    self.store.mark_missing(file_id)
                    self.missing += 1
            for table in ("pending", "errors", "quarantine"):
                for path in self.store.paths_under(table, root):
                    if path not in present and not os.path.lexists(path):
                        self.store.forget_path(table, path)
            yield True

    def _look_at(self, path: bytes, known: dict, present: set[bytes]) -> None:
        try:
            info = os.stat(path)
        except OSError:
            return
        if not stat.S_ISREG(info.st_mode):
            return
        present.add(path)
        self.seen += 1
        row = known.get(path)
        if row and (row[1], row[2]) == (info.st_size, info.st_mtime_ns):
            if row[3] is not None:
                self.store.mark_present(row[0])
            return
        queue(self.store, path, info, self.settings.quiet_period)
        self.queued += 1


def record_health(store: DaemonStore, root: bytes, settings: DaemonSettings) -> str:
    """Look at a root, record its state (inside a transaction) and return it. A root found on
    another device is accepted there (healthy) after ``missing_grace`` seconds in that state."""
    recorded = store.root(root)
    device, previous, since = recorded if recorded else (None, "", None)
    state, now_device = root_health(root, device)
    if state == OTHER_DEVICE and previous == OTHER_DEVICE and _age(since) >= settings.missing_grace:
        log.warning("%s: now on device %s for %gs; accepting it", os.fsdecode(root), now_device,
                    settings.missing_grace)
        state, device, previous = HEALTHY, now_device, ""
    if device is None:
        device = now_device
    store.set_root(root, device, state, since if state == previous else now_iso())
    if state != previous and state != HEALTHY:
        log.warning("%s is %s: its indexed files are held as missing, none is deleted",
                    os.fsdecode(root), state.replace("_", " "))
    return state


def queue(store: DaemonStore, path: bytes, info: os.stat_result, quiet_period: float) -> None:
    """Queue ``path`` unless the store already knows it as it is (indexed, failed or quarantined);
    a file modified within the quiet period waits for it, an older one is due at once."""
    known = store.file_at(path)
    current = (info.st_size, info.st_mtime_ns)
    if known and (known.size, known.mtime_ns) == current:
        return
    failed = store.error_at(path)
    if (failed and failed[:2] == current) or store.quarantined_at(path) == current:
        return
    now = time.time()
    modified = info.st_mtime_ns / 1e9
    due = now if now - modified >= quiet_period else now + quiet_period
    store.queue(path, info.st_size, info.st_mtime_ns, due)


def purge_missing(store: DaemonStore, indexer: Indexer, roots: Sequence[bytes],
                  settings: DaemonSettings) -> tuple[int, int]:
    """Delete the missing rows it is safe to delete, judging each root's health as it is now (a share
    unmounted since the last walk holds its rows); return (deleted, still held)."""
    removed = held = 0
    for root in roots:
        rows = store.files_under(root)
        missing = [(file_id, path, since) for file_id, path, _, _, since in rows if since is not None]
        if not missing:
            continue
        with store.transaction():
            if record_health(store, root, settings) != HEALTHY:
                held += len(missing)
                continue
            small = len(missing) <= settings.missing_share * len(rows)
            root_settled = _age(store.root(root)[2]) >= settings.missing_grace
            deleted = 0
            for file_id, path, since in missing:
                if os.path.lexists(path):
                    store.mark_present(file_id)
                elif small or (root_settled and _age(since) >= settings.missing_grace):
                    indexer.forget(file_id)
                    deleted += 1
                else:
                    held += 1
        removed += deleted
        if not small and deleted == 0:
            log.debug("%s: %d of %d files gone at once; held as missing for %gs with the root healthy",
                      os.fsdecode(root), len(missing), len(rows), settings.missing_grace)
    return removed, held
