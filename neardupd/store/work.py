"""What the daemon's promises rest on: durable pending work, quarantine, held (missing) rows, roots.

``neardupd scan`` uses the roots and missing rows too: the deletion guard is shared.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from neardupd.errors import StoreError
from neardupd.store.connection import connect
from neardupd.store.decisions import Decided
from neardupd.store.rows import PendingRow, RootRow, UnderRow, display_path, iso_time
from neardupd.store.sqlite import load_migrations

_PATH_TABLES = ("errors", "quarantine", "pending")
_OLDEST_READABLE = 2
"""Read-only commands work on indexes from this schema version on (``files.missing_since``)."""


class Store(Decided):
    """The index with the daemon's tables. Use :func:`open_store`."""

    # --- pending work ------------------------------------------------------------------------

    def queue(self, path: bytes, size: int, mtime_ns: int, due: float) -> None:
        """Add ``path`` to the pending work, or push its due time to ``due`` if it is there; a
        changed size or mtime starts its attempts again."""
        self._run(
            "INSERT INTO pending (path_bytes, path, size, mtime_ns, due, queued_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (path_bytes) DO UPDATE SET due = excluded.due, "
            "attempts = CASE WHEN size = excluded.size AND mtime_ns = excluded.mtime_ns THEN attempts ELSE 0 END, "
            "size = excluded.size, mtime_ns = excluded.mtime_ns",
            (path, display_path(path), size, mtime_ns, due, iso_time()))

    def due_work(self, now: float, limit: int, skip: Iterable[bytes] = ()) -> list[PendingRow]:
        skipped = set(skip)
        rows = self._all("SELECT path_bytes, size, mtime_ns, due, attempts FROM pending WHERE due <= ? "
                         "ORDER BY due LIMIT ?", (now, limit + len(skipped)))
        return [PendingRow(*row) for row in rows if row[0] not in skipped][:limit]

    def pending_at(self, path: bytes) -> PendingRow | None:
        row = self._one("SELECT path_bytes, size, mtime_ns, due, attempts FROM pending WHERE path_bytes = ?",
                        (path,))
        return PendingRow(*row) if row else None

    def done(self, path: bytes) -> None:
        self._run("DELETE FROM pending WHERE path_bytes = ?", (path,))

    def retry(self, path: bytes, due: float) -> None:
        self._run("UPDATE pending SET due = ?, attempts = attempts + 1 WHERE path_bytes = ?", (due, path))

    def next_due(self) -> float | None:
        return self._one("SELECT min(due) FROM pending")[0]

    def pending_count(self) -> int:
        return self._one("SELECT count(*) FROM pending")[0]

    # --- quarantine --------------------------------------------------------------------------

    def quarantine(self, path: bytes, size: int, mtime_ns: int, kind: str, message: str) -> None:
        self._run(
            "INSERT INTO quarantine (path_bytes, path, size, mtime_ns, kind, message, at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (path_bytes) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "kind = excluded.kind, message = excluded.message, at = excluded.at",
            (path, display_path(path), size, mtime_ns, kind, message, iso_time()))

    def quarantined_at(self, path: bytes) -> tuple[int, int] | None:
        """(size, mtime_ns) of ``path`` when its decoder crashed or hung."""
        row = self._one("SELECT size, mtime_ns FROM quarantine WHERE path_bytes = ?", (path,))
        return (row[0], row[1]) if row else None

    # --- files under a root, missing files ------------------------------------------------------

    def files_under(self, root: bytes) -> list[UnderRow]:
        """Every indexed file below ``root``."""
        low, high = _prefix_range(root)
        return [UnderRow(*row) for row in self._all(
            "SELECT id, path_bytes, size, mtime_ns, missing_since FROM files WHERE path_bytes >= ? AND path_bytes < ?",
            (low, high))]

    def paths_under(self, table: str, root: bytes) -> list[bytes]:
        """Paths below ``root`` in ``errors``, ``quarantine`` or ``pending``."""
        if table not in _PATH_TABLES:
            raise ValueError(table)
        low, high = _prefix_range(root)
        return [row[0] for row in self._all(f"SELECT path_bytes FROM {table} WHERE path_bytes >= ? AND path_bytes < ?",
                                            (low, high))]

    def mark_missing(self, file_id: int, since: str | None = None) -> None:
        self._run("UPDATE files SET missing_since = ? WHERE id = ? AND missing_since IS NULL",
                  (since or iso_time(), file_id))

    def mark_present(self, file_id: int) -> None:
        self._run("UPDATE files SET missing_since = NULL WHERE id = ?", (file_id,))

    def forget_path(self, table: str, path: bytes) -> None:
        if table not in _PATH_TABLES:
            raise ValueError(table)
        self._run(f"DELETE FROM {table} WHERE path_bytes = ?", (path,))

    # --- roots --------------------------------------------------------------------------------

    def root(self, path: bytes) -> RootRow | None:
        """What was last recorded for a root."""
        row = self._one("SELECT device, state, healthy_since FROM roots WHERE path_bytes = ?", (path,))
        return RootRow(*row) if row else None

    def set_root(self, path: bytes, device: int | None, state: str, since: str | None, checked_at: str) -> None:
        self._run(
            "INSERT INTO roots (path_bytes, path, device, state, healthy_since, checked_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (path_bytes) DO UPDATE SET device = coalesce(excluded.device, device), "
            "state = excluded.state, healthy_since = excluded.healthy_since, checked_at = excluded.checked_at",
            (path, display_path(path), device, state, since, checked_at))

    # --- status ---------------------------------------------------------------------------------

    def status_counts(self, now: float) -> dict[str, int]:
        """What ``neardupd status`` shows: indexed, pending (due by ``now``), quarantined, missing,
        errors, pairs. (``now`` comes from the caller: SQLite 3.40 of Debian 12 has no subsecond
        ``unixepoch``.)"""
        counts = self.counts()
        counts.update(pending=self.pending_count(),
                      due=self._one("SELECT count(*) FROM pending WHERE due <= ?", (now,))[0],
                      quarantined=self._one("SELECT count(*) FROM quarantine")[0],
                      missing=self._one("SELECT count(*) FROM files WHERE missing_since IS NOT NULL")[0])
        return counts


def _prefix_range(root: bytes) -> tuple[bytes, bytes]:
    """Byte-string bounds of every path below the folder ``root`` (``/`` + 1 is ``0``)."""
    base = root.rstrip(b"/")
    return base + b"/", base + b"0"


def open_store(path: str | os.PathLike[str], *, readonly: bool = False) -> Store:
    """Open the index at ``path``: a writer creates and migrates it; a reader (``readonly``) refuses
    a file that is not a neardupd index or is newer than this neardupd."""
    path = os.fspath(path)
    store = Store(connect(path, readonly=readonly), path, readonly=readonly)
    try:
        if readonly:
            migrations = load_migrations()
            store.refuse_newer(migrations[-1][0] if migrations else 0)
            version = store.version
            if version == 0:
                raise StoreError(path, "not a neardupd index (no schema in it); check --db or $NEARDUPD_DB")
            if version < _OLDEST_READABLE:
                raise StoreError(path, f"schema version {store.version} is too old to read; run `neardupd scan` "
                                 "or the daemon on it once to upgrade it")
        else:
            store.migrate()
    except BaseException:
        store.close()
        raise
    return store
