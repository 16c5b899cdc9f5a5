"""The keypoint candidate index: matches that agree on one scale and turn outrank scattered ones."""

from __future__ import annotations

import sqlite3

import cv2
import numpy as np
import pytest

from neardupd.descriptor_index import (
    INDEXED,
    NEAR_MARGIN,
    RADIUS,
    SHARED_BY,
    DescriptorIndex,
    _distances,
    _nearest_matches,
)
from neardupd.feature_blob import unpack
from neardupd.hash_tables import stable_order
from neardupd.keypoint_votes import consistent_matches
from neardupd.store import open_store


def _similar(points: np.ndarray, scale: float, degrees: float, shift: tuple[float, float]) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D((0, 0), degrees, scale)
    matrix[:, 2] = shift
    return cv2.transform(points.reshape(-1, 1, 2), matrix).reshape(-1, 2)


@pytest.mark.parametrize(("scale", "degrees"), [(1.0, 0.0), (0.4, 35.0), (2.5, -120.0)])
def test_matches_of_a_scaled_and_turned_copy_agree(scale, degrees):
    rng = np.random.default_rng(1)
    stored = rng.uniform(0, 480, (12, 2)).astype(np.float32)
    new = _similar(stored, scale, degrees, (30.0, 40.0))
    assert consistent_matches(new, stored, np.zeros(12, bool))[0] == pytest.approx(12, abs=0.5)


def test_scattered_matches_agree_on_little():
    rng = np.random.default_rng(2)
    stored, new = rng.uniform(0, 480, (2, 12, 2)).astype(np.float32)
    assert consistent_matches(new, stored, np.zeros(12, bool))[0] < 6


def test_matches_are_scored_per_stored_picture_in_one_pass():
    rng = np.random.default_rng(4)
    stored = rng.uniform(0, 480, (20, 2)).astype(np.float32)
    new = np.concatenate([_similar(stored[:12], 0.7, 10.0, (5.0, 5.0)), rng.uniform(0, 480, (8, 2))])
    together = consistent_matches(new.astype(np.float32), stored, np.zeros(20, bool), np.array([12, 8]))
    apart = [consistent_matches(new[:12], stored[:12], np.zeros(12, bool))[0],
             consistent_matches(new[12:], stored[12:], np.zeros(8, bool))[0]]
    assert together == pytest.approx(apart)
    assert together[0] == pytest.approx(12, abs=0.5) and together[1] < 6


def test_a_copy_with_fewer_agreeing_matches_outranks_a_picture_met_everywhere():
    """A hub (a tiny blocky JPEG, a screenshot's ad) shares many descriptors, each somewhere else."""
    rng = np.random.default_rng(3)
    descriptors = rng.integers(0, 256, (20, 32), dtype=np.uint8)
    stored = rng.uniform(0, 480, (20, 2)).astype(np.float32)
    index = DescriptorIndex()
    index.add(1, descriptors[:8], stored[:8])  # the original: 8 keypoints the copy shows
    index.add(2, descriptors[8:], rng.uniform(0, 480, (12, 2)).astype(np.float32))  # the hub: 12, scattered
    new = np.concatenate([_similar(stored[:8], 0.5, 30.0, (100.0, 50.0)), stored[8:]])
    found = index.search(descriptors, new, min_votes=3)
    assert [met.item for met in found] == [1, 2]
    assert {met.item: met.votes for met in found} == {1: 8, 2: 12}


def _noisy(descriptors: np.ndarray, rng: np.random.Generator, bits: int = 6) -> np.ndarray:
    """The descriptors with ``bits`` random bits flipped in each (a copy's keypoints, re-described)."""
    flipped = np.unpackbits(descriptors, axis=1)
    for row in flipped:
        row[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(flipped, axis=1)


def test_searches_between_additions_find_what_one_built_index_finds():
    """Rows added since the last merge are kept sorted as they come (not sorted again per search)."""
    rng = np.random.default_rng(5)
    pictures = [(rng.integers(0, 256, (64, 32), dtype=np.uint8), rng.uniform(0, 480, (64, 2)).astype(np.float32))
                for _ in range(100)]  # 6,400 rows: merged into the sorted tables on the way
    growing = DescriptorIndex()
    for item, (descriptors, points) in enumerate(pictures):
        growing.add(item, descriptors, points)
        growing.search(_noisy(descriptors, rng)[:16], points[:16], min_votes=3)  # sorts the tail
    built = DescriptorIndex()
    for item, (descriptors, points) in enumerate(pictures):
        built.add(item, descriptors, points)
    assert growing._bucket_starts is not None
    for descriptors, points in pictures[::9]:
        probe = _noisy(descriptors, rng)
        assert growing.search(probe, points, min_votes=3) == built.search(probe, points, min_votes=3)


def test_a_renamed_picture_is_found_under_its_new_key():
    rng = np.random.default_rng(6)
    descriptors, points = rng.integers(0, 256, (64, 32), dtype=np.uint8), rng.uniform(0, 480, (64, 2))
    index = DescriptorIndex()
    index.add(1 << 40, descriptors, points.astype(np.float32))
    index.rename(1 << 40, 12)
    assert [item for item, *_ in index.search(descriptors, points, min_votes=3)] == [12]
    index.remove(12)
    assert index.search(descriptors, points, min_votes=3) == []


def test_distances_count_every_bit_of_the_256():
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2 ** 63, (50, 4), dtype=np.uint64)
    words[0] = np.iinfo(np.uint64).max  # 256 bits set: more than a byte can hold
    expected = np.unpackbits(words.view(np.uint8), axis=1).sum(axis=1)
    assert _distances(words).tolist() == expected.tolist()


