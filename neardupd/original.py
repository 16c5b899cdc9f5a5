"""Which of two copies is likely the original, from what the pictures show (pure: values in, a side out).

Pixels alone cannot always tell: a re-saturated copy has the size of its original. The rules, in order:

1. a photo pasted whole into a bigger picture (a screenshot, a background: ``contained``, told from a
   crop by the seam round it, see :func:`pasted_seam`);
2. the one with less added border (a padded copy has bars the original lacks; a photo's own flat
   edge, a strip of sky, is on both sides and cancels out);
3. the one the other is a part of (a crop: the larger one is the original);
4. of a pair turned by an angle that is not a quarter turn, the one whose canvas did not grow to
   hold the turned corners (a 12° turned copy of a 1600 x 1004 photo is 1774 x 1315: larger, but the copy);
5. the colour one, of a colour picture and a black-and-white one;
6. more pixels;
7. more bytes.

A group of more than two copies tells more than its pairs: see :func:`departure`.

>>> grown_aspect(1600 / 1004, 12.0) > 1.34
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from neardupd.confirm import DIHEDRAL_NAMES
from neardupd.signature import Picture, dihedral, dihedral_compose, dihedral_inverse

BORDER_MARGIN = 0.04
"""How much more of a picture's area (fraction) must be uniform border to call it the padded one."""

GROWN_TOLERANCE = 0.03
"""How near (in log aspect) a picture's aspect must be to a turned canvas's to be taken for one."""


def border_area(sides: Sequence[float] | None) -> float:
    """The fraction of a picture's area in borders of these ``[left, top, right, bottom]`` widths."""
    left, top, right, bottom = sides or (0.0, 0.0, 0.0, 0.0)
    return 1 - max(0.0, 1 - left - right) * max(0.0, 1 - top - bottom)


def grown_aspect(aspect: float, degrees: float) -> float:
    """Width over height of the canvas that holds a picture of ``aspect`` turned by ``degrees``."""
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    return (aspect * cos + sin) / (aspect * sin + cos)


def grown_canvas(aspect: float, degrees: float) -> float:
    """How much (linear) the canvas of a picture of ``aspect`` grows when it is turned by ``degrees``."""
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    return math.sqrt((aspect * cos + sin) * (aspect * sin + cos) / aspect)


def likely_original(*, pixels: tuple[int, int], sizes: tuple[int, int], aspects: tuple[float, float],
                    bordered: tuple[float, float], rotation: float, part_of_other: tuple[bool, bool] = (False, False),
                    contained: bool = False, thumbs: tuple[np.ndarray, np.ndarray] | None = None,
                    grey: tuple[bool | None, bool | None] = (None, None)) -> str:
    """``"a"`` or ``"b"``. ``pixels``, ``sizes`` (bytes), ``aspects`` (of the contents, b's after
    undoing a quarter turn), ``bordered`` (the fraction of the area in uniform borders),
    ``part_of_other`` (a crop of the other) of a and b; ``rotation``: degrees b is turned from a besides quarter turns;
    ``contained``: a lies whole inside b (a photo in a screenshot); ``thumbs``: both pictures' thumbs,
    to see whether a turned picture's corners are filled (see :func:`filled_corners`; looked at only
    for a turned pair whose shapes fit a grown canvas: 30 us a thumb, on every pair judged, was 10 %
    of the judging)."""
    if contained:
        return "a"
    if abs(bordered[0] - bordered[1]) >= BORDER_MARGIN:
        return "b" if bordered[0] > bordered[1] else "a"
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


TURN_STEP = 0.2
"""What a quarter turn or mirror adds to a departure: no pixel is lost, but it is an edit made."""


def departure(a: Picture, b: Picture, details: Mapping, score: float) -> float:
    """How far apart two confirmed copies are, as a sum of what was changed between them: their
    pattern (grey thumbs standardised and aligned, for pairs that show the whole picture both sides),
    turns, colour, brightness, contrast, aspect, sharpness, and what the pair's ``score`` lost.

    Symmetric. Among a group of copies the original is the one the others departed from: copies
    changed in different ways are further from each other than from it (see neardupd/review/plan.py).
    """
    if shows_whole(details):
        form = DIHEDRAL_NAMES.index(str(details.get("transform", "none")))
        pattern = float(np.sqrt(np.mean((standardised(a.thumb) - standardised(dihedral(b.thumb)[form])) ** 2)))
    else:
        pattern = 5 * (1 - score)  # no whole-picture alignment: the score's loss stands for it
    turned = TURN_STEP if details.get("transform", "none") != "none" else 0.0
    return pattern + turned + (1 - score) + _tone_distance(a, b, details, same_extent=same_borders(details))


