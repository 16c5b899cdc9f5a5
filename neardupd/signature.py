"""Pure functions from a decoded RGB array to the values neardupd stores and compares.

* ``phash``: the 64-bit DCT hash of imagehash (same bits as ``imagehash.phash``).
* the *content view*: the picture with uniform borders (padding, letterboxing) trimmed off;
  its pHash in all 8 rotations/flips is what neighbour search probes with.
* the *thumb*: the content view in grayscale, squeezed to THUMB x THUMB pixels; the blurred
  signature that template matching confirms candidates on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from neardupd import thumb_file
from neardupd.features import Features

HASH_SIZE = 8
THUMB = 64
_DCT = np.cos(np.pi * np.outer(np.arange(32), 2 * np.arange(32) + 1) / 64)
_BIT_WEIGHTS = 1 << np.arange(63, -1, -1, dtype=np.uint64)


@dataclass(frozen=True)
class Box:
    """A rectangle as fractions of the picture: left, top, right, bottom in [0, 1]."""

    left: float = 0.0
    top: float = 0.0
    right: float = 1.0
    bottom: float = 1.0

    @property
    def area(self) -> float:
        return max(0.0, self.right - self.left) * max(0.0, self.bottom - self.top)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.right, self.bottom)


def _window_boxes(sizes: tuple[float, ...] = (0.6, 0.8),
                  places: tuple[float, ...] = (0.0, 0.5, 1.0)) -> tuple[Box, ...]:
    boxes = []
    for width in sizes:
        for height in sizes:
            for y in places:
                for x in places:
                    left, top = (1 - width) * x, (1 - height) * y
                    boxes.append(Box(left, top, left + width, top + height))
    return tuple(boxes)


WINDOWS = _window_boxes()
"""Sub-windows of the content whose hashes are indexed, so crops find their original and back."""
ROTATIONS = (-20.0, -12.0, -6.0, 6.0, 12.0, 20.0)
"""Angles (degrees, counter-clockwise) of the rotated-and-cropped views whose hashes are indexed."""


@dataclass(frozen=True)
class Signature:
    """Everything neardupd computes from one decoded picture."""

    phash: int
    """imagehash-compatible pHash of the whole picture (unsigned 64-bit)."""
    content_hashes: tuple[int, ...]
    """pHash of the content view in the 8 dihedral forms; index 0 is the picture as it is."""
    content_box: Box
    thumb: np.ndarray
    """THUMB x THUMB uint8 grayscale of the content view, as read back from ``thumb_webp``."""
    thumb_webp: bytes
    """The thumb as stored (:mod:`neardupd.thumb_file`)."""
    contrast: float
    """Standard deviation of the grayscale thumb (before compression): near 0 for flat pictures."""
    mean_rgb: tuple[float, float, float]
    window_hashes: tuple[int, ...] = ()
    """pHash of each of WINDOWS of the content view."""
    rotation_hashes: tuple[int, ...] = ()
    """pHash of the content view rotated by each of ROTATIONS and cropped to its valid area."""
    flipped_window_hashes: tuple[int, ...] = ()
    """pHash of each window mirrored left-right, then of each mirrored top-bottom (not stored:
    only searched with, so a flipped crop indexed earlier is found from its original)."""
    colourfulness: float | None = None
    """Hasler and Suesstrunk's colourfulness of the picture (0 for black and white, ~40 for a photo)."""
    sharpness: float | None = None
    """Mean absolute Laplacian over the grey spread, at the work size: lower when blurred."""


