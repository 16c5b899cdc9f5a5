"""Template-matching confirmation of a candidate pair, on the stored blurred thumbs.

Pure functions on arrays: no I/O, no database. The score is a trimmed mean of blockwise
correlations between the two blurred thumbs, at the best of the 8 rotations/flips: a local
overlay (caption, sticker, logo) spoils only the blocks it covers, and those are trimmed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from neardupd.signature import (
    ROTATIONS,
    THUMB,
    WINDOWS,
    Box,
    Picture,
    crop,
    dihedral,
    dihedral_inverse,
    dihedral_stack,
    rotate_valid,
)

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


def _prepare(thumb: np.ndarray, sigma: float, *, background: float = 6.0, keep_background: float = 0.3) -> np.ndarray:
    """Blur away pixel noise and most of the smooth background (sky gradients, vignetting): what
    is left is the structure that makes a picture itself, so two skies do not look like a copy."""
    values = thumb.astype(np.float64)
    detail = cv2.GaussianBlur(values, (0, 0), sigma)
    return detail - (1 - keep_background) * cv2.GaussianBlur(values, (0, 0), background)


@functools.cache
def _block_matrix(side: int, grid: int) -> np.ndarray:
    """(grid, side) 0/1 matrix: ``M @ x @ M.T`` sums x over grid x grid blocks."""
    size = side // grid
    matrix = np.zeros((grid, side))
    for block in range(grid):
        matrix[block, block * size:(block + 1) * size] = 1.0
    return matrix


def _block_correlations(a: np.ndarray, forms: np.ndarray, grid: int,
                        texture: float) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of each of grid x grid blocks between ``a`` and each form, and
    which blocks are informative (at least one side varies by more than ``texture`` grey levels)."""
    blocks = _block_matrix(a.shape[0], grid)
    count = (a.shape[0] // grid) ** 2

    def block_sums(x: np.ndarray) -> np.ndarray:
        return blocks @ x @ blocks.T

    sum_a, sum_b = block_sums(a), block_sums(forms)
    covariance = block_sums(a[None] * forms) - sum_a[None] * sum_b / count
    a_energy = block_sums(a * a) - sum_a * sum_a / count
    b_energy = block_sums(forms * forms) - sum_b * sum_b / count
    floor = count  # one grey level of noise: keeps near-flat blocks from dividing by ~0
    correlation = covariance / np.sqrt((np.maximum(a_energy, 0)[None] + floor) * (np.maximum(b_energy, 0) + floor))
    informative = np.maximum(a_energy[None], b_energy) > texture * texture * count
    return correlation, informative


def _trimmed_means(blocks: np.ndarray, informative: np.ndarray, keep: float, minimum: int) -> np.ndarray:
    """Per form, the mean of the best ``keep`` fraction of its informative blocks (0 if fewer than ``minimum``)."""
    values = np.where(informative, blocks, np.inf).reshape(len(blocks), -1)
    ordered = np.sort(values, axis=1)
    counts = informative.reshape(len(blocks), -1).sum(axis=1)
    starts = counts - np.round(counts * keep).astype(int)
    sums = np.concatenate([np.zeros((len(blocks), 1)), np.cumsum(np.where(np.isinf(ordered), 0, ordered), axis=1)],
                          axis=1)
    rows = np.arange(len(blocks))
    kept = np.maximum(counts - starts, 1)
    means = (sums[rows, counts] - sums[rows, starts]) / kept
    return np.where(counts >= minimum, means, 0.0)


DETAIL_SIGMA = 1.0
REFINE_FROM = 0.35
"""A window comparison scoring below this is a stranger, not a misaligned crop: no refinement
(bench-dev: the same R@P99 as refining from 0.25, in 15 % less indexing time)."""


def _detail(thumb: np.ndarray) -> np.ndarray:
    """:func:`_prepare` at the default sigma, remembered for the last thumbs seen: a new picture
    is confirmed against several candidates, and a stored one is often a candidate again."""
    return _cached_detail(thumb.tobytes(), thumb.shape, thumb.dtype.str)


def _detail_forms(thumb: np.ndarray) -> np.ndarray:
    """The 8 rotations/flips of :func:`_detail`, stacked (remembered the same way)."""
    return _cached_detail_forms(thumb.tobytes(), thumb.shape, thumb.dtype.str)


@functools.lru_cache(maxsize=256)
def _cached_detail(data: bytes, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    detail = _prepare(np.frombuffer(data, dtype=dtype).reshape(shape), DETAIL_SIGMA)
    detail.flags.writeable = False
    return detail


@functools.lru_cache(maxsize=64)
def _cached_detail_forms(data: bytes, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    forms = dihedral_stack(_cached_detail(data, shape, dtype))
    forms.flags.writeable = False
    return forms


def confirm(thumb_a: np.ndarray, thumb_b: np.ndarray, *, sigma: float = DETAIL_SIGMA, grid: int = 8,
            keep: float = 0.75, texture: float = 2.0, min_blocks: int = 8) -> Confirmation:
    """How alike two thumbs are, trying B in all 8 rotations/flips.

    Only blocks with texture on at least one side count (a flat sky agreeing with a flat sky
    proves nothing); ``keep`` is the fraction of best-agreeing ones averaged, so a quarter of the
    picture can be covered by an overlay without vetoing the match.
    """
    if sigma == DETAIL_SIGMA:
        a, forms = _detail(thumb_a), _detail_forms(thumb_b)
    else:
        a, forms = _prepare(thumb_a, sigma), dihedral_stack(_prepare(thumb_b, sigma))
    blocks, informative = _block_correlations(a, forms, grid, texture)
    scores = _trimmed_means(blocks, informative, keep, min_blocks)
    best = int(np.argmax(scores))
    shown = np.where(informative[best], blocks[best], np.nan)
    return Confirmation(float(np.clip(scores[best], 0.0, 1.0)), best, shown)


def content_aspect(picture: Picture) -> float:
    """Width over height of the picture's content (inside its uniform borders), in pixels."""
    box = picture.content_box
    return (picture.width * (box.right - box.left)) / max(picture.height * (box.bottom - box.top), 1e-6)


def variant_view(picture: Picture, variant: int) -> tuple[np.ndarray, float]:
    """A THUMB x THUMB view of one variant of a picture, made from its stored thumb, and the
    rotation in degrees it shows. ``variant`` -1 is the whole content."""
    if variant < 0:
        return picture.thumb, 0.0
    if variant < len(WINDOWS):
        return _window(picture.thumb, WINDOWS[variant]), 0.0
    angle = ROTATIONS[variant - len(WINDOWS)]
    aspect = content_aspect(picture)
    width, height = (THUMB, max(8, round(THUMB / aspect))) if aspect >= 1 else (max(8, round(THUMB * aspect)), THUMB)
    unsqueezed = cv2.resize(picture.thumb, (width, height), interpolation=cv2.INTER_LINEAR)
    view = rotate_valid(unsqueezed, angle)
    return cv2.resize(view, (THUMB, THUMB), interpolation=cv2.INTER_LINEAR), angle


def confirm_pictures(a: Picture, b: Picture, variant_a: int = -1, variant_b: int = -1, *,
                     good_enough: float = 0.9) -> Confirmation:
    """Confirm B against A, comparing the given variants of each (from a neighbour search),
    and the whole contents too; the better comparison wins.

    A window hint says roughly where one picture sits inside the other; template matching
    then finds the true box, so the crop box reported is the real one, not the nearest window.
    """
    whole = confirm(a.thumb, b.thumb)
    if whole.score >= good_enough:
        return whole
    is_window_a, is_window_b = 0 <= variant_a < len(WINDOWS), 0 <= variant_b < len(WINDOWS)
    if is_window_a and is_window_b:
        inside_a, box = _frame_of_smaller(WINDOWS[variant_a], WINDOWS[variant_b])
        part = _confirm_inside(a, b, box) if inside_a else _confirm_inside(b, a, box, swapped=True)
    elif is_window_a and variant_b < 0:
        part = _confirm_inside(a, b, WINDOWS[variant_a])
    elif is_window_b and variant_a < 0:
        part = _confirm_inside(b, a, WINDOWS[variant_b], swapped=True)
    elif variant_a >= 0 or variant_b >= 0:
        view_a, angle_a = variant_view(a, variant_a)
        view_b, angle_b = variant_view(b, variant_b)
        found = confirm(view_a, view_b)
        part = Confirmation(found.score, found.transform, found.block_scores, rotation=angle_a - angle_b)
    else:
        return whole
    return part if part.score > whole.score else whole


def _frame_of_smaller(window_a: Box, window_b: Box) -> tuple[bool, Box]:
    """Two windows show the same region: where does the smaller picture's whole frame lie in the
    larger one's? (True, box in A) if B is the smaller, else (False, box in B)."""
    scale_x = (window_a.right - window_a.left) / (window_b.right - window_b.left)
    scale_y = (window_a.bottom - window_a.top) / (window_b.bottom - window_b.top)
    if scale_x * scale_y <= 1:
        left, top = window_a.left - window_b.left * scale_x, window_a.top - window_b.top * scale_y
        return True, _clip(Box(left, top, left + scale_x, top + scale_y))
    left, top = window_b.left - window_a.left / scale_x, window_b.top - window_a.top / scale_y
    return False, _clip(Box(left, top, left + 1 / scale_x, top + 1 / scale_y))


def _clip(box: Box) -> Box:
    left, top = min(max(box.left, 0.0), 0.9), min(max(box.top, 0.0), 0.9)
    return Box(left, top, max(min(box.right, 1.0), left + 0.1), max(min(box.bottom, 1.0), top + 0.1))


def _confirm_inside(big: Picture, small: Picture, box: Box, *, swapped: bool = False) -> Confirmation:
    """Confirm that ``small`` is the part ``box`` (roughly) of ``big``; refine the box first.
    Scores are oriented as (A, B) = (big, small), or (small, big) when ``swapped``."""
    first = confirm(_window(big.thumb, box), small.thumb)
    if not REFINE_FROM <= first.score < 0.92:  # hopeless, or already aligned well
        return _oriented(first, box, swapped)
    turned_small = dihedral(small.thumb)[first.transform]
    refined = refine_window(big.thumb, turned_small, box)
    found = _best(first, confirm(_window(big.thumb, refined), small.thumb))
    return _oriented(found, refined if found is not first else box, swapped)


def _oriented(found: Confirmation, box: Box, swapped: bool) -> Confirmation:
    if not swapped:
        return Confirmation(found.score, found.transform, found.block_scores, region_a=box)
    return Confirmation(found.score, dihedral_inverse(found.transform), found.block_scores, region_b=box)


def _best(first: Confirmation, second: Confirmation) -> Confirmation:
    return second if second.score > first.score else first


def _window(thumb: np.ndarray, box: Box) -> np.ndarray:
    return cv2.resize(crop(thumb, box), (THUMB, THUMB), interpolation=cv2.INTER_LINEAR)


def refine_window(big: np.ndarray, small: np.ndarray, box: Box, *,
                  sizes: tuple[float, ...] = (0.87, 1.0, 1.15)) -> Box:
    """Where ``small`` (a whole thumb) best sits inside ``big``, near ``box``: template matching
    over window sizes around the box's, at every offset. Returns the box found (fractions)."""
    side = big.shape[0]
    target = cv2.GaussianBlur(big.astype(np.float32), (0, 0), 1.0)
    best, found = -2.0, box
    for scale_x in sizes:
        for scale_y in sizes:
            width = round((box.right - box.left) * side * scale_x)
            height = round((box.bottom - box.top) * side * scale_y)
            if not (8 <= width <= side and 8 <= height <= side):
                continue
            template = cv2.GaussianBlur(cv2.resize(small, (width, height), interpolation=cv2.INTER_AREA)
                                        .astype(np.float32), (0, 0), 1.0)
            scores = cv2.matchTemplate(target, template, cv2.TM_CCOEFF_NORMED)
            _, value, _, (x, y) = cv2.minMaxLoc(scores)
            if value > best:
                best, found = value, Box(x / side, y / side, (x + width) / side, (y + height) / side)
    return found


def differing_region(block_scores: np.ndarray, below: float, *, min_blocks: int = 2) -> list[float] | None:
    """Bounding box ``[left, top, right, bottom]`` (fractions of the compared frame) of the largest
    patch of touching disagreeing blocks, or None. Lone blocks are left out: an edge block that
    disagrees because a crop was aligned a few pixels off is not an edit.

    >>> scores = np.ones((8, 8)); scores[1:3, 5:7] = 0.1; scores[7, 0] = 0.0
    >>> differing_region(scores, 0.3)
    [0.625, 0.125, 0.875, 0.375]
    """
    low = block_scores < below  # blocks not compared (NaN) agree
    if np.count_nonzero(low) < max(min_blocks, 1):  # no patch large enough (most pairs judged)
        return None
    _, _, stats, _ = cv2.connectedComponentsWithStats(low.astype(np.uint8), connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[largest, cv2.CC_STAT_AREA] < min_blocks:
        return None
    left, top, width, height = (int(v) for v in stats[largest, :4])
    grid = block_scores.shape[0]
    return [round(left / grid, 3), round(top / grid, 3), round((left + width) / grid, 3),
            round((top + height) / grid, 3)]


def turn_point(x: float, y: float, transform: int) -> tuple[float, float]:
    """Where the point (x, y) (fractions) lands in the dihedral form ``transform`` of a picture:
    quarter turns counter-clockwise, then the left-right mirror, as :func:`dihedral` makes them.

    >>> turn_point(0.0, 0.0, 2)  # rot90: the top-left corner goes to the bottom-left
    (0.0, 1.0)
    >>> turn_point(0.25, 0.5, 1)  # mirror
    (0.75, 0.5)
    """
    quarter_turns, mirrored = divmod(transform, 2)
    for _ in range(quarter_turns):
        x, y = y, 1.0 - x
    return (1.0 - x, y) if mirrored else (x, y)


def trimmed_mean(blocks: np.ndarray, *, keep: float = 0.75, min_blocks: int = 4) -> float:
    """Mean of the best ``keep`` of the blocks that are not NaN, in [0, 1] (0 under ``min_blocks``)."""
    usable = ~np.isnan(blocks)
    return float(np.clip(_trimmed_means(np.nan_to_num(blocks)[None], usable[None], keep, min_blocks)[0], 0.0, 1.0))


def aligned_block_scores(thumb_a: np.ndarray, thumb_b: np.ndarray, b_from_a: np.ndarray, *, grid: int = 8,
                         texture: float = 2.0) -> np.ndarray:
    """(grid, grid) blockwise correlations between A's thumb and B's thumb warped into A's frame by
    ``b_from_a`` (3x3, A's thumb pixels to B's); NaN where B does not cover the block wholly or
    neither side has texture."""
    size, flags = (thumb_a.shape[1], thumb_a.shape[0]), cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(thumb_b.astype(np.float32), b_from_a, size, flags=flags,
                                 borderMode=cv2.BORDER_REPLICATE)
    covered = cv2.warpPerspective(np.ones(thumb_b.shape, np.float32), b_from_a, size, flags=flags,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    blocks, informative = _block_correlations(_detail(thumb_a), _prepare(warped, DETAIL_SIGMA)[None], grid, texture)
    whole = _block_matrix(thumb_a.shape[0], grid) @ covered @ _block_matrix(thumb_a.shape[0], grid).T
    usable = informative[0] & (whole >= 0.99 * (thumb_a.shape[0] // grid) ** 2)
    return np.where(usable, blocks[0], np.nan)
