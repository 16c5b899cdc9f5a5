"""Geometric verification of a candidate pair with local features, pure: values in, values out.

B's keypoints (as they are, and found on B's mirror image) are matched to A's and a homography from
A to B is fitted (:mod:`neardupd.homography`). That finds a copy wherever
and however the photo sits in the other picture: any place, scale and angle, perspective, skew,
mirrored. The fit alone is not the verdict: a shared frame (UI chrome, a caption bar, a card
border) fits perfectly too. The verdict is the *agreement*: of the keypoints in one picture's
photo cells (see :func:`neardupd.features.photo_mask`) that land inside the other picture, the
share with a partner there (near the mapped place, similar descriptor). A copy agrees on its
photo from at least one side; two photos in one frame disagree on both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from neardupd.features import GRID, Features, cell_index
from neardupd.homography import MIN_MATCHES, REPROJECTION, corners, fit

MIN_INLIERS = 20
"""Inliers a fit needs by default (``match.min_inliers`` in the config; strangers: 0-15)."""
PARTNER_DISTANCE = 8.0
"""How near (pixels of the other view) a mapped keypoint must land on a keypoint to count as agreeing."""
PARTNER_BITS = 50
"""... and how alike their descriptors must be (of 256 bits; strangers differ by ~128)."""
REVERSE_FROM = 10
"""A fit this close to ``min_inliers`` (strangers' chance fits: mostly fewer inliers) is tried again with
A's keypoints matched among B's: augly_unseen, a perspective view 10 -> 24 inliers, a turned copy 19 -> 20+;
bench-dev a blurred copy and a crop. Trying every failed fit again cost 5 % of the indexing time."""
MIN_CHECKED = 12
MIN_CELLS = 4
SHOT_RATIO = 0.6
SHOT_RESIDUAL = 1.35
"""(Tried: the residual in pixels of the coarser view, for the turned copies of SHOT_SECOND. It let
two desk shots framed 1.2-1.5 times apart in.)"""
SECOND_MOTION = 15
"""Matches left out by the fit that fit a second homography of their own: another shot. A parallax
pair made here: 22; the desk shots 11-18; none of 742 bench-dev and augly_unseen copies reaches 15
(3 reach 12)."""
SHOT_AGREES = 0.25
"""... where the photo agrees this well under the first fit: another shot shares the scene, while two
photos in one card frame fit on the frame and agree on none of the photo (frames set: 0.0)."""
SHOT_SECOND = 10
"""A loose fit (SHOT_RATIO, SHOT_RESIDUAL) is another shot only if the matches it leaves out also
fit a second homography this well: the desk shots' do (11-18), while a copy turned 25-45 degrees and
cut to its valid area, enlarged to its view, fits loosely for resampling, its left-out matches
scattered (augly_unseen: 5-8 for the 8 such copies)."""
SECOND_APART = 10.0
"""... and move them this far (median, pixels) from where the first fit puts them: two copies
mirrored differently (a 180 degree turn of a crop) leave 17-27 matches 5-6 px off the first fit."""
FRAME_AGREES = 0.6
FRAME_GAP = 0.35
FRAME_DISAGREES = 0.5
FRAME_MAIN = 0.6
"""A region agreeing at least FRAME_AGREES and another this much less, and under FRAME_DISAGREES
(FRAME_MAIN for the largest region): a shared frame. bench-dev: a mirrored copy's regions agree
1.0, 0.9 and 0.6; augly_unseen: a copy under big text 1.0 and 0.53 (the text's region)."""
CONTAINED = 0.65
WITHIN_MARGIN = 0.1
"""Two pictures covering each other's frames to within this share (most copies: both whole) are judged on A:
a rounding of the fit must not turn the verdict (bench-dev: a copy under stripes, 0.73 on A's grid, 0.53 on B's)."""
CONVINCING = 0.8
"""An alignment of B as it is agreeing this well is not tried mirrored too."""
REGION_SHARE = 0.15
"""Photo regions holding at least this share of the checked cells are judged one by one."""
CELL_SHARE = 0.4
"""A cell agrees when this share of its keypoints have partners (a stranger's cell may have one by chance)."""


@dataclass(frozen=True)
class Alignment:
    """Where A lies in B, and how much of the photo agrees."""

    homography: np.ndarray
    """3x3, maps A's pixels (SIDE-pixel view) to B's; B as it is (mirroring folded in)."""
    mirrored: bool
    inliers: int
    size_a: tuple[float, float]
    size_b: tuple[float, float]
    regions: tuple[float, ...]
    """Agreement of each separate photo region of the side judged (one for most photos), the
    largest region first."""
    inlier_ratio: float = 1.0
    """Inliers over ratio-test matches."""
    residual: float = 0.0
    """Median reprojection error of the inliers, pixels of the SIDE-pixel views."""
    other_regions: tuple[float, ...] = ()
    """The same from the other side (a copy inside a screenshot agrees from the copy's side only)."""
    agreeing_a: np.ndarray = field(default_factory=lambda: np.zeros((GRID, GRID), bool))
    """(GRID, GRID) bool: A's cells whose keypoints found partners in B."""
    second_motion: int = 0
    """Inliers of a second fit among the matches this one leaves out (see :data:`SECOND_MOTION`)."""
    second_apart: float = 0.0
    """How far (median, pixels) the second fit moves its inliers from where this one puts them."""
    agreeing_b: np.ndarray = field(default_factory=lambda: np.zeros((GRID, GRID), bool))
    """(GRID, GRID) bool: B's cells (B as it is) whose keypoints found partners in A."""

    @property
    def agreement(self) -> float:
        """The judged side's share of photo cells inside the overlap whose keypoints have a partner,
        in [0, 1]: its least agreeing region's."""
        return min(self.regions)

    @property
    def another_shot(self) -> bool:
        """Two exposures of one scene, not a copy: the fit is loose (parallax, things moved) and
        holds for few of the matches. The four desk shots in shared/data/camera: ratio 0.27-0.58,
        residual 1.36-1.79 px; copies on augly_unseen mostly ratio > 0.6 or residual < 1.3. Or, the
        fit holding for few matches, the matches left out move together another way (SECOND_MOTION):
        the far half of the scene fits exactly and the near half moved."""
        loose = self.inlier_ratio < SHOT_RATIO
        moved = self.second_motion >= SECOND_MOTION and self.second_apart >= SECOND_APART
        return loose and ((self.residual >= SHOT_RESIDUAL and self.second_motion >= SHOT_SECOND)
                          or (moved and self.agreement >= SHOT_AGREES))

    @property
    def frame_shared(self) -> bool:
        """One photo region agrees and another does not: the ads and avatars of two screenshots,
        the same sticker on two photos. A copy with an overlay disagrees inside one region. The
        largest region, the photo, must agree better than the others (FRAME_MAIN): the edges of
        two different photos in one screenshot's box agree by chance on half its cells."""
        both_framed = len(self.regions) > 1 and len(self.other_regions) > 1
        return _frame_shared(self.regions) or (both_framed and _frame_shared(self.other_regions))

    @property
    def contained(self) -> bool:
        """One picture lies mostly inside the other (a crop, a paste, a screenshot), not two
        pictures overlapping in part: two crops of one background photo, each with another photo
        pasted on it, overlap on a corner of each (augly_unseen: the larger of the two shares of a
        picture covered is 0.27-0.62 for those; 0.74 and more for copies, but for a photo's corner
        blended onto a background photo)."""
        return max(_area(self.box_of_b_in_a()), _area(self.box_of_a_in_b())) >= CONTAINED

    @property
    def b_lies_in_a(self) -> bool:
        """Whether A covers clearly more of B than B of A (by WITHIN_MARGIN): B is the picture to
        judge the pair on (a photo in a screenshot covers a few of the screenshot's blocks, but all
        of its own)."""
        return _area(self.box_of_a_in_b()) > _area(self.box_of_b_in_a()) + WITHIN_MARGIN

    def seen_from_b(self) -> Alignment:
        """The same alignment with the pictures' roles swapped (A onto B)."""
        return replace(self, homography=np.linalg.inv(self.homography), size_a=self.size_b, size_b=self.size_a,
                       agreeing_a=self.agreeing_b, agreeing_b=self.agreeing_a)

    def box_of_a_in_b(self) -> list[float]:
        """Bounding box of A's frame mapped into B, as fractions of B (clipped)."""
        return _box(corners(self.size_a), self.homography, self.size_b)

    def box_of_b_in_a(self) -> list[float]:
        return _box(corners(self.size_b), np.linalg.inv(self.homography), self.size_a)

    def in_thumbs(self, side: int) -> np.ndarray:
        """The homography between the two pictures' ``side`` x ``side`` thumbs of their contents."""
        scale_a = np.diag([self.size_a[0] / side, self.size_a[1] / side, 1.0])
        scale_b = np.diag([side / self.size_b[0], side / self.size_b[1], 1.0])
        return scale_b @ self.homography @ scale_a

    def mask_of_b_at_a(self, mask_b: np.ndarray, grid: int) -> np.ndarray:
        """(grid, grid) bool: for each of A's grid x grid blocks, whether its centre lands on a True
        cell of B's (GRID, GRID) ``mask_b`` (False outside B)."""
        inside, cells = _landing(grid, self.size_a, self.homography, self.size_b)
        found = np.zeros(grid * grid, bool)
        found[inside] = mask_b.reshape(-1)[cells]
        return found.reshape(grid, grid)

    @property
    def rotation(self) -> float:
        """Degrees counter-clockwise by which B is turned relative to A (mirroring taken out)."""
        h = self.homography / self.homography[2, 2]
        a, c = h[0, 0], h[1, 0]
        if self.mirrored:
            a = -a
        return -math.degrees(math.atan2(c, a))

    @property
    def scale(self) -> float:
        h = self.homography / self.homography[2, 2]
        return math.sqrt(abs(h[0, 0] * h[1, 1] - h[0, 1] * h[1, 0]))

    @property
    def perspective(self) -> float:
        """How far from an affine map: the largest relative change of the homogeneous weight over A."""
        h = self.homography / self.homography[2, 2]
        weights = corners(self.size_a) @ h[2, :2] + 1.0
        return float(weights.max() / max(weights.min(), 1e-6) - 1.0)


def _frame_shared(regions: tuple[float, ...]) -> bool:
    """Regions of one side, the largest first: one agrees and another does not."""
    if len(regions) < 2:
        return False
    high = max(regions)
    return high >= FRAME_AGREES and any(
        share <= high - FRAME_GAP and share < (FRAME_MAIN if index == 0 else FRAME_DISAGREES)
        for index, share in enumerate(regions))


def _area(box: list[float]) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def _box(corners: np.ndarray, homography: np.ndarray, size: tuple[float, float]) -> list[float]:
    mapped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), homography).reshape(-1, 2)
    width, height = size
    left, top = np.clip(mapped.min(axis=0) / (width, height), 0, 1)
    right, bottom = np.clip(mapped.max(axis=0) / (width, height), 0, 1)
    return [round(float(v), 3) for v in (left, top, right, bottom)]


