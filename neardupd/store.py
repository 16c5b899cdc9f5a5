"""The SQLite index: the only module that imports sqlite3.

One writer connection per process, in WAL mode with foreign keys on; every write goes through
:meth:`Store.transaction` (``BEGIN IMMEDIATE`` ... ``COMMIT``). The schema lives in numbered SQL
files in ``migrations/``, each ending with ``PRAGMA user_version = N``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import numpy as np

from neardupd.errors import SchemaTooNewError, StoreError
from neardupd.signature import Box, Picture, Signature, to_signed, to_unsigned

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class FileRow:
    id: int
    path: bytes
    size: int
    mtime_ns: int
    file_digest: bytes
    pixel_digest: bytes


@dataclass(frozen=True)
class Match:
    a: int
    b: int
    score: float
    kind: str
    transform: str
    details: dict


def display_path(path: bytes) -> str:
    """The path as text for people and for the ``path`` column (invalid UTF-8 -> U+FFFD)."""
    return path.decode("utf-8", errors="replace")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def migrations_dir() -> Path:
    """The SQL migrations: the source tree's folder in a checkout (an editable install keeps a
    copy that would go stale), else the copy shipped inside the installed package."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "migrations").is_dir():
        return checkout / "migrations"
    return Path(str(resources.files("neardupd") / "migrations"))


def load_migrations(folder: Path | None = None) -> list[tuple[int, str]]:
    """(version, sql) for each migration file, in order; versions must be 1, 2, 3, ..."""
    folder = folder or migrations_dir()
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _MIGRATION_NAME.match(p.name)))
    for expected, (version, path) in enumerate(found, start=1):
        if version != expected:
            raise StoreError(path, f"migration {version} found where {expected} was expected")
    return [(version, path.read_text(encoding="utf-8")) for version, path in found]


