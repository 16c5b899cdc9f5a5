"""Local features, pure: ORB keypoints of a picture's content, and where its photo is.

What a geometric check needs of one picture, computed from the decoded array once:

* up to :data:`KEYPOINTS` ORB keypoints (position + 256-bit binary descriptor) of the content view
  (inside uniform borders) at most :data:`SIDE` pixels on its long side;
* a :data:`GRID` x :data:`GRID` *photo mask*: which cells of the content hold natural-image
  texture, as opposed to flat graphics (UI chrome, caption bars, card borders, text on a plain
  background). Copies are judged on the photo cells only, so a shared frame proves nothing.

Stored as one compact BLOB (:func:`pack` / :func:`unpack`); positions are kept as fractions of the
content view, so the features of a picture and of its scaled copy line up.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

SIDE = 480
"""Long side of the view keypoints are found on (bench-dev photos are 481 px: their full size)."""
KEYPOINTS = 256
MIN_PHOTO_CELLS = 4
"""With fewer photo cells than this (a screenshot of text, a logo) keypoints are taken anywhere."""
GRID = 12
FLAT_GRADIENT = 4
"""A pixel is flat when |dx| + |dy| (Sobel) is at most this: graphics are flat, photos are not."""
PHOTO_FLAT_SHARE = 0.25
REGION_CELLS = 4
FORMAT = 1


@dataclass(frozen=True)
class Features:
    """Keypoints of one picture's content view and its photo mask."""

    points: np.ndarray
    """(n, 2) float32: x, y as fractions of the content view's width and height."""
    descriptors: np.ndarray
    """(n, 32) uint8 ORB descriptors, strongest first within each pyramid level, the levels in turn."""
    aspect: float
    """Width over height of the content view."""
    photo: np.ndarray
    """(GRID, GRID) bool: cells of natural-image texture."""

    def __len__(self) -> int:
        return len(self.points)

    def size(self, side: float = SIDE) -> tuple[float, float]:
        """Width and height of the content view scaled to ``side`` pixels on its long side."""
        return (side, side / self.aspect) if self.aspect >= 1 else (side * self.aspect, side)

    def pixels(self, side: float = SIDE) -> np.ndarray:
        """Positions in pixels of a view ``side`` pixels on its long side (geometry needs square pixels)."""
        return self.points * np.float32(self.size(side))

    @functools.cached_property
    def region_labels(self) -> tuple[int, np.ndarray]:
        """(count, labels): the touching patches of photo cells, numbered 1..count-1 in a
        (GRID * GRID) array (0: not photo)."""
        count, labels = cv2.connectedComponents(self.photo.astype(np.uint8), connectivity=8)
        return count, labels.reshape(-1)

    @functools.cached_property
    def regions(self) -> int:
        """Separate patches of photo cells of at least REGION_CELLS: 1 for most photos, more in a
        screenshot (the photo, ads, avatars) or a collage."""
        count, labels = self.region_labels
        return int((np.bincount(labels, minlength=count)[1:] >= REGION_CELLS).sum())

    def in_photo(self) -> np.ndarray:
        """Which keypoints lie in photo cells of the mask."""
        return self.photo.reshape(-1)[cell_index(self.points)]


def cell_index(points: np.ndarray) -> np.ndarray:
    """Row-major index of the GRID x GRID cell each of ``points`` (fractions of the view) lies in."""
    index = np.minimum((points * GRID).astype(int), GRID - 1)
    return index[:, 1] * GRID + index[:, 0]


EMPTY = Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), 1.0, np.zeros((GRID, GRID), bool))


def _detector(count: int) -> cv2.ORB:
    # Small patches and edge margins: a photo pasted at a third of a screenshot is ~150 px wide.
    return cv2.ORB_create(nfeatures=count, scaleFactor=1.3, nlevels=6, edgeThreshold=15, patchSize=15,
                          fastThreshold=10)


def feature_view(content: np.ndarray) -> np.ndarray:
    """The content (grayscale uint8) at most SIDE pixels on its long side."""
    scale = SIDE / max(content.shape)
    if scale >= 1:
        return content
    size = (max(1, round(content.shape[1] * scale)), max(1, round(content.shape[0] * scale)))
    return cv2.resize(content, size, interpolation=cv2.INTER_AREA)


