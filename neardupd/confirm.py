"""Template-matching confirmation of a candidate pair, on the stored blurred thumbs.

Pure functions on arrays: no I/O, no database. The score is a trimmed mean of blockwise
correlations between the two blurred thumbs, at the best of the 8 rotations/flips: a local
overlay (caption, sticker, logo) spoils only the blocks it covers, and those are trimmed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from neardupd.signature import ROTATIONS, THUMB, WINDOWS, Box, Picture, crop, dihedral, rotate_valid

DIHEDRAL_NAMES = ("none", "mirror", "rot90", "rot90+mirror", "rot180", "rot180+mirror",
                  "rot270", "rot270+mirror")
"""What was done to image B to look like image A, in the order of :func:`dihedral`."""


@dataclass(frozen=True)
class Confirmation:
    score: float
    """Similarity in [0, 1]: 1 is the same picture."""
    transform: int
    """Index into DIHEDRAL_NAMES: how B is rotated/mirrored relative to A."""
    block_scores: np.ndarray
    """Per-block correlation (grid x grid) at the chosen transform; low blocks differ, NaN
    blocks are flat on both sides (no evidence either way)."""
    region_a: Box = Box()
    """The part of A's content that was compared (all of it unless B is a crop of A)."""
    region_b: Box = Box()
    """The part of B's content that was compared (all of it unless A is a crop of B)."""
    rotation: float = 0.0
    """Degrees (counter-clockwise) by which B's content is turned relative to A's, besides quarter turns."""

    @property
    def transform_name(self) -> str:
        return DIHEDRAL_NAMES[self.transform]


def _prepare(thumb: np.ndarray, sigma: float) -> np.ndarray:
    blurred = cv2.GaussianBlur(thumb.astype(np.float32), (0, 0), sigma)
    return blurred


