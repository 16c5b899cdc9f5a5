"""Local features, pure: ORB keypoints of a picture's content, and where its photo is.

What a geometric check needs of one picture, computed from the decoded array once:

* up to :data:`KEYPOINTS` ORB keypoints (position + 256-bit binary descriptor) of the content view
  (inside uniform borders) at most :data:`SIDE` pixels on its long side, or, when the main photo
  region is small (a photo in a screenshot), mostly of that region enlarged from the content at up
  to :data:`DETAIL` pixels;
* a :data:`GRID` x :data:`GRID` *photo mask*: which cells of the content hold natural-image
  texture, as opposed to flat graphics (UI chrome, caption bars, card borders, text on a plain
  background). Copies are judged on the photo cells only, so a shared frame proves nothing.

Stored as one compact BLOB (:mod:`neardupd.feature_blob`); positions are kept as fractions of the
content view, so the features of a picture and of its scaled copy line up.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

SIDE = 480
"""Long side of the view keypoints are found on (bench-dev photos are 481 px: their full size)."""
DETAIL = 2 * SIDE
"""Long side of the content kept for zooming in on a small photo (see :data:`ZOOM_FROM`)."""
ZOOM_FROM = 1.4
"""A picture whose main photo region is this much smaller than the view (a photo in a screenshot)
has most of its keypoints found on that region, enlarged up to SIDE from the DETAIL content: at the
view's scale a photo shown at a third of a screenshot's width is ~160 px and keeps few keypoints
that an original's match (a drawn feed: 52 inliers with its original, enlarged 97; with the keypoint
ranking, augly_unseen screenshots found 2 -> 43 of 64, the frames set's 103 -> 129 of 135)."""
MAIN_REGION = 2
MAIN_REGIONS = 2
"""The largest photo region is enlarged, and the next (at most MAIN_REGIONS in all) when it is not
MAIN_REGION times smaller, the keypoints shared between them: a portrait photo in a feed's post box is
hardly larger than the feed's ad, and enlarging neither left the photo few keypoints (augly_unseen:
screenshots of portraits, 4 more found; ref R@P99 0.898 -> 0.903, strict 0.855 -> 0.860)."""
OTHER_REGIONS = 0.25
"""Share of the keypoints then found on the other photo regions (ads, avatars), at the view's scale."""
KEYPOINTS = 256
MIN_PHOTO_CELLS = 4
"""With fewer photo cells than this (a screenshot of text, a logo) keypoints are taken anywhere."""
GRID = 12
FLAT_GRADIENT = 4
"""A pixel is flat when |dx| + |dy| (Sobel) is at most this: graphics are flat, photos are not."""
PHOTO_FLAT_SHARE = 0.25
REGION_CELLS = 4


@dataclass(frozen=True)
class Features:
    """Keypoints of one picture's content view and its photo mask."""

    points: np.ndarray
    """(n, 2) float32: x, y as fractions of the content view's width and height."""
    descriptors: np.ndarray
    """(n, 32) uint8 ORB descriptors, strongest first within each pyramid level, the levels in turn
    (a zoomed picture: its main region's first, then the other regions', see :data:`ZOOM_FROM`)."""
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
        count, labels = photo_regions(self.photo)
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