def extract_both(view: np.ndarray, count: int = KEYPOINTS) -> tuple[Features, Features]:
    """Features of a view and of its left-right mirror image. The mirror's keypoints are the
    same ones mirrored (angle reflected), only described again: no second detection (half the cost)."""
    plain, keypoints = _extract(view, count)
    if not keypoints:
        return plain, Features(plain.points, plain.descriptors, plain.aspect, plain.photo[:, ::-1].copy())
    mirror = np.ascontiguousarray(view[:, ::-1])
    width = view.shape[1]
    flipped = [cv2.KeyPoint(width - 1 - kp.pt[0], kp.pt[1], kp.size, (180.0 - kp.angle) % 360, kp.response,
                            kp.octave, kp.class_id) for kp in keypoints]
    flipped, descriptors = _detector(count).compute(mirror, flipped)
    if descriptors is None:
        descriptors = np.zeros((0, 32), np.uint8)
        flipped = []
    points = np.float32([kp.pt for kp in flipped]).reshape(-1, 2) / np.float32([width, view.shape[0]])
    return plain, Features(points, descriptors, plain.aspect, plain.photo[:, ::-1].copy())


def _extract(view: np.ndarray, count: int) -> tuple[Features, list]:
    height, width = view.shape
    aspect = width / max(height, 1)
    photo = photo_mask(view)
    if min(height, width) < 32:
        return Features(EMPTY.points, EMPTY.descriptors, aspect, photo), []
    # keypoints on the photo only: a photo in a screenshot gets them all, the chrome none
    within = cv2.resize(photo.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) \
        if photo.sum() >= MIN_PHOTO_CELLS else None
    keypoints, descriptors = _detector(count).detectAndCompute(view, within)
    if descriptors is None:
        return Features(EMPTY.points, EMPTY.descriptors, aspect, photo), []
    order = _across_scales(keypoints)
    points = np.float32([keypoints[i].pt for i in order]) / np.float32([width, height])
    return Features(points, descriptors[order], aspect, photo), [keypoints[i] for i in order]


def _across_scales(keypoints: list) -> np.ndarray:
    """Strongest first within each pyramid level, the levels taken in turn: the keypoint index keeps
    only the first ones, and a copy shrunk into a screenshot shows only the coarse levels' keypoints
    (strongest first overall: augly_unseen originals and copies proposed for each other 1,057 times,
    in turn 1,120; frames set screenshots found 75 -> 103 of 135)."""
    responses = np.array([kp.response for kp in keypoints])
    octaves = np.array([kp.octave for kp in keypoints])
    rank = np.empty(len(keypoints))
    for octave in np.unique(octaves):
        members = np.nonzero(octaves == octave)[0]
        rank[members[np.argsort(-responses[members], kind="stable")]] = np.arange(len(members))
    return np.lexsort((-responses, rank))


def photo_mask(view: np.ndarray) -> np.ndarray:
    """(GRID, GRID) bool: cells where under a quarter of the pixels are flat (in bench-dev's
    photos 90 % of cells are under 0.3; UI chrome and caption bars are 0.4-1.0)."""
    dx = cv2.Sobel(view, cv2.CV_16S, 1, 0)
    dy = cv2.Sobel(view, cv2.CV_16S, 0, 1)
    flat = ((np.abs(dx) + np.abs(dy)) <= FLAT_GRADIENT).astype(np.float32)
    return cv2.resize(flat, (GRID, GRID), interpolation=cv2.INTER_AREA) < PHOTO_FLAT_SHARE


_MASK_BYTES = (GRID * GRID + 7) // 8
_HEADER = 5 + _MASK_BYTES
_PER_KEYPOINT = 36


def prefix_bytes(keypoints: int) -> int:
    """Bytes of a BLOB holding its first ``keypoints`` (the strongest of each scale): enough to read them alone."""
    return _HEADER + _PER_KEYPOINT * keypoints


def pack(features: Features) -> bytes:
    """One BLOB: format byte, aspect (float32), mask (GRID*GRID bits), then per keypoint x, y
    (uint16 fractions) and the 32-byte descriptor."""
    head = np.array([FORMAT], np.uint8).tobytes() + np.float32(features.aspect).tobytes()
    mask = np.packbits(features.photo.reshape(-1)).tobytes()
    points = np.round(np.clip(features.points, 0, 1) * 65535).astype("<u2")
    body = np.concatenate([points.view(np.uint8).reshape(-1, 4), features.descriptors], axis=1)
    return head + mask + body.tobytes()


def unpack(blob: bytes) -> Features:
    if not blob or blob[0] != FORMAT:
        raise ValueError(f"local features in an unknown format ({blob[:1]!r}): rebuild them with `neardupd scan`")
    aspect = float(np.frombuffer(blob, np.float32, 1, 1)[0])
    photo = np.unpackbits(np.frombuffer(blob, np.uint8, _MASK_BYTES, 5))[:GRID * GRID].reshape(GRID, GRID)
    body = np.frombuffer(blob, np.uint8, offset=_HEADER).reshape(-1, _PER_KEYPOINT)
    points = np.ascontiguousarray(body[:, :4]).view("<u2").astype(np.float32) / 65535
    return Features(points, np.ascontiguousarray(body[:, 4:]), aspect, photo.astype(bool))
