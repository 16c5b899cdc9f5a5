"""Fitting a homography to two pictures' keypoints, pure: Lowe's ratio test on their descriptors, then
OpenCV's USAC (MAGSAC++), kept only if it is a view a camera could take of a flat picture.
:mod:`neardupd.geometry` judges what the fit says about the pair.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from neardupd.features import Features

RATIO = 0.85
MIN_MATCHES = 20
REPROJECTION = 4.0
"""RANSAC inlier distance, pixels of the SIDE-pixel views."""
FIT_ITERATIONS = 1000
"""RANSAC draws at most (OpenCV's default: 2000). A fit of 20 inliers among 80 matches is drawn
with 95 % certainty in 1000; most fits tried are strangers' 30-50 chance matches, which use them
all: 40 % less time fitting; no pair changed on bench-dev or augly_unseen, 4 weak ones of the frames
set's 15,255 (all under 0.65)."""
MAX_DEPTH_RATIO = 4.0
"""A fit under which one side of either picture is more than this many times farther from the camera
than the other (its homogeneous weight varying that much over the picture) is no view of a flat
photo; nor one that folds a picture through the horizon (weights of both signs). Such fits come
from a caption's letters, alike upside down, fitted with their line as the horizon: the frames set's
last 6 pairs of two photos under one meme caption (0.68-0.85) were 4 folds and ratios of 5.4 and
13.6. Copies' fits, over the picture fitted from: at most 2.3 (augly_unseen's perspective views;
bench-dev 1.4), but for two blended copies (3.5, and 6.6 agreeing on 0.24); one of bench-dev's 885
copies folds, agreeing on 0.27."""


class Fit(NamedTuple):
    """A homography from the first picture's pixels to the second's, its inlier mask, the matched points of
    each picture, how many matches passed the ratio test and how many fit."""

    homography: np.ndarray
    mask: np.ndarray
    source: np.ndarray
    target: np.ndarray
    matches: int
    inliers: int


def fit(a: Features, seen: Features, points_a: np.ndarray, points_seen: np.ndarray, *,
        swapped: bool = False) -> Fit | None:
    """A homography fitted to ``seen``'s keypoints matched among ``a``'s, or None (too few matches, no
    flat view); ``swapped``: the pictures given the other way round, the fit mapped back."""
    # the two nearest of A's descriptors for each of B's, kept if clearly nearer than the second
    # (Lowe's ratio test); batchDistance gives what BFMatcher.knnMatch does without its objects
    distances, nearest = cv2.batchDistance(seen.descriptors, a.descriptors, dtype=-1, normType=cv2.NORM_HAMMING, K=2)
    good = np.nonzero(distances[:, 0] < RATIO * distances[:, 1])[0]
    if len(good) < MIN_MATCHES:
        return None
    source, target = points_a[nearest[good, 0]], points_seen[good]
    if swapped:
        source, target = target, source
    size_from, size_to = (seen.size(), a.size()) if swapped else (a.size(), seen.size())
    homography, mask = cv2.findHomography(source, target, cv2.USAC_MAGSAC, REPROJECTION, maxIters=FIT_ITERATIONS)
    if homography is None or not _plausible(homography, size_from, size_to):
        return None
    return Fit(homography, mask, source, target, len(good), int(mask.sum()))


def _plausible(homography: np.ndarray, size_a: tuple[float, float], size_b: tuple[float, float]) -> bool:
    """Not a collapse to a line or a blow-up (the affine part keeps a sensible area), and a view a
    camera could take of a flat picture, checked over both pictures (the verdict must not depend on
    which one came first): see MAX_DEPTH_RATIO."""
    h = homography / homography[2, 2] if abs(homography[2, 2]) > 1e-9 else homography
    det = h[0, 0] * h[1, 1] - h[0, 1] * h[1, 0]
    return 1 / 64 < abs(det) < 64 and _flat_view(homography, size_a) and _flat_view(np.linalg.inv(homography), size_b)


def _flat_view(homography: np.ndarray, size: tuple[float, float]) -> bool:
    """Whether the homogeneous weights at a picture's corners have one sign and vary at most
    MAX_DEPTH_RATIO times (any scale of the homography)."""
    weights = corners(size) @ homography[2, :2] + homography[2, 2]
    weights = weights * np.sign(weights[0])
    return bool(weights.min() > 0 and weights.max() <= MAX_DEPTH_RATIO * weights.min())


def corners(size: tuple[float, float]) -> np.ndarray:
    width, height = size
    return np.float32([[0, 0], [width, 0], [width, height], [0, height]])
