"""Errors neardupd raises, each carrying the path it is about and a reason.

    NeardupError(Exception)
    ├── DecodeError                  a file could not be turned into pixels
    │     .kind: "unsupported" | "corrupt" | "truncated" | "too_large" | "unreadable" | "empty"
    ├── StoreError                   the database cannot be used as it is
    │     ├── SchemaTooNewError      written by a newer neardupd
    │     ├── StoreDamagedError      a damaged page (SQLite's "malformed")
    │     └── StoreFullError         its disk is full
    ├── ConfigError                  a configuration file or value is wrong
    └── BenchError                   a bench folder (images/ + truth.json) cannot be used or made

Every error prints as ``path: reason`` so a log line or a CLI message says what to check.
"""

from __future__ import annotations

import os

ERROR_KINDS = ("unsupported", "corrupt", "truncated", "too_large", "unreadable", "empty", "not_regular",
               "outside_roots")


class NeardupError(Exception):
    """Base class: something about ``path`` went wrong for ``reason``."""

    def __init__(self, path: str | os.PathLike[str] | bytes | None, reason: str) -> None:
        self.path = os.fsdecode(path) if path is not None else None
        self.reason = reason
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class DecodeError(NeardupError):
    """A file could not be decoded; ``kind`` classifies why (one of ERROR_KINDS)."""

    def __init__(self, path: str | os.PathLike[str] | bytes | None, kind: str, reason: str) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown decode error kind {kind!r}")
        self.kind = kind
        super().__init__(path, reason)


class StoreError(NeardupError):
    """The database cannot be opened or used."""


class RowGoneError(StoreError):
    """A file's row left the index in another process meanwhile (a clean-up moved the file)."""


class DamagedRowError(RowGoneError):
    """A row that cannot be read (the index is damaged there): its picture is dropped from the
    searches, as one that left the index is, and a warning says which."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer neardupd than this one."""


class StoreDamagedError(StoreError):
    """The database file is damaged: ``neardupd check`` says where."""


class StoreFullError(StoreError):
    """The database's disk is full: nothing more can be written until space is freed."""


class ConfigError(NeardupError):
    """A configuration file or value is wrong."""


class BenchError(NeardupError):
    """A labelled bench folder cannot be read, or one cannot be made where asked."""