def align(a: Features, b: Features, b_mirrored: Features | None = None, *,
          min_inliers: int = MIN_INLIERS) -> Alignment | None:
    """The best-agreeing alignment of B (as it is, or mirrored) onto A, or None if none fits."""
    best = None
    for features, mirrored in ((b, False), (b_mirrored, True)):
        if features is None or (best is not None and best.agreement >= CONVINCING):
            continue
        found = _align_one(a, features, b, mirrored, min_inliers)
        if found is not None and (best is None or (found.agreement, found.inliers) > (best.agreement, best.inliers)):
            best = found
    return best


def _align_one(a: Features, seen: Features, b: Features, mirrored: bool, min_inliers: int) -> Alignment | None:
    if len(a) < MIN_MATCHES or len(seen) < MIN_MATCHES:
        return None
    points_a, points_seen = a.pixels(), seen.pixels()
    fitted = fit(a, seen, points_a, points_seen)
    if fitted is not None and REVERSE_FROM <= fitted.inliers < min_inliers:
        # the ratio test is one-sided: A's keypoints matched among B's may fit where B's among A's nearly did
        fitted = fit(seen, a, points_seen, points_a, swapped=True)
    if fitted is None or fitted.inliers < min_inliers:
        return None
    homography, mask, source, target, good, inliers = fitted
    kept = mask.ravel() > 0
    missed = np.linalg.norm(cv2.perspectiveTransform(source.reshape(-1, 1, 2), homography).reshape(-1, 2) - target,
                            axis=1)
    residual = float(np.median(missed[kept]))
    # a second motion only tells another shot from a loose fit (see Alignment.another_shot)
    loose = inliers / good < SHOT_RATIO
    second = _second_motion(source[missed > REPROJECTION], target[missed > REPROJECTION], homography) \
        if loose else (0, 0.0)
    size_a, size_b = a.size(), b.size()
    inverse = np.linalg.inv(homography)
    from_a, agreeing_a = _agreement(a, points_a, homography, seen, points_seen, size_b)
    from_b, agreeing_b = _agreement(seen, points_seen, inverse, a, points_a, size_a)
    regions, other = (from_a, from_b) if min(from_a) >= min(from_b) else (from_b, from_a)
    agreeing_a, agreeing_b = (agreeing_a | _cells_in(agreeing_b, seen.size(), inverse, size_a),
                              (agreeing_b | _cells_in(agreeing_a, size_a, homography, seen.size())).reshape(GRID, GRID))
    if mirrored:  # B's pixels = the mirror image's, flipped back
        homography = np.float64([[-1, 0, size_b[0]], [0, 1, 0], [0, 0, 1]]) @ homography
        agreeing_b = agreeing_b[:, ::-1]
    return Alignment(homography, mirrored, inliers, size_a, size_b, regions,
                     inliers / good, residual, other, agreeing_a.reshape(GRID, GRID), *second, agreeing_b)


