"""A person's decisions about copies: keep or discard a file, or "these two are not a duplicate".

Keyed on content digests (``files.file_digest``), not paths, so a decision survives rescans, moves
and renames; a not-a-duplicate pair is left out of the reported pairs for good (the ``pairs`` query
and the ``duplicate_pairs`` view).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neardupd.store.rows import iso_time
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
        found: dict[bytes, list[bytes]] = {digest: [] for digest in digests}
        for digest in digests:
            found[digest] = [row[0] for row in self._all(
                "SELECT path_bytes FROM files WHERE file_digest = ? ORDER BY path_bytes", (digest,))]
        return found

    def file_facts(self, paths: Sequence[bytes]) -> dict[bytes, tuple[int, int, int, str, int, bytes]]:
        """(size, width, height, format, mtime_ns, file_digest) of each indexed path."""
        facts = {}
        for path in paths:
            row = self._one("SELECT size, width, height, format, mtime_ns, file_digest FROM files "
                            "WHERE path_bytes = ?", (path,))
            if row is not None:
                facts[path] = (row[0], row[1], row[2], row[3], row[4], row[5])
        return facts

    def _upsert(self, decision: str, digest: bytes, other: bytes) -> None:
        self._run("INSERT INTO decisions (decision, digest, other, decided_at) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (digest, other) DO UPDATE SET decision = excluded.decision, "
                  "decided_at = excluded.decided_at", (decision, digest, other, iso_time()))
