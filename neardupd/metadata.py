"""What a picture's header says that the keep-best rules and the explanations read: how many EXIF
tags it has, when it was taken, and the JPEG quality it was saved at (pure: an opened Pillow image
in, values out; reading a file's is :func:`neardupd.decode.read_metadata`).

>>> Metadata().tags, Metadata().captured
(0, None)
>>> jpeg_quality([2 * value for value in IJG_LUMINANCE])
25
"""

from __future__ import annotations

import datetime
import functools
import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile

log = logging.getLogger(__name__)

DATE_TAKEN = 0x9003
"""EXIF DateTimeOriginal."""

EXIF_IFD = 0x8769


@dataclass(frozen=True)
class Metadata:
    tags: int = 0
    """EXIF tags in the picture's header and its Exif IFD (0: none)."""
    captured: float | None = None
    """DateTimeOriginal as Unix seconds: the camera's local time read as UTC (cameras say no zone)."""
    quality: int | None = None
    """JPEG quality (1-100) its luminance quantisation table was made with, on libjpeg's scale
    (None: not a JPEG). Cameras save 85-98; a messenger's or a web page's re-save often 20-60."""


IJG_LUMINANCE = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
"""libjpeg's luminance table at quality 50 (JPEG standard, Annex K); other qualities scale it."""


def jpeg_quality(table: object) -> int | None:
    """The libjpeg quality (1-100) whose luminance table is nearest ``table`` (64 values in
    :data:`IJG_LUMINANCE`'s order, as Pillow gives them), or None if it is no such table."""
    try:
        values = np.asarray([int(value) for value in table], dtype=np.int32)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if values.shape != (64,):
        return None
    return int(np.argmin(np.abs(_scaled_tables() - values).sum(axis=1))) + 1  # 13 us; a Python loop took 330


@functools.cache
def _scaled_tables() -> np.ndarray:
    """libjpeg's luminance table at each quality 1-100 (row q - 1): scaled by 5000 / q below 50,
    200 - 2q above, each value kept within 1-255 (baseline JPEG)."""
    base = np.asarray(IJG_LUMINANCE, dtype=np.int32)
    scales = [5000 // quality if quality < 50 else 200 - 2 * quality for quality in range(1, 101)]
    return np.stack([np.clip((base * scale + 50) // 100, 1, 255) for scale in scales])


def of_image(image: Image.Image) -> Metadata:
    """The metadata of an opened image; no EXIF facts if its EXIF block cannot be read."""
    tables = getattr(image, "quantization", None) if isinstance(image, JpegImageFile) else None  # MPO too
    quality = jpeg_quality(tables.get(0)) if isinstance(tables, dict) else None
    try:
        exif = image.getexif()
        inner = exif.get_ifd(EXIF_IFD) if exif else {}
    except Exception as err:  # noqa: BLE001 - any broken EXIF block means "no metadata"
        log.debug("no EXIF read (%s)", err)
        return Metadata(quality=quality)
    return Metadata(len(exif) + len(inner), _exif_time(inner.get(DATE_TAKEN)) if exif else None, quality)


def _exif_time(value: object) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.datetime.strptime(str(value).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=datetime.UTC).timestamp()
