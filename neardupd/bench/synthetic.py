"""Synthetic pictures for measuring and testing at scale: random hashes and keypoints around a given
thumb, written through the store as a scan writes a picture (no image file behind them)."""

from __future__ import annotations

import numpy as np

from neardupd.features import GRID, Features
from neardupd.rules import VARIANTS
from neardupd.signature import WINDOWS, Box, Signature
from neardupd.store import Store


def picture(rng: np.random.Generator, thumb: tuple[bytes, np.ndarray]) -> tuple[Signature, Features]:
    """A signature of uniform random hashes with ``thumb`` (as :func:`neardupd.thumb_file.as_stored`
    gives it: made once, it serves many pictures), and 256 random keypoints."""
    webp, pixels = thumb
    hashes = rng.integers(0, 2**64, 8 + VARIANTS, dtype=np.uint64).tolist()
    signature = Signature(phash=hashes[0], content_hashes=tuple(hashes[:8]), content_box=Box(), thumb=pixels,
                          thumb_webp=webp, contrast=float(pixels.std()), mean_rgb=(120.0, 110.0, 100.0),
                          window_hashes=tuple(hashes[8:8 + len(WINDOWS)]),
                          rotation_hashes=tuple(hashes[8 + len(WINDOWS):]),
                          colourfulness=30.0, sharpness=0.4)
    keypoints = Features(rng.random((256, 2), dtype=np.float32), rng.integers(0, 256, (256, 32), dtype=np.uint8),
                         4 / 3, np.ones((GRID, GRID), dtype=bool))
    return signature, keypoints


def add_picture(store: Store, number: int, rng: np.random.Generator, thumb: tuple[bytes, np.ndarray], *,
                keypoints: bool = True) -> None:
    """The ``number``-th synthetic picture (a 12 MP JPEG at ``/photos/...``), in the caller's
    transaction; without keypoints, as a picture too small for them."""
    signature, found = picture(rng, thumb)
    store.add_file(f"/photos/{number // 1000:04d}/{number:08d}.jpg".encode(), 3_000_000, 0, rng.bytes(32),
                   rng.bytes(32), "JPEG", 4000, 3000, signature, found if keypoints else None)
