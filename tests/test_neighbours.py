"""The neighbour search by multi-index hashing gives exactly the answer of a scan of every hash:
the same pictures, distances, relations, probes and stored hashes, in the same order."""

from __future__ import annotations

import numpy as np
import pytest

from neardupd.config import MatchSettings
from neardupd.hash_tables import SCAN_NS, reach, steps_for
from neardupd.neighbours import HammingIndex
from neardupd.rules import OVERLAP_PAIRS, VARIANTS, search_radii
from neardupd.signature import WINDOWS

PICTURES = 3_000
VARIANTS_KEPT = range(len(WINDOWS), VARIANTS)
"""The rotated views: what a large library's index keeps of a picture's variants."""


def _near(rng: np.random.Generator, value: int, distance: int) -> int:
    """A hash exactly ``distance`` bits from ``value``."""
    return value ^ sum(1 << int(bit) for bit in rng.choice(64, distance, replace=False))


def _random(rng: np.random.Generator, count: int) -> list[int]:
    return [int(value) for value in rng.integers(0, 2**64, count, dtype=np.uint64)]


def _probe(rng: np.random.Generator) -> tuple[list[int], list[int], list[int]]:
    return _random(rng, 8), _random(rng, VARIANTS), _random(rng, len(WINDOWS))


def _indexes(multi_index_from: int, scan_ns: float) -> tuple[HammingIndex, HammingIndex]:
    """The same pictures in an index that is scanned and in one searched by multi-index hashing
    (which scans a table where that is cheaper than the next step of lookups: with ``scan_ns`` huge,
    never)."""
    return (HammingIndex(VARIANTS, OVERLAP_PAIRS, multi_index_from=10**9),
            HammingIndex(VARIANTS, OVERLAP_PAIRS, multi_index_from=multi_index_from, scan_ns=scan_ns))


def _fill(rng: np.random.Generator, indexes: tuple[HammingIndex, ...], probes: list, first: int,
          pictures: int = PICTURES) -> int:
    """Random pictures, and pictures planted near the probes at every distance up to 17 bits in every
    relation (content ~ form, variant ~ form, content ~ variant, window ~ window, rotation ~ rotation),
    several at equal distances; returns the next free item number."""
    item = first
    for forms, variants, flipped in probes:
        for distance in range(18):
            for _ in range(2):  # ties: which relation, probe and stored hash is named must agree
                content, stored = _random(rng, 1)[0], _random(rng, VARIANTS)
                relation = rng.integers(5)
                if relation == 0:
                    content = _near(rng, forms[rng.integers(8)], distance)
                elif relation == 1:
                    stored[rng.integers(VARIANTS)] = _near(rng, forms[rng.integers(8)], distance)
                elif relation == 2:
                    content = _near(rng, (variants + flipped)[rng.integers(VARIANTS + len(WINDOWS))], distance)
                elif relation == 3:
                    stored[rng.integers(len(WINDOWS))] = _near(rng, variants[rng.integers(len(WINDOWS))], distance)
                else:
                    column = rng.integers(len(WINDOWS), VARIANTS)
                    stored[column] = _near(rng, variants[rng.integers(len(WINDOWS), VARIANTS)], distance)
                for index in indexes:
                    index.add(item, content, stored)
                item += 1
    while item < first + pictures:
        content, stored = _random(rng, 1)[0], _random(rng, VARIANTS)
        for index in indexes:
            index.add(item, content, stored if item % 50 else [])  # some too small for variants
        item += 1
    return item


@pytest.mark.parametrize(("limit", "keep_within", "scan_ns"),
                         [(1, -1, 1e9), (4, 8, 1e9), (40, 8, 1e9), (1000, 16, 1e9), (4, 8, SCAN_NS), (40, 8, 0.05)])
def test_multi_index_search_answers_as_a_scan_of_every_hash(limit, keep_within, scan_ns):
    rng = np.random.default_rng(limit)
    probes = [_probe(rng) for _ in range(6)]
    scan, multi = _indexes(multi_index_from=1_000, scan_ns=scan_ns)
    item = _fill(rng, (scan, multi), probes, 0)
    for gone in range(0, item, 7):  # removed pictures, and renamed ones, are searched as such
        scan.remove(gone), multi.remove(gone)
    for old in range(3, item, 11):
        scan.rename(old, old + 100_000), multi.rename(old, old + 100_000)
    _agree(scan, multi, probes, limit, keep_within)  # every picture listed
    _fill(rng, (scan, multi), probes[:2], 200_000, pictures=300)
    _agree(scan, multi, probes, limit, keep_within)  # the 300 added since: scanned
    _fill(rng, (scan, multi), probes[2:4], 300_000, pictures=2_000)
    _agree(scan, multi, probes, limit, keep_within)  # merged into the listing


