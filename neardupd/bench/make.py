"""``neardupd bench make SRC OUT``: a labelled bench folder made from a user's own photos.

Like shared/bench-dev: the photos under SRC are shuffled; a few (5 %, at most 20) are set aside
as the pictures pasted on by the ``logo`` edit; most others become **originals**, each with
``copies`` modified copies made by :mod:`neardupd.bench.edits` (copy 0 one mild or geometric edit,
copy 1 one overlay or geometric edit, copy 2 a chain of 2-3), the rest **distractors** (no
copies). SRC should hold each photo once (copies already there would be counted as strangers).
Files get random names and are saved as JPEG (quality 70-95), PNG or WebP; ``truth.json``
says which is which. SRC is only read.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from neardupd.bench.edits import apply_edits, family_of, pick_edits
from neardupd.errors import BenchError
from neardupd.files import open_regular, walk_images

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MakeSettings:
    copies: int = 3
    distractors: float = 0.2
    """Share of the photos kept as distractors (no copies)."""
    seed: int = 0
    max_side: int = 1024
    """Originals are stored at most this long (pixels): the bench measures edits, not megapixels."""
    limit: int = 0
    """Use at most this many photos (0: all)."""


@dataclass(frozen=True)
class MadeBench:
    folder: Path
    originals: int
    copies: int
    distractors: int
    donors: int
    skipped: int


def make_bench(source: str | os.PathLike, out: str | os.PathLike, settings: MakeSettings = MakeSettings(),
               progress: Callable[[int, int], None] | None = None) -> MadeBench:
    """Write OUT/images/ and OUT/truth.json from the photos under ``source``."""
    start = start_bench(source, out, settings, minimum=3, what="a bench")
    folder, images, rng, paths, photos = start.folder, start.images, start.rng, start.paths, start.photos
    donors = [photo for _, photo in photos[:_donor_count(len(photos))]]
    photos = photos[len(donors):]
    kept_apart = round(len(photos) * settings.distractors)
    truth: dict[str, dict] = {}
    names: set[str] = set()
    for group, (path, photo) in enumerate(photos):
        source_name = os.fsdecode(os.path.relpath(path, os.path.abspath(os.fsencode(source))))
        role = "distractor" if group < kept_apart else "original"
        name = _save(photo, images, rng, names, original=True)
        truth[name] = {"group": group, "role": role, "source": source_name}
        if role == "original":
            donor = donors[int(rng.integers(0, len(donors)))]
            for number in range(settings.copies):
                edits = pick_edits(number, rng)
                copy = apply_edits(photo, edits, rng, donor)
                truth[_save(copy, images, rng, names)] = {
                    "group": group, "role": "copy", "transform": "+".join(edits),
                    "families": sorted({family_of(edit) for edit in edits})}
        if progress:
            progress(group + 1, len(photos))
    write_truth(folder, truth)
    originals = len(photos) - kept_apart
    return MadeBench(folder, originals, originals * settings.copies, kept_apart, len(donors),
                     len(paths) - len(photos) - len(donors))


@dataclass(frozen=True)
class Start:
    """What every bench maker begins with: the empty output folder and the shuffled readable photos."""

    folder: Path
    images: Path
    rng: np.random.Generator
    root: bytes
    paths: list[bytes]
    """Every image path found (the photos are those of them that could be read)."""
    photos: list[tuple[bytes, Image.Image]]


def start_bench(source: str | os.PathLike, out: str | os.PathLike, settings: MakeSettings, *,
                minimum: int, what: str) -> Start:
    """Refuse a non-empty OUT, find and shuffle the photos under ``source`` (``settings.limit`` of
    them), load those that read, and make OUT/images/."""
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()):
        raise BenchError(folder, "the output folder exists and is not empty; give a new one")
    rng = np.random.default_rng(settings.seed)
    root = os.path.abspath(os.fsencode(source))
    paths = list(walk_images(root))
    rng.shuffle(paths)
    if settings.limit:
        paths = paths[:settings.limit]
    photos = [(path, photo) for path in paths if (photo := _load(path, settings.max_side)) is not None]
    if len(photos) < minimum:
        raise BenchError(source, f"found {len(photos)} readable photo(s); {what} needs at least {minimum}")
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    return Start(folder, images, rng, root, paths, photos)


def write_truth(folder: Path, truth: dict[str, dict]) -> None:
    (folder / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True), encoding="utf-8")


def _donor_count(photos: int) -> int:
    """Photos set aside to be pasted on as logos, never stored themselves: a copy carrying a
    stored photo would really be a partial copy of it, and the truth would call it a stranger."""
    return min(20, max(1, round(photos * 0.05)))


def _load(path: bytes, max_side: int) -> Image.Image | None:
    try:  # open_regular: a FIFO or device under SRC would block the read for ever
        with open_regular(path) as stream, Image.open(stream) as image:
            image.draft("RGB", (max_side, max_side))
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        log.warning("%s: skipped, cannot read it as a picture (%s)", os.fsdecode(path), err)
        return None
    if min(upright.size) < 32:
        log.info("%s: skipped, smaller than 32 pixels", os.fsdecode(path))
        return None
    upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return upright


def _save(image: Image.Image, folder: Path, rng: np.random.Generator, taken: set[str], *,
          original: bool = False) -> str:
    """Save under a new random name: originals as JPEG 95, copies as JPEG 70-95, PNG or WebP."""
    kind = "jpg" if original else str(rng.choice(["jpg", "jpg", "jpg", "png", "webp"]))
    while (name := f"{int(rng.integers(0, 2**63)):016x}.{kind}") in taken:
        pass
    taken.add(name)
    if kind == "jpg":
        image.save(folder / name, "JPEG", quality=95 if original else int(rng.integers(70, 96)))
    elif kind == "png":
        image.save(folder / name, "PNG")
    else:
        image.save(folder / name, "WEBP", quality=int(rng.integers(70, 96)))
    return name
