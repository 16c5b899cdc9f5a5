"""What a picture's EXIF header says that the keep-best rules read: how many tags it has, and when
it was taken (pure: an opened Pillow image in, values out; reading a file's is
:func:`neardupd.decode.read_metadata`).

>>> Metadata().tags, Metadata().captured
(0, None)
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from PIL import Image

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


def of_image(image: Image.Image) -> Metadata:
    """The metadata of an opened image; none if its EXIF block cannot be read."""
    try:
        exif = image.getexif()
        inner = exif.get_ifd(EXIF_IFD) if exif else {}
    except Exception as err:  # noqa: BLE001 - any broken EXIF block means "no metadata"
        log.debug("no EXIF read (%s)", err)
        return Metadata()
    return Metadata(len(exif) + len(inner), _exif_time(inner.get(DATE_TAKEN)) if exif else None)


def _exif_time(value: object) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.datetime.strptime(str(value).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=datetime.UTC).timestamp()
