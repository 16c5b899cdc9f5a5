"""Pure functions from a decoded RGB array to the values neardupd stores and compares.

* ``phash``: the 64-bit DCT hash of imagehash (same bits as ``imagehash.phash``).
* the *content view*: the picture with uniform borders (padding, letterboxing) trimmed off;
  its pHash in all 8 rotations/flips is what neighbour search probes with.
* the *thumb*: the content view in grayscale, squeezed to THUMB x THUMB pixels; the blurred
  signature that template matching confirms candidates on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

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


@dataclass(frozen=True)
class Signature:
    """Everything neardupd computes from one decoded picture."""

    phash: int
    """imagehash-compatible pHash of the whole picture (unsigned 64-bit)."""
    content_hashes: tuple[int, ...]
    """pHash of the content view in the 8 dihedral forms; index 0 is the picture as it is."""
    content_box: Box
    thumb: np.ndarray
    """THUMB x THUMB uint8 grayscale of the content view."""
    contrast: float
    """Standard deviation of the grayscale thumb: near 0 for flat pictures."""
    mean_rgb: tuple[float, float, float]


def grayscale(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 -> L uint8 with Pillow's (ITU-R 601-2) weights, as imagehash sees it."""
    return np.asarray(Image.fromarray(rgb).convert("L"))


def hash_bits_to_int(bits: np.ndarray) -> int:
    """A boolean array of 64 bits, most significant first, as an unsigned int."""
    return int(np.sum(_BIT_WEIGHTS[bits.ravel()], dtype=np.uint64))


def dct_hashes(gray32: np.ndarray) -> tuple[int, ...]:
    """pHash of a 32x32 grayscale array in its 8 dihedral forms (rot 0/90/180/270, each mirrored).

    The order is that of :func:`dihedral`. The forms are derived from one DCT: mirroring
    negates the odd columns of the coefficients and rotating by 90 degrees transposes them.
    """
    low = _DCT[:HASH_SIZE] @ gray32.astype(np.float64) @ _DCT[:HASH_SIZE].T
    low = np.round(low, 6)  # flat pictures: exact zeros, as scipy gives imagehash
    return tuple(_median_bits(form) for form in dihedral(low, odd_signs=True))


def _median_bits(low: np.ndarray) -> int:
    return hash_bits_to_int(low > np.median(low))


def dihedral(array: np.ndarray, *, odd_signs: bool = False) -> list[np.ndarray]:
    """The 8 rotations/flips of a 2-D array: for k in 0..3, rot90(k) then its left-right mirror.

    With ``odd_signs`` the array is taken as DCT coefficients and the forms are those of the
    coefficients of the rotated/mirrored picture.
    """
    if not odd_signs:
        forms = []
        for k in range(4):
            rotated = np.rot90(array, k)
            forms.extend((np.ascontiguousarray(rotated), np.ascontiguousarray(rotated[:, ::-1])))
        return forms
    sign = (-1.0) ** np.arange(array.shape[1])
    flip_cols = array * sign[None, :]  # left-right mirror
    flip_rows = array * sign[:, None]  # top-bottom mirror
    both = flip_cols * sign[:, None]
    # rot90 (counter-clockwise) = transpose, then top-bottom mirror; same order as the pixel forms
    return [array, flip_cols, flip_cols.T, both.T, both, flip_rows, flip_rows.T, array.T]


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


def make_thumb(gray: np.ndarray, size: int = THUMB) -> np.ndarray:
    """Squeeze a grayscale array to ``size`` x ``size`` with area averaging."""
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)


def compute(rgb: np.ndarray) -> Signature:
    """All signatures of one decoded picture (RGB uint8, any size)."""
    gray = grayscale(rgb)
    box = content_box(gray)
    content = crop(gray, box)
    thumb = make_thumb(content)
    mean_rgb = tuple(float(v) for v in cv2.mean(rgb)[:3])
    content_hashes = dct_hashes(_resize32(content))
    return Signature(
        phash=content_hashes[0] if box == Box() else phash(gray),
        content_hashes=content_hashes,
        content_box=box,
        thumb=thumb,
        contrast=float(thumb.std()),
        mean_rgb=mean_rgb,  # type: ignore[arg-type]
    )


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

    @classmethod
    def from_signature(cls, signature: Signature, width: int, height: int, size: int = 0) -> Picture:
        return cls(signature.thumb, signature.contrast, signature.content_box, signature.mean_rgb,
                   width, height, size)