def _block_correlations(a: np.ndarray, forms: np.ndarray, grid: int,
                        texture: float) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of each of grid x grid blocks between ``a`` and each form, and
    which blocks are informative (at least one side varies by more than ``texture`` grey levels)."""
    size = a.shape[0] // grid
    span = size * grid
    a_blocks = a[:span, :span].reshape(grid, size, grid, size)
    b_blocks = forms[:, :span, :span].reshape(len(forms), grid, size, grid, size)
    a_dev = a_blocks - a_blocks.mean(axis=(1, 3), keepdims=True)
    b_dev = b_blocks - b_blocks.mean(axis=(2, 4), keepdims=True)
    covariance = (a_dev[None] * b_dev).sum(axis=(2, 4))
    a_energy = (a_dev ** 2).sum(axis=(1, 3))
    b_energy = (b_dev ** 2).sum(axis=(2, 4))
    floor = size * size  # one grey level of noise: keeps near-flat blocks from dividing by ~0
    correlation = covariance / np.sqrt((a_energy[None] + floor) * (b_energy + floor))
    informative = np.maximum(a_energy[None], b_energy) > (texture * size) ** 2
    return correlation, informative


def _trimmed_mean(values: np.ndarray, keep: float, minimum: int) -> float:
    """Mean of the best ``keep`` fraction of ``values``; 0 when there are fewer than ``minimum``."""
    if len(values) < minimum:
        return 0.0
    ordered = np.sort(values)
    return float(ordered[int(round(len(ordered) * (1 - keep))):].mean())


def confirm(thumb_a: np.ndarray, thumb_b: np.ndarray, *, sigma: float = 1.0, grid: int = 8,
            keep: float = 0.75, texture: float = 2.0, min_blocks: int = 8) -> Confirmation:
    """How alike two thumbs are, trying B in all 8 rotations/flips.

    Only blocks with texture on at least one side count (a flat sky agreeing with a flat sky
    proves nothing); ``keep`` is the fraction of best-agreeing ones averaged, so a quarter of the
    picture can be covered by an overlay without vetoing the match.
    """
    a = _prepare(thumb_a, sigma)
    forms = np.stack(dihedral(_prepare(thumb_b, sigma)))
    blocks, informative = _block_correlations(a, forms, grid, texture)
    scores = [_trimmed_mean(blocks[i][informative[i]], keep, min_blocks) for i in range(len(forms))]
    best = int(np.argmax(scores))
    shown = np.where(informative[best], blocks[best], np.nan)
    return Confirmation(float(np.clip(scores[best], 0.0, 1.0)), best, shown)


def content_aspect(picture: Picture) -> float:
    box = picture.content_box
    return (picture.width * (box.right - box.left)) / max(picture.height * (box.bottom - box.top), 1e-6)


def variant_view(picture: Picture, variant: int) -> tuple[np.ndarray, Box, float]:
    """A THUMB x THUMB view of one variant of a picture, made from its stored thumb:
    (view, window box, rotation in degrees). ``variant`` -1 is the whole content."""
    if variant < 0:
        return picture.thumb, Box(), 0.0
    if variant < len(WINDOWS):
        box = WINDOWS[variant]
        view = crop(picture.thumb, box)
        return cv2.resize(view, (THUMB, THUMB), interpolation=cv2.INTER_LINEAR), box, 0.0
    angle = ROTATIONS[variant - len(WINDOWS)]
    aspect = content_aspect(picture)
    width, height = (THUMB, max(8, round(THUMB / aspect))) if aspect >= 1 else (max(8, round(THUMB * aspect)), THUMB)
    unsqueezed = cv2.resize(picture.thumb, (width, height), interpolation=cv2.INTER_LINEAR)
    view = rotate_valid(unsqueezed, angle)
    return cv2.resize(view, (THUMB, THUMB), interpolation=cv2.INTER_LINEAR), Box(), angle


def confirm_pictures(a: Picture, b: Picture, variant_a: int = -1, variant_b: int = -1) -> Confirmation:
    """Confirm B against A, comparing the given variants of each (from a neighbour search),
    and the whole contents too; the better comparison wins."""
    whole = confirm(a.thumb, b.thumb)
    if variant_a < 0 and variant_b < 0:
        return whole
    view_a, box_a, angle_a = variant_view(a, variant_a)
    view_b, box_b, angle_b = variant_view(b, variant_b)
    part = confirm(view_a, view_b)
    if part.score <= whole.score:
        return whole
    return Confirmation(part.score, part.transform, part.block_scores, box_a, box_b, angle_a - angle_b)


def explain(a: Picture, b: Picture, confirmation: Confirmation, *, differ_below: float = 0.3) -> tuple[str, dict]:
    """The kind of a confirmed near copy (``near`` or ``modified``) and what changed from A to B.

    Details are plain JSON values: see README.md, "What changed".
    """
    borders_a, borders_b = _borders(a.content_box), _borders(b.content_box)
    aspect = _aspect(b) / _aspect(a) if confirmation.transform % 4 < 2 else _aspect(b) * _aspect(a)
    region = differing_region(confirmation.block_scores, differ_below)
    details: dict = {
        "transform": confirmation.transform_name,
        "scale": round(((b.width * b.height) / max(a.width * a.height, 1)) ** 0.5, 3),
        "aspect_change": round(aspect, 3),
        "borders_a": borders_a,
        "borders_b": borders_b,
        "brightness": round(_luma(b.mean_rgb) - _luma(a.mean_rgb), 1),
        "contrast_ratio": round(b.contrast / max(a.contrast, 1e-6), 3),
        "colour_shift": [round(y - x, 1) for x, y in zip(a.mean_rgb, b.mean_rgb, strict=True)],
        "differing_region": region,
        "likely_original": _likely_original(a, b, borders_a, borders_b),
    }
    modified = (confirmation.transform != 0 or region is not None or abs(aspect - 1) > 0.05
                or borders_a != borders_b)
    return ("modified" if modified else "near"), details


def differing_region(block_scores: np.ndarray, below: float) -> list[float] | None:
    """Bounding box ``[left, top, right, bottom]`` (fractions of A's content) of disagreeing blocks."""
    rows, cols = np.nonzero(np.nan_to_num(block_scores, nan=1.0) < below)
    if len(rows) == 0:
        return None
    grid = block_scores.shape[0]
    return [round(cols.min() / grid, 3), round(rows.min() / grid, 3),
            round((cols.max() + 1) / grid, 3), round((rows.max() + 1) / grid, 3)]


def _borders(box: Box) -> list[float] | None:
    """Uniform borders as ``[left, top, right, bottom]`` fractions, or None when there are none."""
    sides = [box.left, box.top, 1 - box.right, 1 - box.bottom]
    return [round(v, 3) for v in sides] if max(sides) > 0.01 else None


def _aspect(picture: Picture) -> float:
    box = picture.content_box
    return (picture.width * (box.right - box.left)) / max(picture.height * (box.bottom - box.top), 1e-6)


def _luma(rgb: tuple[float, float, float]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _likely_original(a: Picture, b: Picture, borders_a: list[float] | None,
                     borders_b: list[float] | None) -> str:
    """'a' or 'b': the one without added borders, else the one with more pixels, else more bytes."""
    if (borders_a is None) != (borders_b is None):
        return "a" if borders_a is None else "b"
    pixels_a, pixels_b = a.width * a.height, b.width * b.height
    if pixels_a != pixels_b:
        return "a" if pixels_a > pixels_b else "b"
    return "a" if a.size >= b.size else "b"