def _second_motion(source: np.ndarray, target: np.ndarray, homography: np.ndarray) -> tuple[int, float]:
    """(inliers, pixels apart) of a second homography fitted to the matches the first leaves out
    (``source`` to ``target``): the near half of a scene that moved against its far half (parallax),
    which a copy does not have."""
    if len(source) < SHOT_SECOND:
        return 0, 0.0
    found, mask = cv2.findHomography(source, target, cv2.USAC_MAGSAC, REPROJECTION)
    if found is None:
        return 0, 0.0
    fitted = source[mask.ravel() > 0].reshape(-1, 1, 2)
    apart = np.linalg.norm(cv2.perspectiveTransform(fitted, found) - cv2.perspectiveTransform(fitted, homography),
                           axis=2)
    return int(mask.sum()), float(np.median(apart))


def _agreement(source: Features, points: np.ndarray, homography: np.ndarray, target: Features,
               target_points: np.ndarray, target_size: tuple[float, float]) -> tuple[tuple[float, ...], np.ndarray]:
    """Per photo region of ``source`` inside ``target``: the share of its cells whose keypoints
    find partners there ((0.0,) when too few are inside to judge); and which cells agree."""
    none = np.zeros(GRID * GRID, bool)
    if len(points) == 0 or len(target_points) == 0:
        return (0.0,), none
    mapped = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float32), homography).reshape(-1, 2)
    width, height = target_size
    inside = (mapped[:, 0] >= 0) & (mapped[:, 0] < width) & (mapped[:, 1] >= 0) & (mapped[:, 1] < height)
    checked = np.nonzero(inside & source.in_photo())[0]
    if len(checked) < MIN_CHECKED:
        return (0.0,), none
    # squared distances as dx * dx + dy * dy, the same sums as a broadcast over both axes, 10x faster
    squared = np.subtract.outer(mapped[checked, 0], target_points[:, 0])
    squared *= squared
    dy = np.subtract.outer(mapped[checked, 1], target_points[:, 1])
    squared += dy * dy
    near = squared < PARTNER_DISTANCE ** 2
    rows, cols = np.nonzero(near)
    if len(rows) == 0:
        return (0.0,), none
    bits = np.bitwise_count(source.descriptors[checked[rows]] ^ target.descriptors[cols]).sum(axis=1)
    partnered = np.zeros(len(checked), bool)
    partnered[rows[bits < PARTNER_BITS]] = True
    # by cells, not keypoints: a frame's few photo-like cells (avatars, a logo) are dense with
    # keypoints, and must not outvote the main photo's area
    cells = cell_index(source.points[checked])
    per_cell = np.bincount(cells, minlength=GRID * GRID)
    seen = per_cell > 0
    agreeing = np.bincount(cells[partnered], minlength=GRID * GRID) >= CELL_SHARE * per_cell
    if seen.sum() < MIN_CELLS:
        return (0.0,), none
    # each separate photo region on its own: two screenshots share the ads and avatars around
    # their photos; the share of a big region that disagrees is what tells them apart
    count, labels = source.region_labels
    shares = []
    for label in range(1, count):
        region = seen & (labels == label)
        if region.sum() >= max(2, REGION_SHARE * seen.sum()):
            shares.append((int((labels == label).sum()), (agreeing & region).sum() / region.sum()))
    shares = [share for _, share in sorted(shares, key=lambda found: -found[0])]  # the largest first
    agreed = agreeing & seen
    return (tuple(float(v) for v in shares) if shares else (float(agreed.sum() / seen.sum()),)), agreed


def _cells_in(agreeing: np.ndarray, size: tuple[float, float], homography: np.ndarray,
              target_size: tuple[float, float]) -> np.ndarray:
    """(GRID * GRID) bool: the target's cells where the centres of the agreeing cells land."""
    inside, cells = _landing(GRID, size, homography, target_size)
    found = np.zeros(GRID * GRID, bool)
    found[cells[agreeing[inside]]] = True
    return found


def _landing(grid: int, size: tuple[float, float], homography: np.ndarray,
             target_size: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """For the grid x grid blocks of a view of ``size`` (row-major): whether each one's centre lands
    inside the target under ``homography``, and the target's GRID cell where those inside land."""
    steps = (np.arange(grid) + 0.5) / grid
    xs, ys = np.meshgrid(steps * size[0], steps * size[1])
    centres = np.float32(np.stack([xs.ravel(), ys.ravel()], axis=1)).reshape(-1, 1, 2)
    mapped = cv2.perspectiveTransform(centres, homography).reshape(-1, 2) / np.float32(target_size)
    inside = (mapped >= 0).all(axis=1) & (mapped < 1).all(axis=1)
    return inside, cell_index(mapped[inside])
