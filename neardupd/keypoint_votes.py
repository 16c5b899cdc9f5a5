"""How many of two pictures' matched keypoints agree on one similarity transform (pure): the vote
the keypoint index ranks the pictures it meets by (see :mod:`neardupd.descriptor_index`).
"""

from __future__ import annotations

import functools

import numpy as np

SCALE_BIN = 0.2
TURN_BIN = 30.0
"""Bins (log2 of the scale, degrees of the turn) in which pairs of matches vote for one
similarity transform; a 2 x 2 window of bins counts, so a perspective or a skew still agrees."""
MIN_SPAN = 5.0
"""Pairs of keypoints closer than this (pixels) say nothing about scale or turn."""


@functools.lru_cache(maxsize=256)
def _pairs(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Both indexes of every pair of ``count`` matches (cached: searches meet the same counts again)."""
    return np.triu_indices(count, 1)


def consistent_matches(new: np.ndarray, stored: np.ndarray, mirrored: np.ndarray,
                       sizes: np.ndarray | None = None) -> np.ndarray:
    """About how many of the matches (positions in the new picture and in the stored one) agree on
    one similarity transform: each pair of matches votes for the scale and the turn between the
    two pictures (a Hough transform, as in Lowe's SIFT), and the most-voted bin's pair count is
    turned back into a number of matches. A copy's matches agree; a stranger's are scattered.
    ``sizes`` splits the matches into consecutive groups (one per stored picture; default: one
    group), each scored on its own, all in one pass. Measured on augly_unseen in the scan's order,
    keypoint candidates alone: 666 of 885 copies ranked by count, 686 by agreement, 703 by
    agreement from 3 votes (``match.min_votes``)."""
    sizes = np.array([len(new)]) if sizes is None else np.asarray(sizes)
    starts = np.cumsum(sizes) - sizes
    pairs = [_pairs(int(size)) for size in sizes]
    first = np.concatenate([start + found[0] for start, found in zip(starts, pairs, strict=True)])
    second = np.concatenate([start + found[1] for start, found in zip(starts, pairs, strict=True)])
    group = np.repeat(np.arange(len(sizes)), [len(found[0]) for found in pairs])
    span_new, span_stored = new[second] - new[first], stored[second] - stored[first]
    length_new, length_stored = np.hypot(*span_new.T), np.hypot(*span_stored.T)
    usable = (mirrored[first] == mirrored[second]) & (length_new > MIN_SPAN) & (length_stored > MIN_SPAN)
    scales, turns = round(8 / SCALE_BIN), round(360 / TURN_BIN)
    scale = np.log2(length_new[usable] / length_stored[usable])
    turn = np.degrees(np.arctan2(span_new[usable, 1], span_new[usable, 0])
                      - np.arctan2(span_stored[usable, 1], span_stored[usable, 0])) % 360
    scale_bin = np.floor((scale + 4) / SCALE_BIN).astype(int)
    inside = (scale_bin >= 0) & (scale_bin < scales)
    turn_bin = np.floor(turn / TURN_BIN).astype(int) % turns
    cell = (group[usable][inside] * scales + scale_bin[inside]) * turns + turn_bin[inside]
    votes = np.bincount(cell, minlength=len(sizes) * scales * turns).reshape(len(sizes), scales, turns)
    votes = votes.astype(float)
    votes[:, 1:] += votes[:, :-1].copy()
    votes += np.roll(votes, 1, axis=2)
    most = votes.max(axis=(1, 2))
    judged = np.bincount(group[usable], minlength=len(sizes)) > 0
    return np.where(judged, (1 + np.sqrt(1 + 8 * most)) / 2, 0.0)
