"""What changed from one picture to its copy, measured: the ``details`` of a confirmed pair (pure:
two pictures and how they were aligned in, plain JSON values out). See README.md, "What changed".
"""

from __future__ import annotations

import cv2
import numpy as np

from neardupd.confirm import Confirmation, content_aspect, differing_region, turn_point
from neardupd.original import is_grey, likely_original, luma, standardised
from neardupd.signature import Box, Picture, dihedral


def explain(a: Picture, b: Picture, confirmation: Confirmation, *, differ_below: float = 0.3) -> tuple[str, dict]:
    """The kind of a confirmed near copy (``near`` or ``modified``) and what changed from A to B.

    Details are plain JSON values: see README.md, "What changed".
    """
    borders_a, borders_b = _borders(a.content_box), _borders(b.content_box)
    aspect = content_aspect(b) / content_aspect(a) if confirmation.transform % 4 < 2 \
        else content_aspect(b) * content_aspect(a)
    region = _in_frame_of_a(differing_region(confirmation.block_scores, differ_below), confirmation)
    crop_a, crop_b = _region(confirmation.region_a), _region(confirmation.region_b)
    if region is None and crop_a is None and crop_b is None and confirmation.rotation == 0:
        region = overlaid_region(a.thumb, dihedral(b.thumb)[confirmation.transform])
    details: dict = {
        "transform": confirmation.transform_name,
        "crop": crop_a,
        "crop_of_b": crop_b,
        "rotation": round(confirmation.rotation, 1),
        "scale": round(((b.width * b.height) / max(a.width * a.height, 1)) ** 0.5, 3),
        "aspect_change": round(aspect, 3),
        "borders_a": borders_a,
        "borders_b": borders_b,
        "brightness": round(luma(b.mean_rgb) - luma(a.mean_rgb), 1),
        "contrast_ratio": round(b.contrast / max(a.contrast, 1e-6), 3),
        "colour_shift": [round(y - x, 1) for x, y in zip(a.mean_rgb, b.mean_rgb, strict=True)],
        "differing_region": region,
        "size_a": [a.width, a.height],
        "size_b": [b.width, b.height],
        "quality_a": a.quality,
        "quality_b": b.quality,
        "likely_original": likely_original(
            pixels=(a.width * a.height, b.width * b.height), sizes=(a.size, b.size),
            aspects=(content_aspect(a), content_aspect(b) if confirmation.transform % 4 < 2 else 1 / content_aspect(b)),
            bordered=(1 - a.content_box.area, 1 - b.content_box.area), rotation=confirmation.rotation,
            part_of_other=(crop_b is not None, crop_a is not None),
            thumbs=(a.thumb, b.thumb),
            grey=(is_grey(a), is_grey(b))),
        **_tone_changes(a, b),
    }
    modified = (confirmation.transform != 0 or region is not None or abs(aspect - 1) > 0.05
                or borders_a != borders_b or crop_a is not None or crop_b is not None or confirmation.rotation != 0)
    return ("modified" if modified else "near"), details


OVERLAY_STEP = 2.5
"""How many times the typical block's difference a block must differ by to be part of an overlay."""

OVERLAY_FLOOR = 0.3
"""...and at least this much (mean absolute difference of the standardised thumbs): a copy changed all
over (noise, a new JPEG) has no block standing out."""


def overlaid_region(thumb_a: np.ndarray, thumb_b: np.ndarray, *, grid: int = 8) -> list[float] | None:
    """Where B, aligned on A (both thumbs of the whole picture), has something A has not, or the
    reverse: an emoji, a logo, a caption. The box (fractions of A) of the largest patch of touching
    blocks whose difference stands out from the picture's typical block, or None.

    The blocks' correlations miss what keeps a block's pattern (a logo over a like texture); on
    bench-dev's one-overlay copies this gives a region on 42 of 46 logos (30 before), 30 of 36 emoji (19),
    9 of 48 captions (3: text is thinner than a thumb's pixel); on 24 of 421 copies with none, 20 before."""
    difference = cv2.GaussianBlur(np.abs(standardised(thumb_a) - standardised(thumb_b)), (0, 0), 1.0)
    side = difference.shape[0] // grid
    blocks = difference[:side * grid, :side * grid].reshape(grid, side, grid, side).mean(axis=(1, 3))
    standing = blocks > max(OVERLAY_STEP * float(np.median(blocks)), OVERLAY_FLOOR)
    return differing_region(np.where(standing, 0.0, 1.0), 0.5)  # the largest patch of two blocks or more


def _in_frame_of_a(region: list[float] | None, confirmation: Confirmation) -> list[float] | None:
    """The differing region, found in the frame of what was compared, as fractions of A's content:
    a window of A when B is a crop of A; a window of B (showing all of A, turned by the transform)
    when A is a crop of B."""
    if region is None:
        return None
    left, top, right, bottom = region
    if confirmation.region_a.area < 1:
        window = confirmation.region_a
        width, height = window.right - window.left, window.bottom - window.top
        mapped = (window.left + left * width, window.top + top * height,
                  window.left + right * width, window.top + bottom * height)
        return [round(v, 3) for v in mapped]
    if confirmation.region_b.area < 1:
        corners = [turn_point(x, y, confirmation.transform) for x in (left, right) for y in (top, bottom)]
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        return [round(min(xs), 3), round(min(ys), 3), round(max(xs), 3), round(max(ys), 3)]
    return region


def _region(box: Box) -> list[float] | None:
    """A compared region as ``[left, top, right, bottom]`` fractions, or None when it is everything."""
    return None if box.area > 0.97 else [round(v, 3) for v in box.as_tuple()]


def _borders(box: Box) -> list[float] | None:
    """Uniform borders as ``[left, top, right, bottom]`` fractions, or None when there are none."""
    sides = [box.left, box.top, 1 - box.right, 1 - box.bottom]
    return [round(v, 3) for v in sides] if max(sides) > 0.01 else None


SHARPNESS_SIDE = 256
"""Sharpness is measured at the work size (``decode.work_size``, 256 on the long side): only pictures
at least that large were measured at one scale (a 160-pixel copy looks sharper per pixel)."""


def _tone_changes(a: Picture, b: Picture) -> dict:
    """B's colourfulness and sharpness over A's, where both were measured (schema 6 on)."""
    changes = {}
    if a.colourfulness is not None and b.colourfulness is not None:
        changes["colourfulness_change"] = round(b.colourfulness / max(a.colourfulness, 1.0), 3)
    same_scale = min(max(a.width, a.height), max(b.width, b.height)) >= SHARPNESS_SIDE
    if a.sharpness is not None and b.sharpness is not None and a.sharpness > 0 and same_scale:
        changes["sharpness_change"] = round(b.sharpness / a.sharpness, 3)
    return changes
