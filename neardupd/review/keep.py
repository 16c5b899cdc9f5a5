"""Which file of a group of copies to keep: rules in a configured order (``[keep] order``), the first
that tells the files apart decides, and says so.

Pure: facts about the files in, a choice and the deciding rule out. The rules (best first):

* ``decided``: a file a person marked keep, never one marked discard (``neardupd decide``);
* ``protected``: files under ``[keep] protected`` folders;
* ``likely_original``: the file its pairs name the original where the pixels show it (borders added,
  a crop, a photo pasted into a screenshot, a turn's grown canvas, fewer pixels, black and white),
  weighed against how far it is from the others (copies departing from one original in different
  ways are further from each other than from it) and for a camera's shape (4:3, 3:2, 16:9...);
* ``lossless``: RAW or lossless (PNG, TIFF, ...) over lossy (JPEG, WebP, HEIC);
* ``pixels``: more pixels;
* ``less_compressed``: more bytes per pixel in the same format;
* ``metadata``: more EXIF tags;
* ``earlier_capture``: the earlier capture date (EXIF, else the file's modification time);
* ``plain_name``: names like ``copy``, ``(1)``, ``edited``, ``-2`` last.

Measured (``benchmarks/keeper.py``): see README.md, "Review and clean-up".
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from neardupd.config import RULES

LOSSLESS = frozenset({"PNG", "TIFF", "BMP", "PPM", "GIF", "DNG", "CR2", "NEF", "ARW", "RAF", "ORF", "RW2"})
COPY_NAME = re.compile(rb"(copy|kopie|edited|bearbeitet|\(\d+\)|[-_ ]\d{1,2}$|~\d+$)", re.IGNORECASE)


EVIDENCE = 0.3
"""What a pair whose pixels name a file the original weighs against departures: a pair can be
misread (a padded copy with noise in its borders reads as a crop), so a file the copies departed
from least can outweigh one such pair (benchmarks/keeper.py: 0.3 kept 271 of bench-dev's 294 originals
and 261 of augly_unseen's 292; 0.5 kept 269 and 256, and the pairs deciding first fewer)."""

CAMERA_SHAPES = (1.0, 5 / 4, 4 / 3, 3 / 2, 16 / 9, 2.0)
"""Long side over short side of the pictures cameras and phones make."""

CAMERA_SHAPE = 0.5
"""What a camera's shape weighs against departures: a stretched, skewed or cut copy has lost it
(benchmarks/keeper.py: bench-dev 266 -> 271 of 294 originals kept, augly_unseen 260 -> 261 of 292)."""


@dataclass(frozen=True)
class Member:
    """A file of a group, with what the rules read."""

    path: bytes
    size: int
    width: int
    height: int
    format: str
    mtime_ns: int
    decision: str | None = None
    protected: bool = False
    evidence: int = 0
    """Pairs naming it the original by what their pixels show, minus pairs naming it the copy."""
    departure: float = 0.0
    """How far it is from the group's other files, summed (see neardupd/review/plan.py): least for
    the original the copies departed from in their different ways."""
    metadata: int = 0
    captured: float | None = None
    """Unix time of capture (EXIF), if known."""


@dataclass(frozen=True)
class Choice:
    keeper: Member
    rule: str
    """The rule that told the keeper from the others ("path order" if none did)."""


VALUES: Mapping[str, Callable[[Member], tuple]] = {
    "decided": lambda m: ({"keep": 1, "discard": -1}.get(m.decision or "", 0),),
    "protected": lambda m: (m.protected,),
    "likely_original": lambda m: (round(EVIDENCE * m.evidence - m.departure + CAMERA_SHAPE * camera_shape(m), 6),),
    "lossless": lambda m: (m.format.upper() in LOSSLESS,),
    "pixels": lambda m: (m.width * m.height,),
    "less_compressed": lambda m: (m.format.upper(), m.size / max(m.width * m.height, 1)),
    "metadata": lambda m: (m.metadata,),
    "earlier_capture": lambda m: (-(m.captured if m.captured is not None else m.mtime_ns / 1e9),),
    "plain_name": lambda m: (not COPY_NAME.search(os.path.splitext(os.path.basename(m.path))[0]),),
}
"""Each rule's value of a file: higher is better."""


def camera_shape(member: Member) -> bool:
    """Whether a file's sides are in one of :data:`CAMERA_SHAPES` (within 1.5 %)."""
    ratio = max(member.width, member.height) / max(min(member.width, member.height), 1)
    return any(abs(math.log(ratio / shape)) < 0.015 for shape in CAMERA_SHAPES)


def keeper(members: Sequence[Member], order: Sequence[str] = RULES) -> Choice:
    """The file to keep, and the first rule in ``order`` that set it apart from every other."""
    left = sorted(members, key=lambda m: m.path)
    for rule in order:
        if rule == "less_compressed" and len({m.format.upper() for m in left}) > 1:
            continue  # bytes per pixel only compare within one format
        value = VALUES[rule]
        best = max(value(m) for m in left)
        left = [m for m in left if value(m) == best]
        if len(left) == 1:
            return Choice(left[0], rule)
    return Choice(left[0], "path order")