def _agree(scan: HammingIndex, multi: HammingIndex, probes: list, limit: int, keep_within: int) -> None:
    settings = MatchSettings()
    for forms, variants, flipped in probes:
        asked = {"radius": settings.radius, "limit": limit, "keep_within": keep_within, "contained": flipped,
                 "overlap_radius": settings.overlap_radius}
        expected = scan.nearest(forms, variants, **asked)
        assert len(expected) >= min(limit, 30)  # the planted pictures are there to be found
        assert multi.nearest(forms, variants, **asked) == expected
        assert multi.nearest(forms, (), **asked) == scan.nearest(forms, (), **asked)


def test_an_index_that_stops_keeping_windows_answers_as_one_that_never_had_them():
    """A large library's index forgets its stored windows (``index_from``) and indexes none from then
    on: it answers as an index made without them (scanned), with stored variants still named by their
    number among all variants, and only rotated views met within or by overlap."""
    rng = np.random.default_rng(7)
    probes = [_probe(rng) for _ in range(4)]
    never = HammingIndex(VARIANTS, OVERLAP_PAIRS, first_variant=len(WINDOWS), multi_index_from=10**9)
    narrowed = HammingIndex(VARIANTS, OVERLAP_PAIRS, multi_index_from=1_000, scan_ns=1e9)
    item = _fill(rng, (never, narrowed), probes, 0)
    for gone in range(0, item, 7):
        never.remove(gone), narrowed.remove(gone)
    narrowed.index_from(len(WINDOWS))
    narrowed.index_from(0)  # nothing forgotten comes back
    _fill(rng, (never, narrowed), probes[:2], 100_000, pictures=2_000)  # indexed without windows from the start
    assert narrowed._variant.width == len(VARIANTS_KEPT) and len(narrowed) == len(never)  # noqa: SLF001
    radius, overlap_radius = search_radii(MatchSettings(), 10**6)
    for forms, variants, flipped in probes:
        asked = {"radius": radius, "limit": 40, "keep_within": 8, "contained": flipped,
                 "overlap_radius": overlap_radius}
        expected = never.nearest(forms, variants, **asked)
        assert len(expected) >= 3 and narrowed.nearest(forms, variants, **asked) == expected
        met = {n.variant for n in expected if n.relation in ("within", "overlap")}
        assert met and met <= set(VARIANTS_KEPT)


def test_crowded_listings_answer_as_a_scan_at_the_large_library_radii():
    """Where a listing holds more hashes than a quarter of its substring's values, lookups read the
    offsets of every value looked up instead of first asking which values are there."""
    rng = np.random.default_rng(12)
    probes = [_probe(rng) for _ in range(4)]
    scan, multi = _indexes(multi_index_from=1_000, scan_ns=1e9)
    item = _fill(rng, (scan, multi), probes, 0, pictures=0)
    count = 26_000  # 1.09 M window and rotation hashes
    items = np.arange(item, item + count, dtype=np.int64)
    contents = rng.integers(0, 2**64, count, dtype=np.uint64)
    variants = rng.integers(0, 2**64, (count, VARIANTS), dtype=np.uint64)
    for index in (scan, multi):
        index.add_many(items, contents, variants, np.ones(count, dtype=bool))
    multi.catch_up()  # lists every picture
    listings = multi._variant._listings + multi._content._listings  # noqa: SLF001 - which path is taken
    assert [listing.sparse for listing in listings] == [False] * 3 + [True] * 3
    radius, overlap_radius = search_radii(MatchSettings(), 10**6)
    for limit in (1, 4, 40):
        for forms, variants_probed, flipped in probes:
            asked = {"radius": radius, "limit": limit, "keep_within": 8, "contained": flipped,
                     "overlap_radius": overlap_radius}
            expected = scan.nearest(forms, variants_probed, **asked)
            assert len(expected) >= min(limit, 10)
            assert multi.nearest(forms, variants_probed, **asked) == expected


def test_each_step_of_lookups_reaches_three_bits_further():
    assert [reach(step) for step in range(6)] == [2, 5, 8, 11, 14, 17]
    assert [steps_for(radius) for radius in (0, 2, 3, 8, 12, 16, 17)] == [1, 1, 2, 3, 5, 6, 6]