def shrunk(image: np.ndarray, side: int = SIDE) -> np.ndarray:
    """An image array (grayscale or colour) at most ``side`` pixels on its long side, by area."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class View:
    """A picture's content (grayscale, up to DETAIL pixels on its long side), its view at SIDE pixels
    and the view's photo mask: worked out once, to decide on a zoom (:func:`zoom_side`) and to find
    the keypoints (:func:`extract_both`)."""

    content: np.ndarray
    pixels: np.ndarray
    photo: np.ndarray

    @classmethod
    def of(cls, content: np.ndarray) -> View:
        pixels = shrunk(content)
        return cls(content, pixels, photo_mask(pixels))

    @functools.cached_property
    def regions(self) -> list[MainRegion]:
        """The main photo regions, when the keypoints keep to the photo (enough photo cells, a view of
        at least 32 px): the largest patch of photo cells, and the others not MAIN_REGION times
        smaller (a portrait photo in a feed's post box is hardly larger than the feed's ad)."""
        if self.photo.sum() < MIN_PHOTO_CELLS or min(self.pixels.shape) < 32:
            return []
        return MainRegion.all_of(self.photo)


def extract_both(view: View, count: int = KEYPOINTS) -> tuple[Features, Features]:
    """Features of a picture's view and of its left-right mirror image. The mirror's keypoints are
    the same ones mirrored (angle reflected), only described again: no second detection (half the cost)."""
    pixels, photo = view.pixels, view.photo
    height, width = pixels.shape
    aspect = width / max(height, 1)
    if min(height, width) < 32:
        return Features(EMPTY.points, EMPTY.descriptors, aspect, photo), _mirror(EMPTY, photo, aspect)
    whole = (0.0, 0.0, 1.0, 1.0)
    areas = [Area(pixels, None, whole, count)]
    if photo.sum() >= MIN_PHOTO_CELLS:  # keypoints on the photo only: a photo in a screenshot gets them all
        areas = _zoomed(view, count) or [Area(pixels, _pixel_mask(photo, pixels), whole, count)]
    plains, mirrors = zip(*(_detect(area) for area in areas), strict=True)
    return _joined(plains, photo, aspect), _mirror(_joined(mirrors, photo, aspect), photo, aspect)


def _joined(parts: tuple[Features, ...], photo: np.ndarray, aspect: float) -> Features:
    return Features(np.concatenate([part.points for part in parts]),
                    np.concatenate([part.descriptors for part in parts]), aspect, photo)


def _mirror(found: Features, photo: np.ndarray, aspect: float) -> Features:
    return Features(found.points, found.descriptors, aspect, photo[:, ::-1].copy())


def _pixel_mask(cells: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    return cv2.resize(cells.astype(np.uint8), (pixels.shape[1], pixels.shape[0]), interpolation=cv2.INTER_NEAREST)


def _detect(area: Area) -> tuple[Features, Features]:
    """Keypoints of one area (positions as fractions of the view), and the same keypoints described
    on the area's mirror image (positions as fractions of the mirrored view)."""
    keypoints, descriptors = _detector(area.count).detectAndCompute(area.pixels, area.within)
    if descriptors is None:
        return EMPTY, EMPTY
    order = _across_scales(keypoints)
    keypoints = [keypoints[i] for i in order]
    plain = Features(area.to_view([kp.pt for kp in keypoints]), descriptors[order], 1.0, EMPTY.photo)
    width = area.pixels.shape[1]
    flipped = [cv2.KeyPoint(width - 1 - kp.pt[0], kp.pt[1], kp.size, (180.0 - kp.angle) % 360, kp.response,
                            kp.octave, kp.class_id) for kp in keypoints]
    mirror = area.mirrored()
    flipped, described = _detector(area.count).compute(mirror.pixels, flipped)
    if described is None:
        return plain, EMPTY
    return plain, Features(mirror.to_view([kp.pt for kp in flipped]), described, 1.0, EMPTY.photo)


@dataclass(frozen=True)
class Area:
    """The pixels keypoints are found on: the view, or a photo region of the content enlarged."""

    pixels: np.ndarray
    within: np.ndarray | None
    box: tuple[float, float, float, float]
    """left, top, right, bottom as fractions of the view."""
    count: int
    """Keypoints to find there."""

    def mirrored(self) -> Area:
        """This area of the view's left-right mirror image."""
        left, top, right, bottom = self.box
        within = None if self.within is None else np.ascontiguousarray(self.within[:, ::-1])
        return Area(np.ascontiguousarray(self.pixels[:, ::-1]), within, (1 - right, top, 1 - left, bottom), self.count)

    def to_view(self, pixel_points: list) -> np.ndarray:
        """(n, 2) float32 positions as fractions of the view from pixels of this area."""
        height, width = self.pixels.shape
        left, top, right, bottom = self.box
        points = np.float32(pixel_points).reshape(-1, 2) / np.float32([width, height])
        return points * np.float32([right - left, bottom - top]) + np.float32([left, top])


