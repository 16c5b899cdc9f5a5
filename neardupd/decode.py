"""One canonical way from a file to a small, upright, 8-bit RGB array.

Every signature is computed from what :func:`decode_file` returns, so the file is decoded
exactly once. JPEGs are decoded at reduced size with Pillow's ``draft()`` (the DCT scaling
of libjpeg), which is where most of the speed comes from.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from neardupd import metadata
from neardupd.errors import DecodeError
from neardupd.features import shrunk
from neardupd.files import SNIFF_BYTES, looks_like_image, open_regular
from neardupd.metadata import Metadata

log = logging.getLogger(__name__)

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "PPM", "HEIF", "AVIF")
BACKGROUND = (255, 255, 255)
"""Transparent pixels are composited on this colour (what most viewers show)."""


@dataclass(frozen=True)
class Decoded:
    """A decoded picture: ``pixels`` is upright RGB uint8, at most ``work_size`` on its long side."""

    pixels: np.ndarray
    width: int
    height: int
    format: str
    pixel_digest: bytes
    detail: np.ndarray | None = None
    """Upright grayscale at most ``detail_size`` on its long side (local features), if asked for."""
    metadata: Metadata = Metadata()
    """What its EXIF header says (tags, capture time)."""

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape[0], self.pixels.shape[1]


@functools.cache
def _register_heif() -> bool:
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - optional at run time
        log.warning("pillow-heif is not installed: HEIC/HEIF files will be reported unsupported")
        return False
    pillow_heif.register_heif_opener()
    return True


def decode_file(path: str | bytes | os.PathLike, *, work_size: int = 256,
                max_pixels: int = 200_000_000, max_decoded_pixels: int | None = None) -> Decoded:
    """Decode ``path`` (only a regular file is opened) into a :class:`Decoded`, or raise
    :class:`DecodeError` saying why not."""
    try:
        with open_regular(os.fsencode(path)) as handle:
            return decode_stream(handle, path, work_size=work_size, max_pixels=max_pixels,
                                 max_decoded_pixels=max_decoded_pixels)
    except OSError as err:
        raise DecodeError(path, "unreadable", f"cannot read the file ({err.strerror or err})") from err


def read_metadata(path: bytes) -> Metadata:
    """The EXIF metadata in a file's header, without decoding it (a regular file only: never a FIFO
    or a device); none if it cannot be read."""
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            return metadata.of_image(image)
    except (OSError, ValueError, SyntaxError) as err:
        log.debug("%s: no EXIF read (%s)", os.fsdecode(path), err)
        return Metadata()


def decode_stream(handle: BinaryIO, path: str | bytes | os.PathLike, *, work_size: int = 256,
                  max_pixels: int = 200_000_000, max_decoded_pixels: int | None = None) -> Decoded:
    """Decode an open binary file; ``path`` is only used in error messages."""
    return normalise(read_stream(handle, path, work_size=work_size, max_pixels=max_pixels,
                                 max_decoded_pixels=max_decoded_pixels), work_size)


@dataclass(frozen=True)
class Loaded:
    """A picture as Pillow loaded it (a JPEG at reduced size), with its size in the file."""

    image: Image.Image
    width: int
    height: int


def read_stream(handle: BinaryIO, path: str | bytes | os.PathLike, *, work_size: int = 256,
                max_pixels: int = 200_000_000, max_decoded_pixels: int | None = None,
                long_side: int = 0) -> Loaded:
    """The first half of :func:`decode_stream`: the picture loaded by Pillow (a JPEG at
    reduced size: both sides at least ``work_size``, the long side at least ``long_side``), not
    yet turned upright or converted. Nearly all of it runs without the GIL. ``max_decoded_pixels``
    refuses what would need more memory than a decoder has (a JPEG counts at its reduced size)."""
    _register_heif()
    check_header(handle.read(SNIFF_BYTES), path)
    handle.seek(0)
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's bomb check reads this; we make its warning an error
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open(handle, path)
        width, height = _check_size(image, path, max_pixels)
        if image.format == "JPEG":
            scale = long_side / max(width, height)
            image.draft(None, (max(work_size, math.ceil(width * scale)), max(work_size, math.ceil(height * scale))))
        _check_decoded_size(image, path, max_decoded_pixels)
        image.decodermaxblock = _read_block(handle)
        _load(image, path)
    return Loaded(image, width, height)


def normalise(loaded: Loaded, work_size: int = 256, detail_size: int = 0) -> Decoded:
    """The second half of :func:`decode_stream`: a loaded picture turned upright (EXIF),
    converted to RGB, hashed and shrunk to ``work_size`` (and, with ``detail_size``, to a
    grayscale that size for local features, from the same decoded pixels)."""
    image, width, height = loaded.image, loaded.width, loaded.height
    orientation = _orientation(image)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    rgb = _upright_rgb(image, orientation)
    detail = _grey(rgb, detail_size) if detail_size else None
    return Decoded(shrunk(rgb, work_size), width, height, str(image.format), _pixel_digest(rgb), detail,
                   metadata.of_image(image))


def upright_pixels(loaded: Loaded, side: int) -> np.ndarray:
    """Only the pixels of :func:`normalise`, upright RGB at most ``side`` on the long side: for a
    picture shown, which needs no digest and no metadata."""
    return shrunk(_upright_rgb(loaded.image, _orientation(loaded.image)), side)


def grey_detail(loaded: Loaded, detail_size: int) -> np.ndarray:
    """Only the grayscale of :func:`normalise`, ``detail_size`` on its long side: for a second
    decode at more pixels, which needs no digest and no work-size array."""
    return _grey(_upright_rgb(loaded.image, _orientation(loaded.image)), detail_size)


def _upright_rgb(image: Image.Image, orientation: int) -> np.ndarray:
    return np.asarray(to_rgb(_upright(image, orientation)))


def _grey(rgb: np.ndarray, size: int) -> np.ndarray:
    return cv2.cvtColor(shrunk(rgb, size), cv2.COLOR_RGB2GRAY)


def check_header(head: bytes, path: str | bytes | os.PathLike) -> None:
    """Refuse an empty file or one whose first bytes are no image neardupd reads, before anything
    else reads it (a 50 GB file of zeros named .jpg costs nothing)."""
    if not head:
        raise DecodeError(path, "empty", "the file is empty")
    if not looks_like_image(head):
        raise DecodeError(path, "unsupported", "not an image format neardupd reads "
                          f"({', '.join(ALLOWED_FORMATS)}): its first bytes are no image header")


def _check_decoded_size(image: Image.Image, path: str | bytes | os.PathLike, limit: int | None) -> None:
    width, height = image.size
    if limit is not None and width * height > limit:
        raise DecodeError(path, "too_large", f"{width}x{height} pixels to decode need more memory than a decoder "
                          f"may use (the limit allows {limit:,} pixels: daemon.worker_memory_mb in the config)")


def _open(handle: BinaryIO, path: str | bytes | os.PathLike) -> Image.Image:
    try:
        image = Image.open(handle, formats=ALLOWED_FORMATS)
    except UnidentifiedImageError as err:
        raise DecodeError(path, "unsupported", "not an image format neardupd reads "
                          f"({', '.join(ALLOWED_FORMATS)})") from err
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise _too_large(path, err) from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise DecodeError(path, "corrupt", f"the image header is damaged ({err})") from err
    return image


def _too_large(path: str | bytes | os.PathLike, err: Exception) -> DecodeError:
    return DecodeError(path, "too_large", f"too many pixels to decode safely ({err}); "
                       "the limit is decode.max_pixels in the config")


def _read_block(handle: BinaryIO) -> int:
    """How much Pillow may hand its decoder at once: the whole file, up to 64 MiB. Pillow
    holds the GIL between blocks, so one large block lets another thread run for the whole
    decode instead of trading the GIL every 64 KiB."""
    position = handle.tell()
    end = handle.seek(0, os.SEEK_END)
    handle.seek(position)
    return max(ImageFile.MAXBLOCK, min(end - position, 64 * 1024 * 1024))


def _check_size(image: Image.Image, path: str | bytes | os.PathLike, max_pixels: int) -> tuple[int, int]:
    width, height = image.size
    if width < 1 or height < 1:
        raise DecodeError(path, "corrupt", f"the image claims a size of {width}x{height}")
    if width * height > max_pixels:
        raise DecodeError(path, "too_large", f"{width}x{height} is more than the limit of "
                          f"{max_pixels:,} pixels (decode.max_pixels in the config)")
    return width, height


def _load(image: Image.Image, path: str | bytes | os.PathLike) -> None:
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise _too_large(path, err) from err
    except OSError as err:
        if "truncated" in str(err) or "broken data stream" in str(err):
            raise DecodeError(path, "truncated", f"the file ends early ({err}); it may still be "
                              "copying, or the copy was cut off") from err
        raise DecodeError(path, "corrupt", f"the image data is damaged ({err})") from err
    except MemoryError as err:
        raise _out_of_memory(path, err) from err
    except RuntimeError as err:  # pillow_heif reports libheif's failures so, allocation failures too
        if "alloc" in str(err).lower() or "memory" in str(err).lower():
            raise _out_of_memory(path, err) from err
        raise DecodeError(path, "corrupt", f"the image data is damaged ({err})") from err
    except (SyntaxError, ValueError, EOFError) as err:
        raise DecodeError(path, "corrupt", f"the image data is damaged ({err})") from err


def _out_of_memory(path: str | bytes | os.PathLike, err: Exception) -> DecodeError:
    return DecodeError(path, "too_large", f"decoding ran out of memory ({err or 'MemoryError'}); "
                       "daemon.worker_memory_mb in the config limits it")


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - any broken EXIF block means "no orientation"
        return 1


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    """The pixels turned as EXIF orientation says (what ImageOps.exif_transpose does, without
    rewriting the metadata we do not keep)."""
    method = _TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; 16-bit and float are scaled (not clipped), alpha composited on BACKGROUND."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return Image.fromarray(_scale_to_8bit(np.asarray(image))).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _scale_to_8bit(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float64)
    top = float(values.max()) if values.size else 0.0
    low = float(values.min()) if values.size else 0.0
    if low >= 0 and top <= 1.0 and values.dtype.kind == "f":
        scale = 255.0
    elif low >= 0 and top <= 255:
        scale = 1.0
    elif low >= 0 and top <= 65535:
        scale = 255.0 / 65535.0
    else:
        values, scale = values - low, 255.0 / max(top - low, 1e-9)
    return np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)


def _pixel_digest(rgb: np.ndarray) -> bytes:
    """SHA-256 (first 16 bytes) of the size and the upright RGB pixels as decoded."""
    digest = hashlib.sha256(f"{rgb.shape[1]}x{rgb.shape[0]}:".encode())
    digest.update(np.ascontiguousarray(rgb).data)
    return digest.digest()[:16]

