"""Rows the store hands out: named, typed, and free of any database type."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from neardupd.metadata import Metadata
from neardupd.signature import to_signed

HASH_KINDS = (("content", 8), ("window", 36), ("rotation", 6))
"""The kinds of hash a picture has, and how many forms of each: ``hash_rows``' columns (schema 9)."""
HASH_COLUMNS = tuple(f"{kind}{form}" for kind, forms in HASH_KINDS for form in range(forms))
SEARCHED_HASH_COLUMNS = HASH_COLUMNS[:1] + HASH_COLUMNS[HASH_KINDS[0][1]:]
"""What the neighbour index holds of a picture: its content as it is (form 0), then its variants."""


def hash_row(content: Sequence[int], windows: Sequence[int], rotations: Sequence[int]) -> list[int | None]:
    """The values of a picture's :data:`HASH_COLUMNS` (signed; None: a picture too small for variants)."""
    values: list[int | None] = []
    for hashes, (_, forms) in zip((content, windows, rotations), HASH_KINDS, strict=True):
        values += [to_signed(value) for value in hashes] + [None] * (forms - len(hashes))
    return values


@dataclass(frozen=True)
class HashRows:
    """Every indexed picture's hashes for the neighbour index, as arrays (row ``i``: one picture)."""

    file_ids: np.ndarray
    """int64."""
    contents: np.ndarray
    """uint64: the content hash as it is (form 0)."""
    variants: np.ndarray
    """(pictures, windows + rotations) uint64: the window hashes, then the rotation hashes."""
    complete: np.ndarray
    """bool: the picture has every variant (a picture too small for them has none)."""

    @classmethod
    def from_columns(cls, table: np.ndarray) -> HashRows:
        """From (file_id, complete, content0, window0..., rotation0..., signed) rows: ``hash_rows``."""
        values = table[:, 2:].view(np.uint64)
        return cls(table[:, 0].copy(), values[:, 0].copy(), values[:, 1:].copy(), table[:, 1] == 1)

    def from_variant(self, first: int) -> HashRows:
        """The same rows with their variants from ``first`` on."""
        return HashRows(self.file_ids, self.contents, self.variants[:, first:], self.complete)

    @classmethod
    def grouped(cls, table: np.ndarray) -> HashRows:
        """From (file_id, kind: 0 content 1 window 2 rotation, form, signed hash) rows in any order."""
        file_ids, kinds, forms = table[:, 0], table[:, 1], table[:, 2]
        values = table[:, 3].view(np.uint64)
        ids, at = np.unique(file_ids, return_inverse=True)
        windows = int(forms[kinds == 1].max(initial=-1)) + 1
        width = windows + int(forms[kinds == 2].max(initial=-1)) + 1
        contents = np.zeros(len(ids), np.uint64)
        is_content = (kinds == 0) & (forms == 0)
        contents[at[is_content]] = values[is_content]
        variants = np.zeros((len(ids), width), np.uint64)
        is_variant = kinds > 0
        columns = np.where(kinds == 1, forms, windows + forms)[is_variant]
        variants[at[is_variant], columns] = values[is_variant]
        complete = np.bincount(at[is_variant], minlength=len(ids)) == width
        return cls(ids, contents, variants, complete & (width > 0))


@dataclass(frozen=True)
class FileRow:
    id: int
    path: bytes
    size: int
    mtime_ns: int
    file_digest: bytes
    pixel_digest: bytes
    has_features: bool = True
    """False for a file indexed before schema 4: it is decoded once more for its local features."""


@dataclass(frozen=True)
class FileFacts:
    """What the review shows of an indexed file and the keep-best rules read."""

    id: int
    path: bytes
    size: int
    width: int
    height: int
    format: str
    mtime_ns: int
    file_digest: bytes
    metadata: Metadata | None
    """EXIF tags and capture time; None for a file indexed before schema 7 (read from the file)."""


@dataclass(frozen=True)
class UnderRow:
    """An indexed file below a root, as the walk and the deletion guard see it."""

    id: int
    path: bytes
    size: int
    mtime_ns: int
    missing_since: str | None


@dataclass(frozen=True)
class PendingRow:
    path: bytes
    size: int
    mtime_ns: int
    due: float
    attempts: int


@dataclass(frozen=True)
class RootRow:
    device: int | None
    state: str
    since: str | None
    """When the root entered ``state`` (UTC, ISO 8601)."""


@dataclass(frozen=True)
class PairRow:
    """A scored pair with both paths, as ``dupes`` lists it."""

    a: bytes
    b: bytes
    score: float
    kind: str
    transform: str
    details: str
    """The JSON object of what changed."""

    @functools.cached_property
    def explained(self) -> dict:
        """The details as a dict, with the transform: what the words are made from (parsed once)."""
        return {**json.loads(self.details), "transform": self.transform}


def display_path(path: bytes) -> str:
    """The path as text for people and for the ``path`` column (invalid UTF-8 -> U+FFFD)."""
    return path.decode("utf-8", errors="replace")


def iso_time(seconds: float | None = None) -> str:
    """UTC ISO 8601 of a Unix time (now when None), as the store records times.

    >>> iso_time(0)
    '1970-01-01T00:00:00+00:00'
    """
    moment = datetime.now(UTC) if seconds is None else datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="seconds")


def path_fields(name: str, path: bytes) -> dict[str, str]:
    """A path as JSON fields: ``name`` for people, and ``name_b64`` (the exact bytes, base64) when it
    is not valid UTF-8, so a script can still open the file."""
    fields = {name: display_path(path)}
    try:
        path.decode("utf-8")
    except UnicodeDecodeError:
        fields[f"{name}_b64"] = base64.b64encode(path).decode("ascii")
    return fields