@dataclass(frozen=True)
class MainRegion:
    """The largest patch of a picture's photo cells."""

    cells: np.ndarray
    """(GRID, GRID) bool."""
    rows: tuple[int, int]
    """First and past-the-last cell row of its bounding box."""
    cols: tuple[int, int]

    @classmethod
    def all_of(cls, photo: np.ndarray) -> list[MainRegion]:
        """The largest patch of photo cells, and the others at least 1 / MAIN_REGION of its size."""
        count, labels = photo_regions(photo)
        if count < 2:
            return []
        sizes = np.bincount(labels.reshape(-1), minlength=count)[1:]
        ranked = np.argsort(-sizes, kind="stable")
        return [cls._of(labels == 1 + int(label)) for label in ranked
                if sizes[label] * MAIN_REGION >= sizes[ranked[0]]][:MAIN_REGIONS]

    @classmethod
    def _of(cls, cells: np.ndarray) -> MainRegion:
        rows, cols = np.nonzero(cells)
        return cls(cells, (int(rows.min()), int(rows.max()) + 1), (int(cols.min()), int(cols.max()) + 1))

    @property
    def box(self) -> tuple[float, float, float, float]:
        """left, top, right, bottom as fractions of the view."""
        return self.cols[0] / GRID, self.rows[0] / GRID, self.cols[1] / GRID, self.rows[1] / GRID

    def share(self, shape: tuple[int, ...]) -> float:
        """Long side of its box over the long side of a picture of ``shape``."""
        height, width = shape[:2]
        return max((self.rows[1] - self.rows[0]) / GRID * height, (self.cols[1] - self.cols[0]) / GRID * width) \
            / max(height, width)

    def cut(self, content: np.ndarray) -> np.ndarray:
        """Its box cut from ``content``."""
        height, width = content.shape
        return content[round(self.rows[0] / GRID * height):round(self.rows[1] / GRID * height),
                       round(self.cols[0] / GRID * width):round(self.cols[1] / GRID * width)]


def photo_regions(photo: np.ndarray) -> tuple[int, np.ndarray]:
    """(count, labels): the touching patches of a (GRID, GRID) photo mask, numbered 1..count-1 (0: not photo)."""
    return cv2.connectedComponents(photo.astype(np.uint8), connectivity=8)


def zoom_side(view: View) -> int:
    """Long side the content would need for its main photo regions to be found at SIDE pixels (at
    most DETAIL), or 0 if none is ZOOM_FROM times smaller than the view: a decoder that shrank the
    file more (a JPEG decoded at reduced size) decodes it again at this size."""
    regions = view.regions
    shares = [region.share(view.content.shape) for region in regions]
    if not regions or any(share * ZOOM_FROM > 1 or _strip(region)
                          for region, share in zip(regions, shares, strict=True)):
        return 0
    return min(DETAIL, round(SIDE / min(shares)))


def _zoomed(view: View, count: int) -> list[Area]:
    """The main photo regions cut from the content and enlarged up to SIDE (sharing the keypoints), if
    each is at least ZOOM_FROM times smaller than the view and the content has the pixels to enlarge
    it; then the other photo regions at the view's scale, with a share of the keypoints
    (OTHER_REGIONS), so a frame's ads and avatars can still tell two pictures apart. Empty: no zoom
    (a main region left at the view's scale would keep only the others' share)."""
    zoomed = view.regions
    if not zoomed or not all(_enlargeable(region, view) for region in zoomed):
        return []
    others = round(count * OTHER_REGIONS)
    each = (count - others) // len(zoomed)
    areas = []
    rest = view.photo.copy()
    for region in zoomed:
        enlarged = shrunk(region.cut(view.content))
        (top, bottom), (left, right) = region.rows, region.cols
        areas.append(Area(enlarged, _pixel_mask(region.cells[top:bottom, left:right], enlarged), region.box, each))
        rest &= ~region.cells
    if not rest.any():
        return areas
    return areas + [Area(view.pixels, _pixel_mask(rest, view.pixels), (0.0, 0.0, 1.0, 1.0), others)]


def _enlargeable(region: MainRegion, view: View) -> bool:
    """Whether a region is small enough in the view to enlarge, and has the content's pixels for it. Not
    a strip one cell wide: enlarged, its keypoints crowd so that two photos in one post box found chance
    partners on two thirds of it (a pair of screenshots at 0.81)."""
    if _strip(region):
        return False
    cut_side = max(region.cut(view.content).shape)
    return min(SIDE, cut_side) >= ZOOM_FROM * SIDE * cut_side / max(view.content.shape)


def _strip(region: MainRegion) -> bool:
    return min(region.rows[1] - region.rows[0], region.cols[1] - region.cols[0]) < 2


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