def _voting_by_loops(probe_ids, rows, owners, distance):
    """What _nearest_matches keeps, spelled out: each keypoint's nearest row per picture (the first
    listed on a tie), then its pictures nearest first, within NEAR_MARGIN of the best, SHARED_BY at most."""
    nearest: dict[tuple[int, int], tuple[int, int]] = {}
    for probe, row, owner, bits in zip(probe_ids.tolist(), rows.tolist(), owners.tolist(), distance.tolist(),
                                       strict=True):
        if (probe, owner) not in nearest or bits < nearest[probe, owner][0]:
            nearest[probe, owner] = (bits, row)
    kept = []
    for probe in sorted({probe for probe, _ in nearest}):
        mine = sorted((bits, owner, row) for (one, owner), (bits, row) in nearest.items() if one == probe)
        kept += [(probe, row) for rank, (bits, _, row) in enumerate(mine)
                 if rank < SHARED_BY and bits <= mine[0][0] + NEAR_MARGIN]
    return sorted(kept)


def test_each_keypoint_votes_for_its_nearest_pictures():
    rng = np.random.default_rng(8)
    for _ in range(20):
        count = int(rng.integers(1, 400))
        probe_ids, owners = rng.integers(0, 30, count), rng.integers(0, 12, count)
        rows, distance = rng.permutation(count), rng.integers(0, RADIUS + 1, count)  # many ties
        probes, kept_rows = _nearest_matches(probe_ids, rows, owners, distance)
        assert sorted(zip(probes.tolist(), kept_rows.tolist(), strict=True)) == _voting_by_loops(
            probe_ids, rows, owners, distance)


def test_the_two_pass_sort_orders_as_a_stable_sort():
    """Ties keep their order (a keypoint's rows in their tables are found in row order)."""
    rng = np.random.default_rng(3)
    for values in (rng.integers(0, 1 << 23, 50_000), rng.integers(0, 40, 5_000), rng.integers(0, 2**32, 5_000),
                   np.zeros(0)):
        values = values.astype(np.uint32)
        assert (stable_order(values) == np.argsort(values, kind="stable")).all()


def test_keypoints_loaded_in_bulk_are_those_added_one_by_one(data_index):
    """The start-up path (BLOBs unpacked many at a time, added at once, merged once) holds and finds
    exactly what adding each picture's unpacked keypoints did."""
    with sqlite3.connect(data_index) as db:
        blobs = db.execute("SELECT file_id, data FROM features ORDER BY rowid").fetchall()
    one_by_one, bulk = DescriptorIndex(), DescriptorIndex()
    for file_id, blob in blobs:
        found = unpack(blob)
        one_by_one.add(file_id, found.descriptors, found.pixels())
    with open_store(data_index, readonly=True) as store, bulk.bulk():
        for file_ids, found in store.index_features(INDEXED, batch=7):
            bulk.add_many(file_ids, found.counts, found.descriptors, found.pixels)
    size = one_by_one._size
    assert size == bulk._size > 0 and one_by_one._rows == bulk._rows
    for name in ("_descriptors", "_points", "_owners", "_keys"):
        assert (getattr(one_by_one, name)[:size] == getattr(bulk, name)[:size]).all(), name
    one_by_one._merge()  # noqa: SLF001 - all rows merged, as the bulk load leaves them (a tail counts its own crowds)
    for _, blob in blobs[::5]:
        found = unpack(blob)
        asked = {"mirrored_from": None, "min_votes": 4, "limit": 8}
        assert (one_by_one.search(found.descriptors, found.pixels(), **asked)
                == bulk.search(found.descriptors, found.pixels(), **asked))
