"""Analysing a picture: one file read, decoded once and signed, in memory. What decoder processes import.

No store, no neighbour index: a path in, an :class:`Analysed` out (or a
:class:`~neardupd.errors.DecodeError` / ``OSError`` saying why not). Only regular files are opened,
and a file's first bytes are checked before it is read whole or hashed.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from neardupd import features, signature
from neardupd.config import Config, decoded_pixel_limit
from neardupd.decode import Loaded, check_header, grey_detail, normalise, read_stream
from neardupd.features import EMPTY, Features
from neardupd.files import SNIFF_BYTES, open_regular
from neardupd.metadata import Metadata
from neardupd.signature import Picture, Signature

WHOLE_READ_LIMIT = 64 * 1024 * 1024
"""Files up to this size are read in one block (hashed on a helper thread while Pillow decodes);
larger ones are decoded from the open file, then hashed (phone photos are 2-20 MB)."""


@dataclass(frozen=True)
class Analysed:
    """One file decoded and signed in memory."""

    path: bytes
    file_digest: bytes
    pixel_digest: bytes
    signature: Signature
    picture: Picture
    format: str = ""
    mirrored: Features = EMPTY
    """Local features of the content's mirror image: only searched with, never stored (a mirrored
    copy is found from whichever of the two pictures comes second)."""
    metadata: Metadata = Metadata()

    @property
    def features(self) -> Features:
        return self.picture.features or EMPTY


@dataclass(frozen=True)
class Read:
    """One file read, loaded by Pillow and hashed: not yet normalised or signed."""

    path: bytes
    size: int
    digest: bytes
    loaded: Loaded
    data: bytes | None = None
    """The file's bytes when it was read whole (to decode again at more pixels, see :meth:`Analyser.sign`)."""


class Analyser:
    """Reads, decodes and signs files.

    The work comes in two halves so a scan can overlap them: :meth:`read` (file bytes, Pillow's
    decode and the SHA-256, which run without the GIL) and :meth:`sign` (upright RGB, pixel
    digest, shrink and every signature). Close it (or use ``with``) to stop its hashing thread."""

    def __init__(self, config: Config, reader: Callable[..., Loaded] = read_stream) -> None:
        self.config = config
        self.reader = reader
        self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="neardupd-sha256")

    def close(self) -> None:
        self._hasher.shutdown(wait=True)

    def __enter__(self) -> Analyser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def analyse(self, path: bytes, digest: bytes | None = None) -> Analysed:
        """Decode and sign one file (raises DecodeError or OSError). ``digest``, when given, is the
        file's SHA-256 already computed, and it is not hashed again."""
        return self.sign(self.read(path, digest))

    def read(self, path: bytes, digest: bytes | None = None) -> Read:
        """Read, load and hash one regular file, its header checked first."""
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            check_header(handle.read(SNIFF_BYTES), path)
            handle.seek(0)
            if size > WHOLE_READ_LIMIT:
                loaded = self.load(handle, path)
                return Read(path, size, digest or _stream_digest(handle), loaded)
            data = handle.read()
        if digest is not None:
            return Read(path, size, digest, self.load(io.BytesIO(data), path), data)
        hashing = self._hasher.submit(lambda: hashlib.sha256(data).digest())
        try:
            loaded = self.load(io.BytesIO(data), path)
        finally:
            wait([hashing])
        return Read(path, size, hashing.result(), loaded, data)

    def sign(self, read: Read) -> Analysed:
        """Every signature of a file read by :meth:`read`."""
        decoded = normalise(read.loaded, self.config.decode.work_size, features.DETAIL)
        sig = signature.compute(decoded.pixels)
        plain, mirrored = features.extract_both(self._keypoint_view(read, decoded.detail, sig.content_box))
        picture = Picture.from_signature(sig, decoded.width, decoded.height, read.size, plain,
                                         decoded.metadata.quality)
        return Analysed(read.path, read.digest, decoded.pixel_digest, sig, picture, decoded.format, mirrored,
                        decoded.metadata)

    def _keypoint_view(self, read: Read, detail: np.ndarray | None, box: signature.Box) -> features.View:
        """The view (of the grayscale inside ``box``) keypoints are found on. A small photo in a big
        picture (a screenshot) decoded at reduced size is decoded again at the pixels it needs, for
        its keypoints only: signatures and digests stay those of the first decode."""
        view = features.View.of(signature.crop(detail, box))  # type: ignore[arg-type]
        wanted = features.zoom_side(view)
        if wanted <= max(view.content.shape) or read.data is None or not _reduced(read.loaded):
            return view
        long_side = round(wanted * max(read.loaded.width, read.loaded.height) / max(view.content.shape))
        again = self.load(io.BytesIO(read.data), read.path, long_side=long_side)
        return features.View.of(signature.crop(grey_detail(again, features.DETAIL), box))

    @staticmethod
    def digest(path: bytes) -> bytes:
        """SHA-256 of a regular file whose header is an image's (to recognise a moved file)."""
        with open_regular(path) as handle:
            check_header(handle.read(SNIFF_BYTES), path)
            return _stream_digest(handle)

    def load(self, handle: BinaryIO, path: bytes, long_side: int = 0) -> Loaded:
        settings = self.config.decode
        return self.reader(handle, path, work_size=settings.work_size, max_pixels=settings.max_pixels,
                           max_decoded_pixels=decoded_pixel_limit(self.config), long_side=long_side)


def _reduced(loaded: Loaded) -> bool:
    """Whether the decoder shrank the picture (a JPEG decoded at reduced size)."""
    return max(loaded.image.size) < max(loaded.width, loaded.height)


def _stream_digest(handle: BinaryIO) -> bytes:
    handle.seek(0)
    return hashlib.file_digest(handle, "sha256").digest()
