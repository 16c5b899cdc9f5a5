"""Which of two copies is likely the original, from what the pictures show (pure: values in, a side out).

Pixels alone cannot always tell: a re-saturated copy has the size of its original. The rules, in order:

1. the one without added borders (a padded copy has bars the original lacks);
2. the one the other is a part of (a crop, or a photo pasted whole into a screenshot: the larger one is the copy);
3. of a pair turned by an angle that is not a quarter turn, the one whose canvas did not grow to
   hold the turned corners (a 12° turned copy of a 1600 x 1004 photo is 1774 x 1315: larger, but the copy);
4. the colour one, of a colour picture and a black-and-white one;
5. more pixels;
6. more bytes.

>>> grown_aspect(1600 / 1004, 12.0) > 1.34
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

GROWN_TOLERANCE = 0.03
"""How near (in log aspect) a picture's aspect must be to a turned canvas's to be taken for one."""


def grown_aspect(aspect: float, degrees: float) -> float:
    """Width over height of the canvas that holds a picture of ``aspect`` turned by ``degrees``."""
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    return (aspect * cos + sin) / (aspect * sin + cos)


def grown_canvas(aspect: float, degrees: float) -> float:
    """How much (linear) the canvas of a picture of ``aspect`` grows when it is turned by ``degrees``."""
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    return math.sqrt((aspect * cos + sin) * (aspect * sin + cos) / aspect)


def likely_original(*, pixels: tuple[int, int], sizes: tuple[int, int], aspects: tuple[float, float],
                    bordered: tuple[bool, bool], rotation: float, part_of_other: tuple[bool, bool] = (False, False),
                    contained: bool = False, thumbs: tuple[np.ndarray, np.ndarray] | None = None,
                    grey: tuple[bool | None, bool | None] = (None, None)) -> str:
    """``"a"`` or ``"b"``. ``pixels``, ``sizes`` (bytes), ``aspects`` (of the contents, b's after
    undoing a quarter turn), ``bordered`` (uniform borders), ``part_of_other`` (a crop of the
    other) of a and b; ``rotation``: degrees b is turned from a besides quarter turns;
    ``contained``: a lies whole inside b (a photo in a screenshot); ``thumbs``: both pictures' thumbs,
    to see whether a turned picture's corners are filled (see :func:`filled_corners`; looked at only
    for a turned pair whose shapes fit a grown canvas: 30 us a thumb, on every pair judged, was 10 %
    of the judging)."""
    if bordered[0] != bordered[1]:
        return "b" if bordered[0] else "a"
    if contained:
        return "a"
    if part_of_other[0] != part_of_other[1]:
        return "b" if part_of_other[0] else "a"
    if abs(rotation) >= 1:
        # a copy cut to its valid area after a turn has, turned back, the bounding box of its original:
        # the same shapes as a grown canvas; only a grown canvas has flat filled corners
        b_grew = abs(math.log(aspects[1] / grown_aspect(aspects[0], rotation))) < GROWN_TOLERANCE and _filled(thumbs, 1)
        a_grew = abs(math.log(aspects[0] / grown_aspect(aspects[1], rotation))) < GROWN_TOLERANCE and _filled(thumbs, 0)
        if b_grew != a_grew:
            return "a" if b_grew else "b"
    if None not in grey and grey[0] != grey[1]:  # nobody colours a black-and-white copy back
        return "b" if grey[0] else "a"
    if pixels[0] != pixels[1]:
        return "a" if pixels[0] > pixels[1] else "b"
    return "a" if sizes[0] >= sizes[1] else "b"


def _filled(thumbs: tuple[np.ndarray, np.ndarray] | None, side: int) -> bool:
    return True if thumbs is None else filled_corners(thumbs[side])


CORNER = 3
"""Thumb pixels (of 64) on a side of each corner patch: inside the fill of a canvas grown by a turn of
5° or more."""


def filled_corners(thumb: np.ndarray, *, flat: float = 2.0, alike: float = 6.0) -> bool:
    """Whether at least three corners of a thumb are flat and of one grey, as a turn's filled canvas is."""
    patches = [thumb[:CORNER, :CORNER], thumb[:CORNER, -CORNER:], thumb[-CORNER:, :CORNER], thumb[-CORNER:, -CORNER:]]
    levels = sorted(float(patch.mean()) for patch in patches if float(patch.std()) <= flat)
    return len(levels) >= 3 and any(levels[i + 2] - levels[i] <= alike for i in range(len(levels) - 2))


SEAM = 1.8
"""How much more a picture changes across a pasted photo's edge than beside it (one thumb pixel off)."""


def pasted_seam(thumb: np.ndarray, box: Sequence[float]) -> bool:
    """Whether the edges of ``box`` (fractions of the thumb's picture) inside the thumb are seams:
    the grey changes more across them than across the lines next to them, as round a photo pasted
    into a screenshot or onto a background, not round a crop of one photo (which continues across)."""
    values = thumb.astype(np.float32)
    side_y, side_x = values.shape
    ratios = []
    for position, size, axis in ((box[0], side_x, 1), (box[2], side_x, 1), (box[1], side_y, 0), (box[3], side_y, 0)):
        edge = round(position * size)
        if not 3 <= edge <= size - 3:
            continue  # at the picture's own border: nothing to see
        steps = np.abs(np.diff(values, axis=axis)).mean(axis=1 - axis)  # change from line i to i + 1
        across = steps[edge - 1]
        beside = np.median(np.concatenate([steps[edge - 3:edge - 1], steps[edge:edge + 2]]))
        ratios.append(across / max(beside, 0.5))
    return bool(ratios) and float(np.median(ratios)) >= SEAM
