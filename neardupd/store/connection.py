"""Opening the SQLite index: a connection set up as neardupd uses it, and SQLite's errors translated
into :class:`~neardupd.errors.StoreError` saying what to check."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from neardupd.errors import StoreDamagedError, StoreError, StoreFullError

log = logging.getLogger(__name__)


def translate(err: sqlite3.Error, path: str) -> StoreError:
    """An SQLite error as a StoreError saying what to check."""
    name = getattr(err, "sqlite_errorname", "")
    text = str(err)
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        folder = os.path.dirname(os.path.abspath(path))
        try:
            free = f"{shutil.disk_usage(folder).free / 1e6:.1f} MB free"
        except OSError:
            free = "free space unknown"
        return StoreFullError(path, f"database disk full: free space on {folder} ({free})")
    if name.startswith("SQLITE_NOTADB") or "not a database" in text:
        return StoreError(path, "not a neardupd index (not an SQLite database at all); check --db or $NEARDUPD_DB")
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return StoreDamagedError(path, f"the database is damaged ({text}); `neardupd check` lists what is damaged; "
                          "restore a backup, or move it aside to index afresh")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) or "readonly" in text or "unable to open" in text:
        return StoreError(path, f"cannot use the database ({text}); check the permissions of the file and its "
                          "folder: reading a database that a daemon has open in WAL mode needs its -shm file, "
                          "or a folder where it can be made")
    if name.startswith(("SQLITE_IOERR", "SQLITE_PROTOCOL")):
        return StoreError(path, f"the database cannot be read or written ({text}); check the disk")
    return StoreError(path, f"database error ({text})")


def file_identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def connect(path: str, *, readonly: bool) -> sqlite3.Connection:
    """An SQLite connection set up as neardupd uses it (WAL for a writer, busy timeout, foreign keys)."""
    try:
        if readonly:
            if not os.path.isfile(path):
                raise StoreError(path, "no index here; run `neardupd scan FOLDER` or `neardupd run` first")
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                         check_same_thread=False)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout = 10000")
        if not readonly:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(path, f"cannot switch the database to WAL mode (it stays {mode})")
            connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the header: fails early
    except sqlite3.Error as err:
        raise translate(err, path) from err
    except OSError as err:
        raise StoreError(path, f"cannot open the database ({err.strerror}); check the path and its "
                         "permissions") from err
    return connection


@contextmanager
def progress_told(connection: sqlite3.Connection, doing: str, every: float = 10.0) -> Iterator[None]:
    """Say every ``every`` seconds that a long statement (a migration rewriting a large library's
    tables) is still ``doing`` its work, so that nobody takes it for a hang."""
    started = told = time.monotonic()

    def tell() -> int:
        nonlocal told
        if time.monotonic() - told >= every:
            told = time.monotonic()
            log.warning("still %s (%.0f s so far; stopped, it starts over next time)", doing, told - started)
        return 0

    connection.set_progress_handler(tell, 100_000)
    try:
        yield
    finally:
        connection.set_progress_handler(None, 0)
