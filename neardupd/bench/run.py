"""``neardupd bench run FOLDER``: the whole pipeline, and three baselines, on a labelled folder.

The folder holds ``images/`` and ``truth.json`` (the format of shared/bench-dev/README.md, also
what ``neardupd bench make`` writes). neardupd indexes ``images/`` into a fresh database exactly
as ``neardupd scan`` does, with the configured settings, and its stored pairs are scored with the
protocol of :mod:`neardupd.bench.protocol`; so are the baselines of :mod:`neardupd.bench.baselines`, in the
same run.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from neardupd import scanner
from neardupd.bench import baselines
from neardupd.bench.protocol import Result, Truth, score, score_matrix
from neardupd.config import Config
from neardupd.errors import BenchError
from neardupd.indexer import Indexer
from neardupd.store import open_store

log = logging.getLogger(__name__)
BASELINE_DECODE_SIZE = 512
"""Baselines decode JPEGs at reduced size too, never below this (their largest input is 350 wide)."""


@dataclass
class FinderScore:
    name: str
    label: str
    result: Result
    seconds: float


@dataclass
class BenchReport:
    folder: Path
    images: int
    positives: int
    neardupd: FinderScore
    candidates_found: int
    """Positive pairs the neighbour search put forward for confirmation (or found by digest)."""
    baselines: list[FinderScore] = field(default_factory=list)

    @property
    def candidate_recall(self) -> float:
        return self.candidates_found / self.positives if self.positives else 0.0

    def as_json(self) -> dict:
        return {"folder": str(self.folder), "images": self.images, "positives": self.positives,
                "candidate_recall": round(self.candidate_recall, 4), "candidates_found": self.candidates_found,
                "finders": {f.name: {"label": f.label, "seconds": round(f.seconds, 2), **f.result.as_json()}
                            for f in [self.neardupd, *self.baselines]}}


def run_bench(folder: str | os.PathLike, config: Config, *, baseline_names: Sequence[str] = baselines.BASELINES,
              keep_database: str | os.PathLike | None = None,
              progress: Callable[[bytes], None] | None = None) -> BenchReport:
    """Index ``folder``/images with neardupd and score it, then the baselines."""
    bench = Path(folder)
    truth = _truth(bench)
    images = bench / "images"
    names = sorted(name for name in os.listdir(images) if name in truth.entries)
    if not names:
        raise BenchError(bench, "no file in images/ is named in truth.json")
    mine, found = _run_neardupd(images, truth, config, keep_database, progress)
    report = BenchReport(bench, len(names), len(truth.positives()), mine, found)
    if baseline_names:
        pictures = _load_for_baselines(images, names)
        for name in baseline_names:
            started = time.perf_counter()
            scores = baselines.SCORERS[name](pictures)
            report.baselines.append(FinderScore(name, baselines.LABELS[name], score_matrix(truth, names, scores),
                                                time.perf_counter() - started))
    return report


def _truth(bench: Path) -> Truth:
    if not (bench / "images").is_dir() or not (bench / "truth.json").is_file():
        raise BenchError(bench, "a bench folder needs images/ and truth.json "
                         "(make one from your photos with `neardupd bench make SRC OUT`)")
    try:
        return Truth.load(bench)
    except (ValueError, OSError) as err:
        raise BenchError(bench / "truth.json", f"cannot read it ({err})") from err


def _run_neardupd(images: Path, truth: Truth, config: Config, keep_database: str | os.PathLike | None,
                  progress: Callable[[bytes], None] | None) -> tuple[FinderScore, int]:
    with tempfile.TemporaryDirectory(prefix="neardupd-bench-") as tmp:
        database = Path(keep_database) if keep_database else Path(tmp) / "bench.sqlite"
        if database.exists():
            raise BenchError(database, "the database to keep already exists; give a new file name")
        proposed: list[tuple[bytes, list[int]]] = []

        def seen(new: bytes, stored: list[int]) -> None:
            proposed.append((new, stored))

        with open_store(database) as store, \
                Indexer(store, config.replace(database=database), on_candidates=seen) as indexer:
            started = time.perf_counter()
            scanner.scan(indexer, [images], progress=progress)
            seconds = time.perf_counter() - started
            paths = store.paths()
            rows = store.pairs(0.0)
    id_of = {os.path.basename(os.fsdecode(path)): file_id for file_id, path in paths}
    id_at = {path: file_id for file_id, path in paths}
    candidates = {frozenset((id_at[new], other)) for new, stored in proposed if new in id_at for other in stored}
    pairs = [(os.path.basename(os.fsdecode(row.a)), os.path.basename(os.fsdecode(row.b)), float(row.score))
             for row in rows]
    for a, b, _ in pairs:  # exact and same-pixel copies are found by digest, without the neighbour search
        candidates.add(frozenset((id_of[a], id_of[b])))
    found = sum(1 for a, b in truth.positives()
                if a in id_of and b in id_of and frozenset((id_of[a], id_of[b])) in candidates)
    return FinderScore("neardupd", "neardupd (default settings)", score(truth, pairs), seconds), found


def _load_for_baselines(images: Path, names: Sequence[str]) -> list[Image.Image]:
    """Every picture as the usual scripts load it (no EXIF turn), in RGB; a file Pillow cannot
    read becomes a flat grey picture, which matches nothing."""
    pictures = []
    for name in names:
        try:
            with Image.open(images / name) as image:
                image.draft("RGB", (BASELINE_DECODE_SIZE, BASELINE_DECODE_SIZE))
                pictures.append(image.convert("RGB"))
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            log.warning("%s: the baselines cannot read it (%s)", name, err)
            pictures.append(Image.new("RGB", (64, 64), (128, 128, 128)))
    return pictures
