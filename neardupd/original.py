"""Which of two copies is likely the original, from what the pictures show (pure: values in, a side out).

Pixels alone cannot always tell: a re-saturated copy has the size of its original. The rules, in order:

1. the one without added borders (a padded copy has bars the original lacks);
2. the one the other is a part of (a crop, or a photo pasted whole into a screenshot: the larger one is the copy);
3. of a pair turned by an angle that is not a quarter turn, the one whose canvas did not grow to
   hold the turned corners (a 12° turned copy of a 1600 x 1004 photo is 1774 x 1315: larger, but the copy);
4. more pixels;
5. more bytes.

>>> grown_aspect(1600 / 1004, 12.0) > 1.34
True
"""

from __future__ import annotations

import math

GROWN_TOLERANCE = 0.03
"""How near (in log aspect) a picture's aspect must be to a turned canvas's to be taken for one."""


def grown_aspect(aspect: float, degrees: float) -> float:
    """Width over height of the canvas that holds a picture of ``aspect`` turned by ``degrees``."""
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    return (aspect * cos + sin) / (aspect * sin + cos)


def likely_original(*, pixels: tuple[int, int], sizes: tuple[int, int], aspects: tuple[float, float],
                    bordered: tuple[bool, bool], rotation: float, part_of_other: tuple[bool, bool] = (False, False),
                    contained: bool = False) -> str:
    """``"a"`` or ``"b"``. ``pixels``, ``sizes`` (bytes), ``aspects`` (of the contents, b's after
    undoing a quarter turn), ``bordered`` (uniform borders), ``part_of_other`` (a crop of the
    other) of a and b; ``rotation``: degrees b is turned from a besides quarter turns;
    ``contained``: a lies whole inside b (a photo in a screenshot)."""
    if bordered[0] != bordered[1]:
        return "b" if bordered[0] else "a"
    if contained:
        return "a"
    if part_of_other[0] != part_of_other[1]:
        return "b" if part_of_other[0] else "a"
    if abs(rotation) >= 1:
        b_grew = abs(math.log(aspects[1] / grown_aspect(aspects[0], rotation))) < GROWN_TOLERANCE
        a_grew = abs(math.log(aspects[0] / grown_aspect(aspects[1], rotation))) < GROWN_TOLERANCE
        if b_grew != a_grew:
            return "a" if b_grew else "b"
    if pixels[0] != pixels[1]:
        return "a" if pixels[0] > pixels[1] else "b"
    return "a" if sizes[0] >= sizes[1] else "b"
