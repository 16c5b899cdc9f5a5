"""Scoring of a finder on a labelled copy-detection folder (``images/`` + ``truth.json``).

The protocol (shared/bench-dev/README.md): a positive is an (original, copy) pair of one group;
(copy, copy) pairs of a group are ignored; every pair across groups is a negative. Sweep the
score threshold and report the largest recall at which precision is at least 0.99 ("strict":
all pairs; "ref": pairs of two copies are not compared at all), average precision, and recall per
transform at the strict threshold (``combo`` for chains of edits).

Pure functions on scores: running the finders is :mod:`neardupd.bench.run`.

>>> truth = Truth({"o.jpg": {"group": 1, "role": "original"}, "c.jpg": {"group": 1, "role": "copy",
...                "transform": "crop"}, "x.jpg": {"group": 2, "role": "distractor"}})
>>> result = score(truth, [("o.jpg", "c.jpg", 0.9), ("o.jpg", "x.jpg", 0.5)])
>>> result.strict_r_at_p99, result.strict_threshold, result.per_transform
(1.0, 0.9, {'crop': (1, 1)})
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

Pair = tuple[str, str]
CALIBRATION_POINTS = (0.4, 0.5, 0.6, 0.65, 0.7, 0.8, 0.9)


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

    def as_json(self) -> dict:
        return {"strict_r_at_p99": round(self.strict_r_at_p99, 4), "strict_threshold": self.strict_threshold,
                "ref_r_at_p99": round(self.ref_r_at_p99, 4), "ref_threshold": self.ref_threshold,
                "average_precision": round(self.average_precision, 4),
                "per_transform": {k: list(v) for k, v in sorted(self.per_transform.items())},
                "calibration": [list(row) for row in self.calibration]}


def recall_at_precision(labelled: Sequence[tuple[float, int]] | np.ndarray, positives: int,
                        precision: float = 0.99) -> tuple[float, float | None]:
    """Largest recall over thresholds with precision >= ``precision``; ties move together."""
    scores, labels = _columns(labelled)
    return _recall_at_precision(scores, labels, positives, precision)


def average_precision(labelled: Sequence[tuple[float, int]] | np.ndarray, positives: int) -> float:
    scores, labels = _columns(labelled)
    return _average_precision(scores, labels, positives)


def _columns(labelled: Sequence[tuple[float, int]] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    array = np.asarray(labelled, dtype=np.float64).reshape(-1, 2)
    return array[:, 0], array[:, 1].astype(np.int64)


def _recall_at_precision(scores: np.ndarray, labels: np.ndarray, positives: int,
                         precision: float = 0.99) -> tuple[float, float | None]:
    if not len(scores) or not positives:
        return 0.0, None
    order = np.argsort(-scores, kind="stable")
    ordered, hits = scores[order], labels[order]
    true = np.cumsum(hits)
    ends = np.nonzero(np.append(ordered[1:] != ordered[:-1], True))[0]  # last index of each tie
    true_at, kept = true[ends], ends + 1
    good = true_at >= precision * kept
    if not good.any():
        return 0.0, None
    recalls = np.where(good, true_at, -1)
    best = int(np.argmax(recalls))  # first (highest) threshold reaching the best recall
    if true_at[best] == 0:
        return 0.0, None
    return float(true_at[best] / positives), float(ordered[ends[best]])


def _average_precision(scores: np.ndarray, labels: np.ndarray, positives: int) -> float:
    if not positives or not len(scores):
        return 0.0
    hits = labels[np.argsort(-scores, kind="stable")]
    ranks = np.arange(1, len(hits) + 1)
    return float((np.cumsum(hits) / ranks)[hits == 1].sum() / positives)


def calibration(labelled: Sequence[tuple[float, int]] | np.ndarray, positives: int,
                thresholds: tuple[float, ...] = CALIBRATION_POINTS) -> list[tuple[float, float, float]]:
    """What a score threshold means: (threshold, precision, recall) for each."""
    scores, labels = _columns(labelled)
    return _calibration(scores, labels, positives, thresholds)


def _calibration(scores: np.ndarray, labels: np.ndarray, positives: int,
                 thresholds: tuple[float, ...] = CALIBRATION_POINTS) -> list[tuple[float, float, float]]:
    rows = []
    for threshold in thresholds:
        kept = scores >= threshold
        true = int(labels[kept].sum())
        count = int(kept.sum())
        rows.append((threshold, true / count if count else 1.0, true / positives if positives else 0.0))
    return rows


def score(truth: Truth, pairs: Iterable[tuple[str, str, float]]) -> Result:
    """Score reported ``(name_a, name_b, score)`` pairs (names are file names in images/);
    a pair reported twice counts once, with its best score; pairs not reported are not found."""
    best: dict[frozenset[str], float] = {}
    for a, b, value in pairs:
        key = frozenset((a, b))
        best[key] = max(value, best.get(key, value))
    values, labels, copies = [], [], []
    for key, value in best.items():
        if len(key) != 2:
            continue
        a, b = tuple(key)
        label = truth.label(a, b)
        if label is not None:
            values.append(value)
            labels.append(label)
            copies.append(truth.both_copies(a, b))
    positives = truth.positives()
    found = [best.get(frozenset(pair)) for pair in positives]
    return _result(truth, positives, np.array(values, dtype=np.float64), np.array(labels, dtype=np.int64),
                   np.array(copies, dtype=bool), found, len(best))


def score_matrix(truth: Truth, names: Sequence[str], scores: np.ndarray) -> Result:
    """Score a finder that gives every pair a score: ``scores[i, j]`` for ``names[i], names[j]``
    (symmetric; the upper triangle is read)."""
    index = {name: i for i, name in enumerate(names)}
    groups = np.array([truth.entries[name]["group"] for name in names])
    roles = np.array([truth.entries[name]["role"] for name in names])
    rows, cols = np.triu_indices(len(names), 1)
    same = groups[rows] == groups[cols]
    original_copy = ((roles[rows] == "original") & (roles[cols] == "copy")) | \
        ((roles[rows] == "copy") & (roles[cols] == "original"))
    counted = ~same | original_copy
    rows, cols = rows[counted], cols[counted]
    labels = (groups[rows] == groups[cols]).astype(np.int64)
    copies = (roles[rows] == "copy") & (roles[cols] == "copy")
    positives = truth.positives()
    found = [float(scores[index[a], index[b]]) for a, b in positives]
    every_pair = len(names) * (len(names) - 1) // 2
    return _result(truth, positives, scores[rows, cols].astype(np.float64), labels, copies, found, every_pair)


def _result(truth: Truth, positives: list[Pair], values: np.ndarray, labels: np.ndarray, copies: np.ndarray,
            found: list[float | None], reported: int) -> Result:
    count = len(positives)
    strict_recall, strict_threshold = _recall_at_precision(values, labels, count)
    ref_recall, ref_threshold = _recall_at_precision(values[~copies], labels[~copies], count)
    totals, hits = Counter(), Counter()
    for (_, copy), value in zip(positives, found, strict=True):
        family = truth.family(copy)
        totals[family] += 1
        if strict_threshold is not None and value is not None and value >= strict_threshold:
            hits[family] += 1
    return Result(strict_recall, _rounded(strict_threshold), ref_recall, _rounded(ref_threshold),
                  _average_precision(values, labels, count),
                  {family: (hits[family], totals[family]) for family in totals}, reported,
                  _calibration(values, labels, count))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
