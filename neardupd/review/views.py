"""Pictures for the review page: thumbnails made on demand and cached in the state folder (never next
to the photos), and a pair's second picture aligned onto the first by the stored transform, with a
heat map of where they differ and the changed region boxed.

Photos are only read (regular files only, through the same decoder as indexing); everything written
goes to the cache folder, each file written whole under a temporary name then renamed.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from neardupd.confirm import DIHEDRAL_NAMES
from neardupd.decode import read_stream, upright_pixels
from neardupd.files import open_regular
from neardupd.signature import dihedral

VIEW_SIDE = 480
"""Long side (pixels) of a pair view's pictures."""


def upright_rgb(path: bytes, side: int) -> np.ndarray:
    """A photo upright (EXIF), RGB, at most ``side`` pixels on its long side."""
    with open_regular(path) as handle:
        return upright_pixels(read_stream(handle, path, work_size=side, long_side=side), side)


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "PNG")
    return out.getvalue()


def cached(cache: Path, name: str, make: bytes | None = None) -> bytes | None:
    """The cached bytes under ``name``, or ``make`` stored there first (written whole, then renamed)."""
    target = cache / name
    if target.is_file():
        return target.read_bytes()
    if make is None:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{name}.{os.getpid()}.part"
    partial.write_bytes(make)
    os.replace(partial, target)
    return make


def aligned(a: np.ndarray, b: np.ndarray, details: Mapping) -> np.ndarray:
    """B turned, cropped or placed as the details say, at A's size: the same scene where A shows it."""
    name = str(details.get("transform", "none"))
    form = DIHEDRAL_NAMES.index(name) if name in DIHEDRAL_NAMES else 0
    b = dihedral(b)[form] if b.ndim == 2 else np.stack([dihedral(b[..., c])[form] for c in range(3)], axis=-1)
    if abs(details.get("rotation", 0) or 0) >= 1:  # b is turned by this much counter-clockwise: turn it back
        height, width = b.shape[:2]
        turn = cv2.getRotationMatrix2D((width / 2, height / 2), -float(details["rotation"]), 1.0)
        b = cv2.warpAffine(b, turn, (width, height), borderMode=cv2.BORDER_REPLICATE)
    if details.get("borders_b"):  # b's uniform borders are not part of what was compared
        b = _cut(b, _inside(details["borders_b"]))
    if details.get("contained_in"):  # a lies in b at this box: cut it out
        b = _cut(b, details["contained_in"])
    elif details.get("crop_of_b"):  # a is this part of b
        b = _cut(b, details["crop_of_b"])
    if details.get("borders_a") and not details.get("crop"):  # b goes inside a's borders
        details = {**details, "crop": _inside(details["borders_a"])}
    height, width = a.shape[:2]
    if details.get("crop"):  # b is this part of a: placed there, the rest left as a shows it
        left, top, right, bottom = _pixels(details["crop"], width, height)
        canvas = a.copy()
        canvas[top:bottom, left:right] = cv2.resize(b, (max(right - left, 1), max(bottom - top, 1)),
                                                    interpolation=cv2.INTER_AREA)
        return canvas
    return cv2.resize(b, (width, height), interpolation=cv2.INTER_AREA)


def heat_map(a: np.ndarray, b: np.ndarray, region: Sequence[float] | None) -> np.ndarray:
    """Where two aligned pictures differ, hot to cold, over A in grey; the changed region boxed."""
    grey_a = cv2.GaussianBlur(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), (0, 0), 2).astype(np.int16)
    grey_b = cv2.GaussianBlur(cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), (0, 0), 2).astype(np.int16)
    difference = np.clip(np.abs(grey_a - grey_b) * 3, 0, 255).astype(np.uint8)
    colours = cv2.cvtColor(cv2.applyColorMap(difference, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    under = cv2.cvtColor(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    shown = cv2.addWeighted(under, 0.35, colours, 0.65, 0)
    if region:
        left, top, right, bottom = _pixels(region, a.shape[1], a.shape[0])
        cv2.rectangle(shown, (left, top), (max(right - 1, left), max(bottom - 1, top)), (0, 255, 255), 2)
    return shown


def _inside(borders: Sequence[float]) -> list[float]:
    """The box inside uniform borders given as left, top, right, bottom fractions."""
    left, top, right, bottom = borders
    return [left, top, 1 - right, 1 - bottom]


def _pixels(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = (min(max(v, 0.0), 1.0) for v in box)
    return round(left * width), round(top * height), round(right * width), round(bottom * height)


def _cut(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    left, top, right, bottom = _pixels(box, image.shape[1], image.shape[0])
    if right - left < 2 or bottom - top < 2:
        return image
    return image[top:bottom, left:right]
