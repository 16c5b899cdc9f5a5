"""The frame rule of an alignment, on the agreements measured in the benchmarks (pure, no images)."""

from __future__ import annotations

import numpy as np
import pytest

from neardupd.geometry import Alignment


def _aligned(regions: tuple[float, ...], other: tuple[float, ...] = ()) -> Alignment:
    return Alignment(np.eye(3), False, 50, (480.0, 320.0), (480.0, 320.0), regions, other_regions=other)


@pytest.mark.parametrize(("regions", "other", "shared"), [
    ((0.5, 1.0), (), True),  # two photos in one feed: the ad agrees, the post's photo (largest) by chance only
    ((0.9, 0.25), (), True),  # two screenshots share their ads and avatars, their photos differ
    ((0.71, 1.0), (0.25, 1.0), True),  # the same pair judged from the side that agrees more
    ((1.0, 0.53), (), False),  # a copy under big text: the text's region agrees less
    ((0.9, 1.0, 0.6), (0.75, 0.86, 0.5), False),  # a mirrored copy of a flat photo with three patches
    ((0.8,), (0.7, 0.2), False),  # a photo against its screenshot: one region on the photo's side
    ((0.3, 0.4), (), False),  # nothing agrees: not a frame, just no copy
])
def test_a_frame_is_shared_when_one_region_agrees_and_the_photo_does_not(regions, other, shared):
    assert _aligned(regions, other).frame_shared is shared


@pytest.mark.parametrize(("homography", "contained"), [
    (np.eye(3), True),  # the same frame
    (np.diag([0.5, 0.5, 1.0]), True),  # A shrunk into a corner of B (a paste, a screenshot)
    (np.diag([2.0, 2.0, 1.0]), True),  # B is a quarter of A (a crop)
    (np.float64([[1, 0, 240], [0, 1, 160], [0, 0, 1]]), False),  # a corner of each: a background shared
])
def test_a_copy_lies_mostly_inside_the_other_picture(homography, contained):
    aligned = Alignment(homography, False, 50, (480.0, 320.0), (480.0, 320.0), (1.0,))
    assert aligned.contained is contained
