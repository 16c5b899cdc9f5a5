"""The three reference finders ``neardupd bench run`` measures next to neardupd, all pairs scored.

Each takes the pictures as Pillow loads them (no EXIF turn, as the usual scripts do) and
returns an n x n matrix of scores, higher meaning more alike:

* ``phash``: imagehash's 64-bit pHash, score = 1 - Hamming distance / 64;
* ``bw50``: 50 x 50 grayscale made black/white at mid-grey, score = share of equal pixels;
* ``blur_template``: grayscale at width 350, GaussianBlur(43 x 43, sigma 21), then
  ``cv2.matchTemplate(..., TM_CCOEFF_NORMED)`` with the shorter picture slid along the taller
  one, score = the best correlation. The blurred pictures hold nothing finer than the blur, so the
  correlation is computed on them sampled every ``BLUR_STEP`` pixels, which gives the same
  numbers within about 0.01 for a fraction of the cost (every pair of a 1,400-image folder).

Pure functions: arrays in, arrays out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import cv2
import imagehash
import numpy as np
from PIL import Image

BASELINES = ("phash", "bw50", "blur_template")
LABELS = {"phash": "imagehash pHash (64 bits)", "bw50": "50x50 black/white pixels",
          "blur_template": "blur 43x43 + matchTemplate"}
BLUR_WIDTH, BLUR_KERNEL, BLUR_SIGMA, BLUR_STEP = 350, 43, 21.0, 7


def phash_scores(images: Sequence[Image.Image]) -> np.ndarray:
    hashes = np.array([int(str(imagehash.phash(image)), 16) for image in images], dtype=np.uint64)
    distances = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    return 1.0 - distances.astype(np.float32) / 64.0


def bw50_scores(images: Sequence[Image.Image]) -> np.ndarray:
    bits = np.stack([np.asarray(image.convert("L").resize((50, 50), Image.Resampling.BILINEAR)) >= 128
                     for image in images]).reshape(len(images), -1)
    packed = np.packbits(bits, axis=1)
    packed = np.pad(packed, ((0, 0), (0, -packed.shape[1] % 8))).view(np.uint64)
    scores = np.empty((len(images), len(images)), dtype=np.float32)
    for row in range(len(images)):
        differing = np.bitwise_count(packed[row] ^ packed).sum(axis=1)
        scores[row] = 1.0 - differing / bits.shape[1]
    return scores


def blurred(image: Image.Image) -> np.ndarray:
    """The blur baseline's picture: gray, width 350, blurred, then sampled every BLUR_STEP pixels."""
    gray = np.asarray(image.convert("L"))
    height = max(1, round(gray.shape[0] * BLUR_WIDTH / gray.shape[1]))
    scaled = cv2.resize(gray, (BLUR_WIDTH, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    smooth = cv2.GaussianBlur(scaled, (BLUR_KERNEL, BLUR_KERNEL), BLUR_SIGMA)
    small = (BLUR_WIDTH // BLUR_STEP, max(1, round(height / BLUR_STEP)))
    return cv2.resize(smooth, small, interpolation=cv2.INTER_AREA)


def blur_template_scores(images: Sequence[Image.Image]) -> np.ndarray:
    pictures = [blurred(image) for image in images]
    by_height: dict[int, list[int]] = defaultdict(list)
    for i, picture in enumerate(pictures):
        by_height[picture.shape[0]].append(i)
    heights = sorted(by_height)
    scores = np.full((len(images), len(images)), -1.0, dtype=np.float32)
    for first, short_height in enumerate(heights):
        short_ids = by_height[short_height]
        short = _unit_rows(np.stack([pictures[i] for i in short_ids]).reshape(len(short_ids), -1))
        for tall_height in heights[first:]:
            tall_ids = by_height[tall_height]
            tall = np.stack([pictures[i] for i in tall_ids])
            best = np.full((len(short_ids), len(tall_ids)), -1.0, dtype=np.float32)
            for offset in range(tall_height - short_height + 1):
                windows = _unit_rows(tall[:, offset:offset + short_height].reshape(len(tall_ids), -1))
                np.maximum(best, short @ windows.T, out=best)
            scores[np.ix_(short_ids, tall_ids)] = best
            scores[np.ix_(tall_ids, short_ids)] = best.T
    return scores


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    """Rows minus their mean, scaled to length 1 (flat rows stay 0): dot products are then
    TM_CCOEFF_NORMED correlations."""
    centred = rows - rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 1e-6)


SCORERS = {"phash": phash_scores, "bw50": bw50_scores, "blur_template": blur_template_scores}