def shows_whole(details: Mapping) -> bool:
    """Whether both pictures of a pair show the whole photo, turned by quarter turns at most (no crop,
    paste, perspective or odd angle): their thumbs then align by a dihedral form alone."""
    return not (details.get("crop") or details.get("crop_of_b") or details.get("contained_in")
                or details.get("perspective") or abs(details.get("rotation", 0) or 0) >= 1)


def same_borders(details: Mapping) -> bool:
    """Whether a pair's pictures have alike uniform borders (or none): only then are their
    whole-picture means (brightness, colourfulness) comparable, as the bars count in them."""
    return abs(border_area(details.get("borders_a")) - border_area(details.get("borders_b"))) < BORDER_MARGIN


def _tone_distance(a: Picture, b: Picture, details: Mapping, *, same_extent: bool) -> float:
    """Tone changes between two pictures: brightness and colourfulness only where their means are of
    the same extent (the contrast is the thumbs', which leave borders out). Leaving a padded copy's
    bars out of them: benchmarks/keeper.py, bench-dev 275 -> 276 of 294, augly_unseen 263 -> 262 of 290."""
    brightness = abs(luma(a.mean_rgb) - luma(b.mean_rgb)) / 200 if same_extent else 0.0
    contrast = 0.3 * abs(math.log((a.contrast + 1) / (b.contrast + 1)))
    aspect = abs(math.log(float(details.get("aspect_change", 1.0) or 1.0)))
    colour = sharp = 0.0
    if a.colourfulness is not None and b.colourfulness is not None and same_extent:
        colour = 0.3 * abs(math.log((a.colourfulness + 2) / (b.colourfulness + 2)))
    one_scale = sorted((a.width, a.height)) == sorted((b.width, b.height))
    if a.sharpness is not None and b.sharpness is not None and one_scale:
        sharp = 0.1 * abs(math.log((a.sharpness + 1) / (b.sharpness + 1)))  # comparable at one scale only
    return brightness + contrast + aspect + colour + sharp


def standardised(thumb: np.ndarray) -> np.ndarray:
    """A thumb as float32 with mean 0 and standard deviation 1 (a flat one is not blown up)."""
    values = thumb.astype(np.float32)
    return (values - values.mean()) / max(float(values.std()), 1.0)


def luma(rgb: Sequence[float]) -> float:
    """The grey level of a colour (ITU-R BT.601 weights, as OpenCV's and Pillow's grey)."""
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


GREY = 4.0
"""Colourfulness below which a picture is black and white (a photo: about 40; JPEG noise adds 1-2)."""


def is_grey(picture: Picture) -> bool | None:
    """Whether a picture is black and white (None: an index from before schema 6 did not measure it)."""
    return None if picture.colourfulness is None else picture.colourfulness < GREY


def one_grey(a: Picture, b: Picture) -> bool:
    """Whether exactly one of two pictures is black and white (its pixels show it is the copy)."""
    grey = is_grey(a), is_grey(b)
    return None not in grey and grey[0] != grey[1]


def _aligned_to(reference: bytes, links: Mapping[bytes, Mapping[bytes, int]]) -> dict[bytes, int]:
    """Every picture the links reach from ``reference``, with the form that turns its thumb to look
    like the reference's."""
    turned = {reference: 0}
    waiting = [reference]
    while waiting:
        known = waiting.pop()
        for other, form in links.get(known, {}).items():
            if other not in turned:  # dihedral(other)[form] looks like known, which turned looks like reference
                turned[other] = dihedral_compose(form, turned[known])
                waiting.append(other)
    return turned


def consensus(thumbs: Mapping[bytes, np.ndarray],
              forms: Mapping[tuple[bytes, bytes], int]) -> dict[bytes, float | None]:
    """How far each picture of a group stands from the group's median picture: the mean absolute
    difference of its standardised thumb from the pixel-wise median of them all, aligned through the
    pairs that show the whole picture (``forms[(a, b)]``: the dihedral form of :func:`dihedral` that
    turns b's thumb to look like a's). Copies changed in different places and ways each leave the
    median; the original they were made from stays nearest it (an overlay in one copy of four is not
    in the median). The median is of the largest set of pictures those pairs join; pictures outside
    it, or all when fewer than three are joined, get None."""
    if not thumbs:
        return {}
    links: dict[bytes, dict[bytes, int]] = {}
    for (a, b), form in forms.items():
        links.setdefault(a, {})[b] = form
        links.setdefault(b, {})[a] = dihedral_inverse(form)
    turned: dict[bytes, int] = {}
    for start in sorted(thumbs):
        joined = _aligned_to(start, links) if start not in turned else {}
        if len(joined) > len(turned):
            turned = joined
    aligned = {key: standardised(dihedral(thumbs[key])[form]) for key, form in turned.items()}
    if len(aligned) < 3:
        return dict.fromkeys(thumbs)
    median = np.median(np.stack(list(aligned.values())), axis=0)
    return {key: float(np.mean(np.abs(aligned[key] - median))) if key in aligned else None for key in thumbs}
