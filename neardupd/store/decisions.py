"""The review's side of the index: a person's decisions (keep or discard a file, "these two are not
a duplicate"), and the lookups by file id the review page makes.

Keyed on content digests (``files.file_digest``), not paths, so a decision survives rescans, moves
and renames; a not-a-duplicate pair is left out of the reported pairs for good (the ``pairs`` query
and the ``duplicate_pairs`` view).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neardupd.metadata import Metadata
from neardupd.store.rows import FileFacts, PairRow, iso_time
from neardupd.store.sqlite import SqliteIndex

FILE_DECISIONS = ("keep", "discard")
PAIR_DECISIONS = ("not_duplicate",)


@dataclass(frozen=True)
class Decision:
    decision: str
    digest: bytes
    other: bytes
    """Empty for a file decision."""
    decided_at: str


class Decided(SqliteIndex):
    """The index with the decisions table (schema 5)."""

    def decide_file(self, decision: str, digest: bytes) -> None:
        if decision not in FILE_DECISIONS:
            raise ValueError(f"a file is kept or discarded, not {decision!r}")
        self._upsert(decision, digest, b"")

    def decide_pair(self, decision: str, digest: bytes, other: bytes) -> None:
        """A decision about two files (their digests, in either order)."""
        if decision not in PAIR_DECISIONS:
            raise ValueError(f"a pair is decided {PAIR_DECISIONS}, not {decision!r}")
        if digest == other:
            raise ValueError("a file is no pair with itself (or an exact copy of itself)")
        self._upsert(decision, *sorted((digest, other)))

    def forget_decision(self, digest: bytes, other: bytes = b"") -> bool:
        """Take a decision back (a file's, or a pair's with ``other``); whether there was one."""
        first, second = sorted((digest, other)) if other else (digest, b"")
        return bool(self._all("DELETE FROM decisions WHERE digest = ? AND other = ? RETURNING id", (first, second)))

    def decisions(self) -> list[Decision]:
        return [Decision(*row) for row in self._all(
            "SELECT decision, digest, other, decided_at FROM decisions ORDER BY decided_at, id")]

    def paths_with_digest(self, digests: Sequence[bytes]) -> dict[bytes, list[bytes]]:
        """The indexed paths of each digest (an exact copy has several; a deleted file none)."""
        return {digest: [row[0] for row in self._all(
            "SELECT path_bytes FROM files WHERE file_digest = ? ORDER BY path_bytes", (digest,))] for digest in digests}

    def file_facts(self, paths: Sequence[bytes]) -> dict[bytes, FileFacts]:
        """The facts of each indexed path."""
        found = (self._facts("path_bytes = ?", path) for path in paths)
        return {facts.path: facts for facts in found if facts is not None}

    def _facts(self, where: str, key: object) -> FileFacts | None:
        metadata = "exif_tags, captured, jpeg_quality" if self.schema >= 7 else "NULL, NULL, NULL"  # read-only
        row = self._one(f"SELECT id, path_bytes, size, width, height, format, mtime_ns, file_digest, {metadata} "
                        f"FROM files WHERE {where}", (key,))
        if row is None:
            return None
        file_id, path, size, width, height, fmt, mtime_ns, digest, tags, captured, quality = row
        return FileFacts(file_id, path, size, width, height, fmt, mtime_ns, digest,
                         Metadata(tags, captured, quality) if tags is not None else None)

    def review_state(self) -> tuple:
        """A value that changes whenever files, pairs or decisions do (the review page's plans are
        made again then)."""
        return tuple(self._one(
            "SELECT (SELECT count(*) FROM files), (SELECT max(id) FROM files), (SELECT count(*) FROM matches), "
            "(SELECT max(found_at) FROM matches), (SELECT count(*) FROM decisions), "
            "(SELECT group_concat(decision || decided_at) FROM decisions), "
            "(SELECT count(*) FROM files WHERE missing_since IS NOT NULL)") or ())

    def file_ids(self, paths: Sequence[bytes]) -> dict[bytes, int]:
        """The row id of each indexed path (the review page names files by id, never by path)."""
        ids = {}
        for path in paths:
            row = self._one("SELECT id FROM files WHERE path_bytes = ?", (path,))
            if row is not None:
                ids[path] = int(row[0])
        return ids

    def file_by_id(self, file_id: int) -> FileFacts | None:
        """The facts of an indexed file on disk, or None."""
        return self._facts("id = ? AND missing_since IS NULL", file_id)

    def pair_of(self, first: int, second: int) -> PairRow | None:
        """The scored pair of two files (in either order), with ``a`` the lower id as stored."""
        low, high = sorted((first, second))
        row = self._one("SELECT fa.path_bytes, fb.path_bytes, m.score, m.kind, m.transform, m.details "
                        "FROM matches m JOIN files fa ON fa.id = m.a JOIN files fb ON fb.id = m.b "
                        "WHERE m.a = ? AND m.b = ?", (low, high))
        return PairRow(*row) if row else None

    def _upsert(self, decision: str, digest: bytes, other: bytes) -> None:
        self._run("INSERT INTO decisions (decision, digest, other, decided_at) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (digest, other) DO UPDATE SET decision = excluded.decision, "
                  "decided_at = excluded.decided_at", (decision, digest, other, iso_time()))