class Store:
    """The index database. Use :func:`open_store`."""

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self.connection = connection
        self.path = path

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; ``ROLLBACK`` on any error."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    @property
    def version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        """Apply the migrations this database lacks; return the resulting version."""
        migrations = load_migrations()
        latest = migrations[-1][0] if migrations else 0
        if self.version > latest:
            raise SchemaTooNewError(self.path, f"schema version {self.version} is newer than this "
                                    f"neardupd knows ({latest}); upgrade neardupd")
        for version, sql in migrations:
            if version <= self.version:
                continue
            log.info("applying migration %04d to %s", version, self.path)
            self.connection.executescript(f"BEGIN IMMEDIATE;\n{sql}\nCOMMIT;")
            if self.version != version:
                raise StoreError(self.path, f"migration {version:04d} did not set user_version to {version}")
        return self.version

    # --- reading -------------------------------------------------------------------------

    def setting(self, key: str, default: str | None = None) -> str | None:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def file_at(self, path: bytes) -> FileRow | None:
        row = self.connection.execute(
            "SELECT id, path_bytes, size, mtime_ns, file_digest, pixel_digest FROM files "
            "WHERE path_bytes = ?", (path,)).fetchone()
        return FileRow(*row) if row else None

    def files_with_digest(self, column: str, digest: bytes) -> list[FileRow]:
        if column not in ("file_digest", "pixel_digest"):
            raise ValueError(column)
        rows = self.connection.execute(
            f"SELECT id, path_bytes, size, mtime_ns, file_digest, pixel_digest FROM files WHERE {column} = ?",
            (digest,)).fetchall()
        return [FileRow(*row) for row in rows]

    def files_of_size(self, size: int) -> list[FileRow]:
        rows = self.connection.execute(
            "SELECT id, path_bytes, size, mtime_ns, file_digest, pixel_digest FROM files WHERE size = ?",
            (size,)).fetchall()
        return [FileRow(*row) for row in rows]

    def error_at(self, path: bytes) -> tuple[int, int, str] | None:
        """(size, mtime_ns, kind) of the recorded error for ``path``, if any."""
        row = self.connection.execute(
            "SELECT size, mtime_ns, kind FROM errors WHERE path_bytes = ?", (path,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def quarantined_at(self, path: bytes) -> tuple[int, int] | None:
        """(size, mtime_ns) of ``path`` when its decoder crashed or hung (schema 2)."""
        try:
            row = self.connection.execute("SELECT size, mtime_ns FROM quarantine WHERE path_bytes = ?",
                                          (path,)).fetchone()
        except sqlite3.OperationalError:  # a read-only index still at schema 1
            return None
        return (row[0], row[1]) if row else None

    def paths(self) -> Iterator[tuple[int, bytes]]:
        """(id, path) of every indexed file."""
        yield from self.connection.execute("SELECT id, path_bytes FROM files")

    def error_paths(self) -> list[bytes]:
        return [row[0] for row in self.connection.execute("SELECT path_bytes FROM errors")]

    def index_hashes(self) -> Iterator[tuple[int, int, tuple[int, ...]]]:
        """(file_id, content hash, variant hashes: windows then rotations) for the neighbour index."""
        rows = self.connection.execute(
            "SELECT file_id, kind, form, hash FROM hashes WHERE (kind = 'content' AND form = 0) "
            "OR kind IN ('window', 'rotation') ORDER BY file_id, kind = 'rotation', kind = 'window', form")
        current, content, variants = None, 0, []
        for file_id, kind, _, value in rows:
            if file_id != current:
                if current is not None:
                    yield current, content, tuple(variants)
                current, content, variants = file_id, 0, []
            if kind == "content":
                content = to_unsigned(value)
            else:
                variants.append(to_unsigned(value))
        if current is not None:
            yield current, content, tuple(variants)

    def picture(self, file_id: int) -> Picture:
        row = self.connection.execute(
            "SELECT s.thumb, s.thumb_size, s.contrast, s.content_left, s.content_top, s.content_right, "
            "s.content_bottom, s.mean_r, s.mean_g, s.mean_b, f.width, f.height, f.size "
            "FROM signatures AS s JOIN files AS f ON f.id = s.file_id WHERE s.file_id = ?",
            (file_id,)).fetchone()
        if row is None:
            raise StoreError(self.path, f"no signature for file id {file_id}")
        thumb = np.frombuffer(row[0], dtype=np.uint8).reshape(row[1], row[1])
        return Picture(thumb, row[2], Box(*row[3:7]), (row[7], row[8], row[9]), row[10], row[11], row[12])

    def path_of(self, file_id: int) -> bytes:
        return self.connection.execute("SELECT path_bytes FROM files WHERE id = ?", (file_id,)).fetchone()[0]

    def pairs(self, min_score: float, kinds: tuple[str, ...] = ()) -> list[sqlite3.Row]:
        """Scored pairs with their paths, best first."""
        sql = ("SELECT fa.path_bytes AS a, fb.path_bytes AS b, m.score, m.kind, m.transform, m.details "
               "FROM matches m JOIN files fa ON fa.id = m.a JOIN files fb ON fb.id = m.b WHERE m.score >= ?")
        params: list[object] = [min_score]
        if kinds:
            sql += f" AND m.kind IN ({','.join('?' * len(kinds))})"
            params.extend(kinds)
        return self.connection.execute(sql + " ORDER BY m.score DESC, fa.path, fb.path", params).fetchall()

    def counts(self) -> dict[str, int]:
        one = self.connection.execute
        return {"files": one("SELECT count(*) FROM files").fetchone()[0],
                "errors": one("SELECT count(*) FROM errors").fetchone()[0],
                "pairs": one("SELECT count(*) FROM duplicate_pairs").fetchone()[0]}

    # --- writing (call inside transaction()) -----------------------------------------------

    def add_file(self, path: bytes, size: int, mtime_ns: int, file_digest: bytes, pixel_digest: bytes,
                 fmt: str, width: int, height: int, signature: Signature) -> int:
        cursor = self.connection.execute(
            "INSERT INTO files (path, path_bytes, size, mtime_ns, file_digest, pixel_digest, format, "
            "width, height, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (display_path(path), path, size, mtime_ns, file_digest, pixel_digest, fmt, width, height, now_iso()))
        file_id = int(cursor.lastrowid or 0)
        box = signature.content_box
        self.connection.execute(
            "INSERT INTO signatures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (file_id, to_signed(signature.phash), box.left, box.top, box.right, box.bottom,
             signature.contrast, *signature.mean_rgb, signature.thumb.shape[0], signature.thumb.tobytes()))
        rows = [(file_id, "content", form, value) for form, value in enumerate(signature.content_hashes)]
        rows += [(file_id, "window", form, value) for form, value in enumerate(signature.window_hashes)]
        rows += [(file_id, "rotation", form, value) for form, value in enumerate(signature.rotation_hashes)]
        self.connection.executemany("INSERT INTO hashes (file_id, kind, form, hash) VALUES (?, ?, ?, ?)",
                                    [(i, kind, form, to_signed(value)) for i, kind, form, value in rows])
        self.connection.execute("DELETE FROM errors WHERE path_bytes = ?", (path,))
        return file_id

    def move_file(self, file_id: int, path: bytes, mtime_ns: int) -> None:
        self.connection.execute("UPDATE files SET path = ?, path_bytes = ?, mtime_ns = ?, missing_since = NULL "
                                "WHERE id = ?", (display_path(path), path, mtime_ns, file_id))
        self.connection.execute("DELETE FROM errors WHERE path_bytes = ?", (path,))
        self.connection.execute("DELETE FROM quarantine WHERE path_bytes = ?", (path,))

    def remove_file(self, file_id: int) -> None:
        self.connection.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def record_error(self, path: bytes, size: int, mtime_ns: int, kind: str, message: str) -> None:
        self.connection.execute(
            "INSERT INTO errors (path, path_bytes, size, mtime_ns, kind, message, seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path_bytes) DO UPDATE SET size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, kind = excluded.kind, message = excluded.message, "
            "seen_at = excluded.seen_at",
            (display_path(path), path, size, mtime_ns, kind, message, now_iso()))

    def remove_error(self, path: bytes) -> None:
        self.connection.execute("DELETE FROM errors WHERE path_bytes = ?", (path,))

    def add_match(self, match: Match) -> None:
        a, b = sorted((match.a, match.b))
        self.connection.execute(
            "INSERT INTO matches (a, b, score, kind, transform, details, found_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (a, b) DO UPDATE SET score = excluded.score, kind = excluded.kind, "
            "transform = excluded.transform, details = excluded.details",
            (a, b, round(match.score, 4), match.kind, match.transform,
             json.dumps(match.details, sort_keys=True), now_iso()))


class DaemonStore(Store):
    """What the daemon adds: durable pending work, quarantine, held (missing) rows, roots, health."""

    # --- pending work ------------------------------------------------------------------------

    def queue(self, path: bytes, size: int, mtime_ns: int, due: float) -> None:
        """Add ``path`` to the pending work, or push its due time to ``due`` if it is there; a
        changed size or mtime starts its attempts again."""
        self.connection.execute(
            "INSERT INTO pending (path_bytes, path, size, mtime_ns, due, queued_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (path_bytes) DO UPDATE SET due = excluded.due, "
            "attempts = CASE WHEN size = excluded.size AND mtime_ns = excluded.mtime_ns THEN attempts ELSE 0 END, "
            "size = excluded.size, mtime_ns = excluded.mtime_ns",
            (path, display_path(path), size, mtime_ns, due, now_iso()))

    def due_work(self, now: float, limit: int, skip: Iterable[bytes] = ()) -> list[PendingRow]:
        skipped = set(skip)
        rows = self.connection.execute(
            "SELECT path_bytes, size, mtime_ns, due, attempts FROM pending WHERE due <= ? ORDER BY due LIMIT ?",
            (now, limit + len(skipped))).fetchall()
        return [PendingRow(*row) for row in rows if row[0] not in skipped][:limit]

    def pending_at(self, path: bytes) -> PendingRow | None:
        row = self.connection.execute("SELECT path_bytes, size, mtime_ns, due, attempts FROM pending "
                                      "WHERE path_bytes = ?", (path,)).fetchone()
        return PendingRow(*row) if row else None

    def done(self, path: bytes) -> None:
        self.connection.execute("DELETE FROM pending WHERE path_bytes = ?", (path,))

    def retry(self, path: bytes, due: float) -> None:
        self.connection.execute("UPDATE pending SET due = ?, attempts = attempts + 1 WHERE path_bytes = ?",
                                (due, path))

    def next_due(self) -> float | None:
        row = self.connection.execute("SELECT min(due) FROM pending").fetchone()
        return row[0]

    # --- quarantine --------------------------------------------------------------------------

    def quarantine(self, path: bytes, size: int, mtime_ns: int, kind: str, message: str) -> None:
        self.connection.execute(
            "INSERT INTO quarantine (path_bytes, path, size, mtime_ns, kind, message, at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (path_bytes) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "kind = excluded.kind, message = excluded.message, at = excluded.at",
            (path, display_path(path), size, mtime_ns, kind, message, now_iso()))

    # --- files under a root, missing files ------------------------------------------------------

    def files_under(self, root: bytes) -> list[tuple[int, bytes, int, int, str | None]]:
        """(id, path, size, mtime_ns, missing_since) of every file below ``root``."""
        low, high = _prefix_range(root)
        return [tuple(row) for row in self.connection.execute(  # type: ignore[misc]
            "SELECT id, path_bytes, size, mtime_ns, missing_since FROM files WHERE path_bytes >= ? AND path_bytes < ?",
            (low, high))]

    def paths_under(self, table: str, root: bytes) -> list[bytes]:
        """Paths below ``root`` in ``errors``, ``quarantine`` or ``pending``."""
        if table not in ("errors", "quarantine", "pending"):
            raise ValueError(table)
        low, high = _prefix_range(root)
        return [row[0] for row in self.connection.execute(
            f"SELECT path_bytes FROM {table} WHERE path_bytes >= ? AND path_bytes < ?", (low, high))]

    def mark_missing(self, file_id: int) -> None:
        self.connection.execute("UPDATE files SET missing_since = ? WHERE id = ? AND missing_since IS NULL",
                                (now_iso(), file_id))

    def mark_present(self, file_id: int) -> None:
        self.connection.execute("UPDATE files SET missing_since = NULL WHERE id = ?", (file_id,))

    def missing(self) -> list[tuple[int, bytes, str]]:
        """(id, path, missing_since) of every held row."""
        return [tuple(row) for row in self.connection.execute(  # type: ignore[misc]
            "SELECT id, path_bytes, missing_since FROM files WHERE missing_since IS NOT NULL")]

    def forget_path(self, table: str, path: bytes) -> None:
        if table not in ("errors", "quarantine", "pending"):
            raise ValueError(table)
        self.connection.execute(f"DELETE FROM {table} WHERE path_bytes = ?", (path,))

    # --- roots and health ------------------------------------------------------------------

    def root(self, path: bytes) -> tuple[int | None, str, str | None] | None:
        """(device, state, healthy_since) last recorded for a root."""
        row = self.connection.execute("SELECT device, state, healthy_since FROM roots WHERE path_bytes = ?",
                                      (path,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def set_root(self, path: bytes, device: int | None, state: str, healthy_since: str | None) -> None:
        self.connection.execute(
            "INSERT INTO roots (path_bytes, path, device, state, healthy_since, checked_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (path_bytes) DO UPDATE SET device = coalesce(excluded.device, device), "
            "state = excluded.state, healthy_since = excluded.healthy_since, checked_at = excluded.checked_at",
            (path, display_path(path), device, state, healthy_since, now_iso()))

    def set_setting(self, key: str, value: str) -> None:
        self.connection.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def checkpoint(self) -> None:
        """Fold the WAL back into the database file (when idle, and on the way out)."""
        self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@dataclass(frozen=True)
class PendingRow:
    path: bytes
    size: int
    mtime_ns: int
    due: float
    attempts: int


def _prefix_range(root: bytes) -> tuple[bytes, bytes]:
    """Byte-string bounds of every path below the folder ``root`` (``/`` + 1 is ``0``)."""
    base = root.rstrip(b"/")
    return base + b"/", base + b"0"


def status_counts(store: Store) -> dict[str, int]:
    """What ``neardupd status`` shows: indexed, pending, quarantined, missing, errors, pairs."""
    one = store.connection.execute
    counts = store.counts()
    if store.version >= 2:
        counts.update(pending=one("SELECT count(*) FROM pending").fetchone()[0],
                      due=one("SELECT count(*) FROM pending WHERE due <= unixepoch('subsec')").fetchone()[0],
                      quarantined=one("SELECT count(*) FROM quarantine").fetchone()[0],
                      missing=one("SELECT count(*) FROM files WHERE missing_since IS NOT NULL").fetchone()[0])
    return counts


def open_daemon_store(path: str | os.PathLike[str]) -> DaemonStore:
    store = open_store(path)
    return DaemonStore(store.connection, store.path)


def open_store(path: str | os.PathLike[str], *, readonly: bool = False) -> Store:
    """Open (creating and migrating if needed) the index at ``path``."""
    path = os.fspath(path)
    try:
        if readonly:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                         check_same_thread=False)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA busy_timeout = 10000")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.row_factory = sqlite3.Row
    except (sqlite3.Error, OSError) as err:
        raise StoreError(path, f"cannot open the database ({err}); check the path and its permissions") from err
    store = Store(connection, path)
    if not readonly:
        try:
            store.migrate()
        except sqlite3.DatabaseError as err:
            store.close()
            raise StoreError(path, f"not a usable neardupd database ({err})") from err
    return store
