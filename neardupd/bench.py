"""Scoring of a finder on a labelled copy-detection folder (``images/`` + ``truth.json``).

The protocol (shared/bench-dev/README.md): a positive is an (original, copy) pair of one group;
(copy, copy) pairs of a group are ignored; every pair across groups is a negative. Sweep the
score threshold and report the largest recall at which precision is at least 0.99 ("strict":
all pairs; "ref": pairs of two copies are not compared at all), average precision, and recall per
transform at the strict threshold (``combo`` for chains of edits).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

Pair = tuple[str, str]


@dataclass(frozen=True)
class Truth:
    entries: Mapping[str, Mapping]

    @classmethod
    def load(cls, folder: Path) -> Truth:
        return cls(json.loads((folder / "truth.json").read_text(encoding="utf-8")))

    def label(self, a: str, b: str) -> int | None:
        """1 positive, 0 negative, None ignored (two copies of one group, or unknown names)."""
        ea, eb = self.entries.get(a), self.entries.get(b)
        if ea is None or eb is None or a == b:
            return None
        if ea["group"] != eb["group"]:
            return 0
        return 1 if {ea["role"], eb["role"]} == {"original", "copy"} else None

    def both_copies(self, a: str, b: str) -> bool:
        return self.entries[a]["role"] == "copy" and self.entries[b]["role"] == "copy"

    def positives(self) -> list[tuple[str, str]]:
        """(original, copy) for every copy."""
        originals = {e["group"]: name for name, e in self.entries.items() if e["role"] == "original"}
        return [(originals[e["group"]], name) for name, e in self.entries.items() if e["role"] == "copy"]

    def family(self, copy: str) -> str:
        transform = self.entries[copy].get("transform", "?")
        return "combo" if "+" in transform else transform


@dataclass
class Result:
    strict_r_at_p99: float
    strict_threshold: float | None
    ref_r_at_p99: float
    ref_threshold: float | None
    average_precision: float
    per_transform: dict[str, tuple[int, int]] = field(default_factory=dict)
    found_pairs: int = 0
    calibration: list[tuple[float, float, float]] = field(default_factory=list)
    """(threshold, precision, recall) over strict pairs at fixed score thresholds."""

    def lines(self) -> list[str]:
        per = ", ".join(f"{k} {hit}/{total}" for k, (hit, total) in sorted(self.per_transform.items()))
        return [f"strict R@P99 {self.strict_r_at_p99:.3f} (threshold {self.strict_threshold})",
                f"ref    R@P99 {self.ref_r_at_p99:.3f} (threshold {self.ref_threshold})",
                f"average precision {self.average_precision:.3f}",
                f"recall per transform at the strict threshold: {per}",
                "calibration (score >= t: precision, recall): " + ", ".join(
                    f"{t:.2f}: {p:.3f}, {r:.3f}" for t, p, r in self.calibration)]


def recall_at_precision(labelled: list[tuple[float, int]], positives: int,
                        precision: float = 0.99) -> tuple[float, float | None]:
    """Largest recall over thresholds with precision >= ``precision``; ties move together."""
    labelled = sorted(labelled, key=lambda item: -item[0])
    true = false = 0
    best, threshold = 0.0, None
    i = 0
    while i < len(labelled):
        j = i
        while j < len(labelled) and labelled[j][0] == labelled[i][0]:
            true += labelled[j][1]
            false += 1 - labelled[j][1]
            j += 1
        if true / (true + false) >= precision and true / positives > best:
            best, threshold = true / positives, labelled[i][0]
        i = j
    return best, threshold


def average_precision(labelled: list[tuple[float, int]], positives: int) -> float:
    labelled = sorted(labelled, key=lambda item: -item[0])
    true, total = 0, 0.0
    for rank, (_, label) in enumerate(labelled, start=1):
        if label:
            true += 1
            total += true / rank
    return total / positives if positives else 0.0


def score(truth: Truth, pairs: Iterable[tuple[str, str, float]]) -> Result:
    """Score reported ``(name_a, name_b, score)`` pairs (names are file names in images/)."""
    best: dict[frozenset[str], float] = {}
    for a, b, value in pairs:
        key = frozenset((a, b))
        best[key] = max(value, best.get(key, value))
    strict, ref = [], []
    for key, value in best.items():
        if len(key) != 2:
            continue
        a, b = tuple(key)
        label = truth.label(a, b)
        if label is None:
            continue
        strict.append((value, label))
        if not truth.both_copies(a, b):
            ref.append((value, label))
    positives = truth.positives()
    strict_recall, strict_threshold = recall_at_precision(strict, len(positives))
    ref_recall, ref_threshold = recall_at_precision(ref, len(positives))
    totals, hits = Counter(), Counter()
    for original, copy in positives:
        family = truth.family(copy)
        totals[family] += 1
        found = best.get(frozenset((original, copy)))
        if strict_threshold is not None and found is not None and found >= strict_threshold:
            hits[family] += 1
    return Result(strict_recall, strict_threshold, ref_recall, ref_threshold,
                  average_precision(strict, len(positives)),
                  {family: (hits[family], totals[family]) for family in totals}, len(best),
                  calibration(strict, len(positives)))


CALIBRATION_POINTS = (0.4, 0.5, 0.6, 0.65, 0.7, 0.8, 0.9)


def calibration(labelled: list[tuple[float, int]], positives: int,
                thresholds: tuple[float, ...] = CALIBRATION_POINTS) -> list[tuple[float, float, float]]:
    """What a score threshold means: (threshold, precision, recall) for each."""
    rows = []
    for threshold in thresholds:
        kept = [label for value, label in labelled if value >= threshold]
        true = sum(kept)
        rows.append((threshold, true / len(kept) if kept else 1.0, true / positives if positives else 0.0))
    return rows
