"""The SQLite index: migrations, transactions and the index's tables (opening it: connection.py).

One writer connection per process, in WAL mode with foreign keys on; every write goes through
:meth:`SqliteIndex.transaction` (``BEGIN IMMEDIATE`` ... ``COMMIT``). The schema lives in numbered
SQL files in ``migrations/``, each ending with ``PRAGMA user_version = N``. Every SQLite error
leaves this package as a :class:`~neardupd.errors.StoreError` saying what to check.

A writer that closes leaves the database in rollback-journal mode when it is the last one open, so
the group's read-only readers can open it while no neardupd runs: a WAL database cannot be opened
read-only without its ``-shm`` file, which SQLite deletes with the last connection.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Self

import numpy as np

from neardupd import feature_blob, thumb_file
from neardupd.errors import DamagedRowError, RowGoneError, SchemaTooNewError, StoreError
from neardupd.features import Features
from neardupd.metadata import Metadata
from neardupd.pairs import Scored
from neardupd.signature import Box, Picture, Signature, to_signed
from neardupd.store.connection import file_identity, progress_told, translate
from neardupd.store.rows import (
    HASH_COLUMNS,
    SEARCHED_HASH_COLUMNS,
    FileRow,
    HashRows,
    PairRow,
    display_path,
    hash_row,
    iso_time,
)

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_FILE_COLUMNS = ("id, path_bytes, size, mtime_ns, file_digest, pixel_digest, "
                 "EXISTS (SELECT 1 FROM features AS k WHERE k.file_id = files.id)")


def migrations_dir() -> Path:
    """The SQL migrations: the source tree's folder in a checkout (an editable install keeps a
    copy that would go stale), else the copy shipped inside the installed package."""
    checkout = Path(__file__).resolve().parents[2]
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


class SqliteIndex:
    """The index database: files, signatures, hashes, matches, errors. Use :func:`open_store`."""

    def __init__(self, connection: sqlite3.Connection, path: str, *, readonly: bool = False) -> None:
        self.connection = connection
        self.path = path
        self.readonly = readonly
        self._identity = file_identity(path)
        self._schema: int | None = None

    # --- life ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close; a writer that is the last connection leaves the file in rollback-journal mode,
        readable by readers without write access (see the module docstring)."""
        if not self.readonly:
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("PRAGMA busy_timeout = 100")
                self.connection.execute("PRAGMA journal_mode = DELETE")  # stays WAL if others have it open
        with contextlib.suppress(sqlite3.Error):
            self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def translated(self) -> Iterator[None]:
        """Turn any SQLite error inside into a StoreError."""
        try:
            yield
        except sqlite3.Error as err:
            raise translate(err, self.path) from err

    def _all(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self.translated():
            return self.connection.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple | list = ()) -> tuple | None:
        with self.translated():
            return self.connection.execute(sql, params).fetchone()

    def _run(self, sql: str, params: tuple | list = ()) -> int:
        """Run one statement; the last inserted row id."""
        with self.translated():
            return int(self.connection.execute(sql, params).lastrowid or 0)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; ``ROLLBACK`` on any error."""
        self._run("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already (disk full)
                self.connection.execute("ROLLBACK")
            raise
        try:
            self._run("COMMIT")
        except StoreError:
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("ROLLBACK")
            raise

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one state of the index (``BEGIN`` ... ``COMMIT``): what another process
        writes between them is seen whole or not at all."""
        self._run("BEGIN")
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("COMMIT")

    def still_in_place(self) -> bool:
        """Whether the database file at ``path`` is still the one opened (not deleted or replaced)."""
        return self._identity is not None and file_identity(self.path) == self._identity

    @property
    def version(self) -> int:
        return int(self._one("PRAGMA user_version")[0])

    @property
    def schema(self) -> int:
        """The schema version the reads are written for (the columns an older index lacks read as
        NULL): read once, not a query per row, and again after :meth:`migrate`."""
        if self._schema is None:
            self._schema = self.version
        return self._schema

    def migrate(self) -> int:
        """Apply the migrations this database lacks; return the resulting version."""
        migrations = load_migrations()
        self.refuse_newer(migrations[-1][0] if migrations else 0)
        # what a migration's SQL cannot do alone (0010 converts the thumbs to WebP)
        self.connection.create_function("neardupd_thumb_webp", 2, thumb_file.pack_raw, deterministic=True)
        for version, sql in migrations:
            if version <= self.version:
                continue
            log.info("applying migration %04d to %s", version, self.path)
            with self.translated(), progress_told(self.connection, f"upgrading {self.path} to schema {version}"):
                self.connection.executescript(f"BEGIN IMMEDIATE;\n{sql}\nCOMMIT;")
            if self.version != version:
                raise StoreError(self.path, f"migration {version:04d} did not set user_version to {version}")
        self._schema = None
        return self.version

    def refuse_newer(self, latest: int) -> None:
        if self.version > latest:
            raise SchemaTooNewError(self.path, f"schema version {self.version} is newer than this "
                                    f"neardupd knows ({latest}); upgrade neardupd")

    def integrity_problems(self) -> list[str]:
        """What SQLite's integrity and foreign-key checks find (a damaged page is one line)."""
        try:
            lines = [row[0] for row in self.connection.execute("PRAGMA integrity_check")]
            problems = [f"integrity: {line}" for line in lines if line != "ok"]
            problems += [f"foreign key: {tuple(row)}"
                         for row in self.connection.execute("PRAGMA foreign_key_check").fetchall()]
        except sqlite3.DatabaseError as err:
            return [f"integrity: {translate(err, self.path).reason}"]
        return problems

    def checkpoint(self) -> None:
        """Fold the WAL back into the database file (when idle, and on the way out)."""
        self._run("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- settings --------------------------------------------------------------------------

    def setting(self, key: str, default: str | None = None) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        self._run("INSERT INTO meta (key, value) VALUES (?, ?) "
                  "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    # --- files --------------------------------------------------------------------------------

    def file_at(self, path: bytes) -> FileRow | None:
        row = self._one(f"SELECT {_FILE_COLUMNS} FROM files WHERE path_bytes = ?", (path,))
        return FileRow(*row) if row else None

    def files_with_digest(self, column: str, digest: bytes) -> list[FileRow]:
        if column not in ("file_digest", "pixel_digest"):
            raise ValueError(column)
        return [FileRow(*row) for row in self._all(f"SELECT {_FILE_COLUMNS} FROM files WHERE {column} = ?",
                                                   (digest,))]

    def files_of_size(self, size: int) -> list[FileRow]:
        return [FileRow(*row) for row in self._all(f"SELECT {_FILE_COLUMNS} FROM files WHERE size = ?", (size,))]

    def paths(self) -> list[tuple[int, bytes]]:
        """(id, path) of every indexed file."""
        return [(row[0], row[1]) for row in self._all("SELECT id, path_bytes FROM files")]

    def still_indexed(self, file_ids: Sequence[int]) -> set[int]:
        """Which of these files are still in the index (another process may have removed some)."""
        if not file_ids:
            return set()
        marks = ", ".join("?" * len(file_ids))
        return {row[0] for row in self._all(f"SELECT id FROM files WHERE id IN ({marks})", list(file_ids))}

    def path_of(self, file_id: int) -> bytes:
        row = self._one("SELECT path_bytes FROM files WHERE id = ?", (file_id,))
        if row is None:
            raise StoreError(self.path, f"no file with id {file_id}")
        return row[0]

    def sample_files(self) -> list[tuple[bytes, int, int, bytes, int]]:
        """(path, size, mtime_ns, file digest, signed pHash) of every indexed file, for ``check``."""
        return [tuple(row) for row in self._all(  # type: ignore[misc]
            "SELECT f.path_bytes, f.size, f.mtime_ns, f.file_digest, s.phash FROM files f "
            "JOIN signatures s ON s.file_id = f.id")]

    def index_hashes(self, first_variant: int = 0) -> HashRows:
        """Every picture's content hash and variant hashes (windows, then rotations) from
        ``first_variant`` on for the neighbour index, in bulk: one row a picture, as integers (1.6 s at
        100,000 pictures, benchmarks/scale.py), only the columns asked for. An index before v9, opened
        read-only, has a row a hash: read in its stored order (NOT INDEXED) and grouped with numpy."""
        if self.schema < 9:
            return HashRows.grouped(self._read_ints(
                "SELECT file_id, CASE kind WHEN 'content' THEN 0 WHEN 'window' THEN 1 ELSE 2 END, form, hash "
                "FROM hashes NOT INDEXED WHERE form = 0 OR kind != 'content'", 4)).from_variant(first_variant)
        columns = SEARCHED_HASH_COLUMNS[:1] + SEARCHED_HASH_COLUMNS[1 + first_variant:]
        variants = columns[1:]
        return HashRows.from_columns(self._read_ints(
            f"SELECT file_id, {' AND '.join(f'{name} IS NOT NULL' for name in variants)}, "
            f"{', '.join(f'ifnull({name}, 0)' for name in columns)} FROM hash_rows", 2 + len(columns)))

    def _read_ints(self, sql: str, width: int) -> np.ndarray:
        chunks = []
        with self.translated():
            cursor = self.connection.execute(sql)
            while rows := cursor.fetchmany(50_000):
                chunks.append(np.array(rows, dtype=np.int64))
        return np.concatenate(chunks) if chunks else np.zeros((0, width), np.int64)

    def index_features(self, count: int, batch: int = 10_000) -> Iterator[tuple[np.ndarray, feature_blob.Keypoints]]:
        """(file ids, their first ``count`` keypoints) for the keypoint index, ``batch`` pictures at a
        time; only those bytes of each BLOB are read."""
        with self.translated():
            cursor = self.connection.execute("SELECT file_id, substr(data, 1, ?) FROM features",
                                             (feature_blob.prefix_bytes(count),))
            while rows := cursor.fetchmany(batch):
                yield np.array([file_id for file_id, _ in rows], dtype=np.int64), feature_blob.unpack_many(
                    [blob for _, blob in rows])

    def picture(self, file_id: int, *, with_features: bool = True) -> Picture:
        """A file's stored picture; without its keypoints (the bulk of it) if not ``with_features``."""
        tones = "s.colourfulness, s.sharpness" if self.schema >= 6 else "NULL, NULL"  # read-only: older too
        quality = "f.jpeg_quality" if self.schema >= 7 else "NULL"
        keypoints = "k.data" if with_features else "NULL"
        row = self._one(
            "SELECT s.thumb, s.thumb_size, s.contrast, s.content_left, s.content_top, s.content_right, "
            f"s.content_bottom, s.mean_r, s.mean_g, s.mean_b, f.width, f.height, f.size, {keypoints}, {tones}, "
            f"{quality} "
            "FROM signatures AS s JOIN files AS f ON f.id = s.file_id LEFT JOIN features AS k ON k.file_id = f.id "
            "WHERE s.file_id = ?", (file_id,))
        if row is None:
            raise RowGoneError(self.path, f"no signature for file id {file_id}")
        try:
            thumb = thumb_file.read(row[0], row[1])
        except ValueError as err:
            raise DamagedRowError(self.path, f"file id {file_id}'s thumb cannot be read ({err})") from err
        found = feature_blob.unpack(row[13]) if row[13] is not None else None
        return Picture(thumb, row[2], Box(*row[3:7]), (row[7], row[8], row[9]), row[10], row[11], row[12], found,
                       row[14], row[15], row[16])

    def pairs(self, min_score: float, kinds: tuple[str, ...] = ()) -> list[PairRow]:
        """Scored pairs with their paths, best first; files held as missing are left out (they are
        not on disk now, so they are no copy to look at or delete)."""
        sql = ("SELECT fa.path_bytes, fb.path_bytes, m.score, m.kind, m.transform, m.details "
               "FROM matches m JOIN files fa ON fa.id = m.a JOIN files fb ON fb.id = m.b WHERE m.score >= ? "
               "AND fa.missing_since IS NULL AND fb.missing_since IS NULL")
        params: list[object] = [min_score]
        if self.schema >= 5:  # a pair said not to be a duplicate is not reported (read-only: older indexes too)
            sql += (" AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.decision = 'not_duplicate' AND "
                    "d.digest = min(fa.file_digest, fb.file_digest) AND d.other = max(fa.file_digest, fb.file_digest))")
        if kinds:
            sql += f" AND m.kind IN ({','.join('?' * len(kinds))})"
            params.extend(kinds)
        else:  # other shots of one scene are never mixed into copy groups
            sql += " AND m.kind != 'similar'"
        return [PairRow(*row) for row in self._all(sql + " ORDER BY m.score DESC, fa.path, fb.path", params)]

    def file_count(self) -> int:
        """Indexed files (one read of the table, without the pairs' view that :meth:`counts` adds)."""
        return self._one("SELECT count(*) FROM files")[0]

    def counts(self) -> dict[str, int]:
        return {"files": self.file_count(),
                "errors": self._one("SELECT count(*) FROM errors")[0],
                "pairs": self._one("SELECT count(*) FROM duplicate_pairs")[0]}

    # --- errors -------------------------------------------------------------------------------

    def error_at(self, path: bytes) -> tuple[int, int, str] | None:
        """(size, mtime_ns, kind) of the recorded error for ``path``, if any."""
        row = self._one("SELECT size, mtime_ns, kind FROM errors WHERE path_bytes = ?", (path,))
        return (row[0], row[1], row[2]) if row else None

    def failures(self) -> list[tuple[bytes, str, str]]:
        """(path, kind, message) of every file that could not be indexed."""
        return [(row[0], row[1], row[2]) for row in self._all(
            "SELECT path_bytes, kind, message FROM errors ORDER BY path")]

    # --- writing (call inside transaction()) -----------------------------------------------

    def add_file(self, path: bytes, size: int, mtime_ns: int, file_digest: bytes, pixel_digest: bytes,
                 fmt: str, width: int, height: int, signature: Signature,
                 local: Features | None = None, metadata: Metadata | None = None) -> int:
        file_id = self._run(
            "INSERT INTO files (path, path_bytes, size, mtime_ns, file_digest, pixel_digest, format, width, height, "
            "indexed_at, exif_tags, captured, jpeg_quality) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (display_path(path), path, size, mtime_ns, file_digest, pixel_digest, fmt, width, height, iso_time(),
             *((metadata.tags, metadata.captured, metadata.quality) if metadata else (None, None, None))))
        box = signature.content_box
        self._run("INSERT INTO signatures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (file_id, to_signed(signature.phash), box.left, box.top, box.right, box.bottom, signature.contrast,
                   *signature.mean_rgb, signature.thumb.shape[0], signature.thumb_webp, signature.colourfulness,
                   signature.sharpness))
        self._run(f"INSERT INTO hash_rows (file_id, {', '.join(HASH_COLUMNS)}) "
                  f"VALUES (?{', ?' * len(HASH_COLUMNS)})",
                  (file_id, *hash_row(signature.content_hashes, signature.window_hashes, signature.rotation_hashes)))
        if local is not None:
            self._run("INSERT INTO features (file_id, data) VALUES (?, ?)", (file_id, feature_blob.pack(local)))
        self._run("DELETE FROM errors WHERE path_bytes = ?", (path,))
        return file_id

    def move_file(self, file_id: int, path: bytes, mtime_ns: int) -> None:
        self._run("UPDATE files SET path = ?, path_bytes = ?, mtime_ns = ?, missing_since = NULL WHERE id = ?",
                  (display_path(path), path, mtime_ns, file_id))
        self._run("DELETE FROM errors WHERE path_bytes = ?", (path,))
        self._run("DELETE FROM quarantine WHERE path_bytes = ?", (path,))

    def remove_file(self, file_id: int) -> None:
        self._run("DELETE FROM files WHERE id = ?", (file_id,))

    def record_error(self, path: bytes, size: int, mtime_ns: int, kind: str, message: str) -> None:
        self._run(
            "INSERT INTO errors (path, path_bytes, size, mtime_ns, kind, message, seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path_bytes) DO UPDATE SET size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, kind = excluded.kind, message = excluded.message, "
            "seen_at = excluded.seen_at",
            (display_path(path), path, size, mtime_ns, kind, message, iso_time()))

    def remove_error(self, path: bytes) -> None:
        self._run("DELETE FROM errors WHERE path_bytes = ?", (path,))

    def add_match(self, a: int, b: int, match: Scored) -> None:
        """Record a scored pair of files (stored as ``a < b``); nothing if either has left the index
        meanwhile (another process's clean-up removed it after the pair was judged)."""
        a, b = sorted((a, b))
        self._run(
            "INSERT INTO matches (a, b, score, kind, transform, details, found_at) SELECT ?, ?, ?, ?, ?, ?, ? "
            "WHERE EXISTS (SELECT 1 FROM files WHERE id = ?) AND EXISTS (SELECT 1 FROM files WHERE id = ?) "
            "ON CONFLICT (a, b) DO UPDATE SET score = excluded.score, kind = excluded.kind, "
            "transform = excluded.transform, details = excluded.details",
            (a, b, round(match.score, 4), match.kind, match.transform,
             json.dumps(match.details, sort_keys=True), iso_time(), a, b))