def grayscale(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 -> L uint8 with Pillow's (ITU-R 601-2) weights, as imagehash sees it."""
    return np.asarray(Image.fromarray(rgb).convert("L"))


def dct_hashes(gray32: np.ndarray) -> tuple[int, ...]:
    """pHash of a 32x32 grayscale array in its 8 dihedral forms (rot 0/90/180/270, each mirrored).

    The order is that of :func:`dihedral`. The forms are derived from one DCT: mirroring
    negates the odd columns of the coefficients and rotating by 90 degrees transposes them.
    """
    low = _DCT[:HASH_SIZE] @ gray32.astype(np.float64) @ _DCT[:HASH_SIZE].T
    low = np.round(low, 6)  # flat pictures: exact zeros, as scipy gives imagehash
    return _median_hashes(np.stack(dihedral(low, odd_signs=True)))


def batch_hashes(grays32: np.ndarray, flips: bool = False) -> tuple[int, ...]:
    """pHash of a stack of 32x32 grayscale arrays, in one matrix product; with ``flips``, then
    also of each mirrored left-right, then of each mirrored top-bottom (from the same DCT)."""
    low = np.round(np.matmul(np.matmul(_DCT[:HASH_SIZE], grays32.astype(np.float64)), _DCT[:HASH_SIZE].T), 6)
    if not flips:
        return _median_hashes(low)
    sign = (-1.0) ** np.arange(HASH_SIZE)
    return _median_hashes(np.concatenate([low, low * sign[None, None, :], low * sign[None, :, None]]))


def _median_hashes(lows: np.ndarray) -> tuple[int, ...]:
    """One 64-bit hash per 8x8 block of coefficients, bits most significant first: set where a
    coefficient is above its block's median."""
    flat = lows.reshape(len(lows), -1)
    bits = flat > np.median(flat, axis=1, keepdims=True)
    return tuple(int(v) for v in (bits.astype(np.uint64) * _BIT_WEIGHTS).sum(axis=1, dtype=np.uint64))


def dihedral(array: np.ndarray, *, odd_signs: bool = False) -> list[np.ndarray]:
    """The 8 rotations/flips of a 2-D array: for k in 0..3, rot90(k) then its left-right mirror.

    With ``odd_signs`` the array is taken as DCT coefficients and the forms are those of the
    coefficients of the rotated/mirrored picture.
    """
    if not odd_signs:
        return [np.ascontiguousarray(form) for form in _dihedral_views(array)]
    sign = (-1.0) ** np.arange(array.shape[1])
    flip_cols = array * sign[None, :]  # left-right mirror
    flip_rows = array * sign[:, None]  # top-bottom mirror
    both = flip_cols * sign[:, None]
    # rot90 (counter-clockwise) = transpose, then top-bottom mirror; same order as the pixel forms
    return [array, flip_cols, flip_cols.T, both.T, both, flip_rows, flip_rows.T, array.T]


def dihedral_inverse(form: int) -> int:
    """The form of :func:`dihedral` that undoes ``form`` (turns reverse; mirrored forms undo themselves)."""
    turns, mirrored = divmod(form, 2)
    return form if mirrored else ((4 - turns) % 4) * 2


def dihedral_compose(first: int, then: int) -> int:
    """The form h with ``dihedral(dihedral(x)[first])[then] == dihedral(x)[h]``."""
    return _dihedral_products()[first][then]


@functools.cache
def _dihedral_products() -> tuple[tuple[int, ...], ...]:
    probe = np.arange(16).reshape(4, 4)
    forms = [dihedral(probe)[form] for form in range(8)]
    return tuple(tuple(next(h for h in range(8) if np.array_equal(dihedral(forms[f])[g], forms[h]))
                       for g in range(8)) for f in range(8))


def dihedral_stack(square: np.ndarray) -> np.ndarray:
    """The 8 forms of :func:`dihedral` of a square array, stacked into one array."""
    return np.stack(_dihedral_views(square))


def _dihedral_views(array: np.ndarray) -> list[np.ndarray]:
    """rot90(k) for k in 0..3 (counter-clockwise), each followed by its left-right mirror (views)."""
    turns = (array, array.T[::-1], array[::-1, ::-1], array.T[:, ::-1])
    return [form for turned in turns for form in (turned, turned[:, ::-1])]


def _resize32(gray: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(gray).resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)


def phash(gray: np.ndarray) -> int:
    """The 64-bit pHash of a grayscale uint8 array, bit for bit ``imagehash.phash``."""
    return dct_hashes(_resize32(gray))[0]


def content_box(gray: np.ndarray, *, tolerance: int = 12, max_trim: float = 0.45) -> Box:
    """The box inside uniform borders: rows/columns whose values span at most ``tolerance``.

    Borders are only taken from the outside in and never more than ``max_trim`` of a side,
    so a picture of a flat wall is not trimmed to nothing.
    """
    height, width = gray.shape
    rows = np.ptp(gray, axis=1) <= tolerance
    top = _run_length(rows, height, max_trim)
    bottom = height - _run_length(rows[::-1], height, max_trim)
    cols = np.ptp(gray[top:bottom], axis=0) <= tolerance
    left = _run_length(cols, width, max_trim)
    right = width - _run_length(cols[::-1], width, max_trim)
    return Box(left / width, top / height, right / width, bottom / height)


def _run_length(flags: np.ndarray, size: int, max_trim: float) -> int:
    limit = int(size * max_trim)
    run = int(np.argmin(flags)) if not flags.all() else size
    return min(run, limit)


def crop(array: np.ndarray, box: Box) -> np.ndarray:
    """The part of ``array`` inside ``box`` (fractions), at least one pixel each way."""
    height, width = array.shape[:2]
    top, bottom = round(box.top * height), max(round(box.bottom * height), round(box.top * height) + 1)
    left, right = round(box.left * width), max(round(box.right * width), round(box.left * width) + 1)
    return array[top:bottom, left:right]


def valid_size(width: float, height: float, degrees: float) -> tuple[float, float]:
    """Largest axis-aligned rectangle (width, height) inside a width x height one rotated by ``degrees``."""
    angle = abs(np.radians(degrees))
    sin_a, cos_a = abs(np.sin(angle)), abs(np.cos(angle))
    long_side, short_side = max(width, height), min(width, height)
    if short_side <= 2 * sin_a * cos_a * long_side or abs(sin_a - cos_a) < 1e-10:
        half = 0.5 * short_side
        return (half / sin_a, half / cos_a) if width >= height else (half / cos_a, half / sin_a)
    cos_2a = cos_a * cos_a - sin_a * sin_a
    return (width * cos_a - height * sin_a) / cos_2a, (height * cos_a - width * sin_a) / cos_2a


def rotate_valid(gray: np.ndarray, degrees: float) -> np.ndarray:
    """``gray`` rotated counter-clockwise by ``degrees`` and cropped to the area with picture only."""
    height, width = gray.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    rotated = cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR)
    valid_w, valid_h = valid_size(width, height, degrees)
    x0 = min(int(np.ceil((width - valid_w) / 2)), width // 2 - 1)
    y0 = min(int(np.ceil((height - valid_h) / 2)), height // 2 - 1)
    return rotated[max(y0, 0):height - max(y0, 0), max(x0, 0):width - max(x0, 0)]


def _area32(gray: np.ndarray) -> np.ndarray:
    return cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA)


_WINDOW_GRID = 160
"""The content is squeezed to this square once; every window is then a whole number of 32x32 blocks."""


def _window_views(content: np.ndarray) -> list[np.ndarray]:
    """32x32 area-averaged views of every window: box-filter the squeezed content once per block
    shape, then take every k-th pixel (no resize per window)."""
    square = cv2.resize(content, (_WINDOW_GRID, _WINDOW_GRID), interpolation=cv2.INTER_AREA).astype(np.float32)
    filtered: dict[tuple[int, int], np.ndarray] = {}
    views = []
    for box in WINDOWS:
        left, top = round(box.left * _WINDOW_GRID), round(box.top * _WINDOW_GRID)
        step_x = round((box.right - box.left) * _WINDOW_GRID) // 32
        step_y = round((box.bottom - box.top) * _WINDOW_GRID) // 32
        if (step_x, step_y) not in filtered:
            filtered[step_x, step_y] = cv2.blur(square, (step_x, step_y), anchor=(0, 0),
                                                borderType=cv2.BORDER_REPLICATE)
        views.append(filtered[step_x, step_y][top:top + 32 * step_y:step_y, left:left + 32 * step_x:step_x])
    return views


def variant_hashes(content: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Hashes of the WINDOWS and of the ROTATIONS views of a content view (grayscale uint8), and of
    each window mirrored left-right, then top-bottom (probes for crops that were also flipped)."""
    if min(content.shape) < 8:
        return (), (), ()
    scale = 128 / max(content.shape)
    small = content if scale >= 1 else cv2.resize(
        content, (max(8, round(content.shape[1] * scale)), max(8, round(content.shape[0] * scale))),
        interpolation=cv2.INTER_AREA)
    rotations = [_area32(rotate_valid(small, angle)) for angle in ROTATIONS]
    count = len(WINDOWS) + len(ROTATIONS)
    hashes = batch_hashes(np.stack(_window_views(content) + rotations), flips=True)
    flipped = hashes[count:count + len(WINDOWS)] + hashes[2 * count:2 * count + len(WINDOWS)]
    return hashes[:len(WINDOWS)], hashes[len(WINDOWS):count], flipped


def make_thumb(gray: np.ndarray, size: int = THUMB) -> np.ndarray:
    """Squeeze a grayscale array to ``size`` x ``size`` with area averaging."""
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)


def compute(rgb: np.ndarray) -> Signature:
    """All signatures of one decoded picture (RGB uint8, any size)."""
    gray = grayscale(rgb)
    box = content_box(gray)
    content = crop(gray, box)
    thumb = make_thumb(content)
    stored, read_back = thumb_file.as_stored(thumb)
    mean_rgb = tuple(float(v) for v in cv2.mean(rgb)[:3])
    colour, sharp = tones(rgb, gray)
    content_hashes = dct_hashes(_resize32(content))
    windows, rotations, flipped = variant_hashes(content)
    return Signature(
        phash=content_hashes[0] if box == Box() else phash(gray),
        content_hashes=content_hashes,
        content_box=box,
        thumb=read_back,
        thumb_webp=stored,
        contrast=float(thumb.std()),
        mean_rgb=mean_rgb,  # type: ignore[arg-type]
        window_hashes=windows,
        rotation_hashes=rotations,
        flipped_window_hashes=flipped,
        colourfulness=colour,
        sharpness=sharp,
    )


def tones(rgb: np.ndarray, gray: np.ndarray) -> tuple[float, float]:
    """(colourfulness, sharpness) of a picture's work-size RGB and grey arrays (see :class:`Signature`).
    Colourfulness is measured on a copy TONE_SIDE pixels long (15 times faster, the same to 2 %)."""
    height, width = rgb.shape[:2]
    scale = min(1.0, TONE_SIDE / max(height, width))
    small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    red_green, yellow_blue = small[..., 0] - small[..., 1], 0.5 * (small[..., 0] + small[..., 1]) - small[..., 2]
    colour = float(np.hypot(red_green.std(), yellow_blue.std()) + 0.3 * np.hypot(red_green.mean(), yellow_blue.mean()))
    edges = cv2.mean(cv2.convertScaleAbs(cv2.Laplacian(gray, cv2.CV_16S)))[0]
    return round(colour, 2), round(float(edges / max(float(gray.std()), 1.0)), 4)


TONE_SIDE = 64


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes."""
    return (a ^ b).bit_count()


def to_signed(value: int) -> int:
    """Unsigned 64-bit -> signed, for SQLite's INTEGER."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    """Signed 64-bit (as stored) -> unsigned."""
    return value + (1 << 64) if value < 0 else value


@dataclass(frozen=True)
class Picture:
    """What confirmation and explanation need of one indexed picture (as stored)."""

    thumb: np.ndarray
    contrast: float
    content_box: Box
    mean_rgb: tuple[float, float, float]
    width: int
    height: int
    size: int = 0
    """File size in bytes (0 if unknown)."""
    features: Features | None = None
    """Local features of the content (None: not computed, an index from before schema 4)."""
    colourfulness: float | None = None
    sharpness: float | None = None
    """See :class:`Signature` (None: an index from before schema 6)."""
    quality: int | None = None
    """The JPEG quality it was saved at (None: not a JPEG, or an index from before schema 7)."""

    @classmethod
    def from_signature(cls, signature: Signature, width: int, height: int, size: int = 0,
                       features: Features | None = None, quality: int | None = None) -> Picture:
        return cls(signature.thumb, signature.contrast, signature.content_box, signature.mean_rgb,
                   width, height, size, features, signature.colourfulness, signature.sharpness, quality)
