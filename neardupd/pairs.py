"""The one type for a scored pair of pictures: what matching rules return and the store records."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scored:
    """How alike two pictures are and what changed from the first to the second.

    ``other`` is the stored picture's file id when the first one is in the index (a match found by
    the neighbour search or by digest), else None (``neardupd compare`` of two files)."""

    score: float
    kind: str
    """``exact``, ``pixel``, ``near``, ``modified``, ``similar`` (another shot of one scene: scored
    below the reporting threshold, never a copy), or ``none`` (not comparable)."""
    transform: str = "none"
    details: dict = field(default_factory=dict)
    other: int | None = None

    def of(self, other: int) -> Scored:
        """The same verdict, about the stored file ``other``."""
        return Scored(self.score, self.kind, self.transform, self.details, other)
