"""The candidate index of local features: which stored pictures share keypoints with a new one.

Each picture contributes the descriptors of its first :data:`INDEXED` keypoints (the strongest of
each scale, see :func:`neardupd.features._across_scales`). A search looks every descriptor of the
new picture (as it is and mirrored) up in :data:`TABLES` hash tables, each keyed on 20 fixed bits
of the 256 (locality-sensitive hashing for Hamming space), checks the full descriptor of every
stored one met there, and each new keypoint votes for the pictures holding its nearest descriptor
within :data:`RADIUS` bits (see :data:`NEAR_MARGIN`). That proposes a photo pasted anywhere, turned,
seen in perspective or mirrored, which the fixed windows of the hash index cannot line up. The
pictures met are ranked by how many of those partners agree on one scale and one turn (see
:func:`~neardupd.keypoint_votes.consistent_matches`), not by their count: a tiny blocky JPEG or a
screenshot's ad meets many pictures' keypoints, each somewhere else.

A pair of descriptors 16 bits apart shares a table's 20 bits with probability 0.27, so one of
six tables with 0.85; two strangers' descriptors (~100-128 bits apart) almost never pass the check.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> stored = rng.integers(0, 256, (64, 32), dtype=np.uint8)
>>> points = rng.uniform(0, 480, (64, 2)).astype(np.float32)
>>> index = DescriptorIndex()
>>> index.add(7, stored, points)
>>> index.add(8, rng.integers(0, 256, (64, 32), dtype=np.uint8), points)
>>> index.search(stored[:20], points[:20] / 2, min_votes=4)
[Met(item=7, votes=20, agreeing=20.0)]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from neardupd.hash_tables import stable_order
from neardupd.keypoint_votes import consistent_matches

INDEXED = 96
"""Keypoints indexed per picture. 96 rather than 64: augly_unseen strict R@P99 0.841 -> 0.850 (a photo
pasted on a background 45 -> 51 of 63, turned 25-45 degrees 46 -> 49), the frames set 0.964 -> 0.968,
bench-dev 0.965 -> 0.966, for 2-3 % more indexing time and 13.4 KB of RAM per picture instead of 9.0."""
TABLES = 6
KEY_BITS = 20
RADIUS = 24
BALANCED_BITS = (
    1, 10, 11, 12, 17, 18, 20, 21, 22, 23, 26, 31, 32, 34, 37, 38, 39, 41, 42, 44, 45, 48, 56, 58, 59, 60, 61, 62,
    64, 65, 67, 69, 72, 73, 74, 75, 78, 79, 82, 84, 85, 89, 92, 94, 95, 96, 97, 98, 100, 102, 103, 106, 110, 111,
    117, 118, 119, 123, 124, 125, 127, 129, 131, 133, 135, 136, 138, 139, 141, 142, 143, 145, 147, 149, 150, 151,
    152, 153, 154, 155, 156, 158, 160, 162, 163, 164, 165, 170, 171, 175, 178, 180, 182, 183, 185, 188, 190, 191,
    193, 196, 197, 199, 201, 202, 204, 207, 209, 219, 223, 224, 227, 232, 235, 236, 237, 239, 247, 248, 249, 255)
"""The 120 descriptor bits (of np.unpackbits' order) nearest to half set on ORB keypoints of the
camera photos in shared/data (none of them in a benchmark). ORB's bits are far from balanced on
corners (a quarter of them set, or three quarters), and unbalanced keys fill a few buckets."""
_BITS = np.array(BALANCED_BITS).reshape(KEY_BITS, TABLES).T
"""Which bits key each table (fixed: dealt round-robin so every table gets some of the best)."""
SHARED_BY = 4
NEAR_MARGIN = 1
"""A new keypoint votes for the stored pictures holding its nearest descriptor, within NEAR_MARGIN bits
of it, at most SHARED_BY of them (nearest first), as a nearest-neighbour matcher would. Dropping every
keypoint that met more than SHARED_BY pictures instead (corners of common structure) also dropped a
copy's best keypoints on a textured photo, near-identical to its original's and 20 bits from a dozen
other pictures': augly_unseen candidate recall 0.919 -> 0.940, ref R@P99 0.884 -> 0.895; bench-dev and
the frames set up too (0.972 / 0.986 -> 0.973 / 0.988, 0.972 / 0.986 -> 0.978 / 0.992)."""
CROWDED = 8
CROWDED_FLOOR = 64
"""A bucket holding CROWDED times its fair share of entries, and at least CROWDED_FLOOR, is skipped, as
a search engine skips stop words: the keypoint is too common (flat corners, text) to tell pictures
apart. (A floor of 16 skipped the buckets of true matches too, when only the nearest picture voted.)"""


_DESCRIPTOR = np.dtype((np.void, 32))
KEYED_AT_ONCE = 8_192
"""Descriptors keyed in one go: their unpacked bits stay in the cache (a million at once took 6x as long)."""


def keys(descriptors: np.ndarray) -> np.ndarray:
    """(n, TABLES) uint32 keys of (n, 32) uint8 descriptors."""
    bits = np.unpackbits(descriptors, axis=1)[:, _BITS]  # (n, TABLES, KEY_BITS)
    return (bits.astype(np.uint32) << np.arange(KEY_BITS, dtype=np.uint32)).sum(axis=2, dtype=np.uint32)


class Met(NamedTuple):
    """A stored picture met by a search: how many new keypoints met one of its own, and about how
    many of those matches agree on one scale and turn (:func:`~neardupd.keypoint_votes.consistent_matches`)."""

    item: int
    votes: int
    agreeing: float


class DescriptorIndex:
    """Descriptors of many pictures, searchable by shared keypoints.

    Entries are appended to flat arrays; one sorted array holds every table's keys, offset by table,
    and the unsorted tail is merged in when it grows past a fraction of the sorted part (amortised
    O(log n) search)."""

    def __init__(self) -> None:
        self._descriptors = np.zeros((0, 4), np.uint64)
        self._points = np.zeros((0, 2), np.float16)
        self._owners = np.zeros(0, np.int64)
        self._keys = np.zeros((0, TABLES), np.uint32)
        self._size = 0
        self._rows: dict[int, tuple[int, int]] = {}
        self._dead = np.zeros(0, bool)
        self._sorted_keys = np.zeros(0, np.uint32)
        """Every table's keys of the merged rows, offset by table (see :func:`_table_keys`), sorted:
        one lookup serves all tables (a third of the search's time went in calls per table)."""
        self._bucket_starts: np.ndarray | None = None
        """Where each offset key's bucket starts in the sorted keys (TABLES * 2 ** KEY_BITS + 1 of
        them, uint32: 25 MB): a lookup by index instead of two binary searches per probe (a third
        of the search's time)."""
        self._sorted_rows = np.zeros(0, np.int64)
        self._merged = 0
        self._loading = False
        self._tail: tuple[np.ndarray, np.ndarray] | None = None
        """The rows added since the last merge, as (offset keys, rows) sorted by key (None: to be sorted again)."""

    def add(self, item: int, descriptors: np.ndarray, points: np.ndarray) -> None:
        """Index the first INDEXED of a picture's keypoints: their descriptors, and their positions
        (pixels of its keypoint view, see :meth:`neardupd.features.Features.pixels`)."""
        self.add_many(np.array([item], dtype=np.int64), np.array([len(descriptors)], dtype=np.int64),
                      descriptors, points)

    def add_many(self, items: np.ndarray, counts: np.ndarray, descriptors: np.ndarray, points: np.ndarray) -> None:
        """Index many pictures at once, as ``add`` one by one: picture ``i`` has the next ``counts[i]``
        rows of ``descriptors`` and ``points`` (of which the first INDEXED are indexed)."""
        for item in items.tolist():
            self.remove(item)
        first = np.cumsum(counts) - counts
        taken = np.minimum(counts, INDEXED)
        rows = np.repeat(first, taken) + np.arange(int(taken.sum())) - np.repeat(np.cumsum(taken) - taken, taken)
        chosen = np.ascontiguousarray(descriptors[rows], dtype=np.uint8)
        count = len(chosen)
        if count == 0:
            return
        self._reserve(count)
        start = self._size
        self._descriptors[start:start + count] = chosen.view(np.uint64).reshape(count, 4)
        self._points[start:start + count] = points[rows]
        self._owners[start:start + count] = np.repeat(items, taken)
        for first_row in range(0, count, KEYED_AT_ONCE):
            block = slice(first_row, min(first_row + KEYED_AT_ONCE, count))
            self._keys[start + block.start:start + block.stop] = keys(chosen[block])
        self._dead[start:start + count] = False
        self._size += count
        self._extend_tail(start, count)
        ends = start + np.cumsum(taken)
        self._rows.update((item, (end - size, end)) for item, size, end in
                          zip(items.tolist(), taken.tolist(), ends.tolist(), strict=True) if size)
        if self._size - self._merged > max(4096, self._merged // 8) and not self._loading:
            self._merge()

    @contextlib.contextmanager
    def bulk(self) -> Iterator[None]:
        """Add many pictures, merged once at the end (loading 100,000 pictures merged as they came
        took 25 s, most of it copying the sorted arrays again and again)."""
        self._loading = True
        try:
            yield
        finally:
            self._loading = False
            if self._size > self._merged:
                self._merge()

    def remove(self, item: int) -> None:
        rows = self._rows.pop(item, None)
        if rows is not None:
            self._dead[rows[0]:rows[1]] = True

    def rename(self, item: int, new: int) -> None:
        """Index ``item``'s keypoints as ``new`` from now on (a picture held under a provisional key, stored)."""
        rows = self._rows.pop(item, None)
        if rows is not None:
            self._owners[rows[0]:rows[1]] = new
            self._rows[new] = rows

    def search(self, descriptors: np.ndarray, points: np.ndarray, *, mirrored_from: int | None = None,
               min_votes: int, limit: int = 16) -> list[Met]:
        """The stored pictures with at least ``min_votes`` of the given descriptors
        meeting one of theirs, those whose matches agree best on one scale and turn first.
        ``points`` are the descriptors' positions (pixels); those from ``mirrored_from`` on were
        found on the new picture's mirror image (matched among themselves only)."""
        if len(descriptors) == 0 or self._size == 0:
            return []
        probe_ids, rows = self._matches(np.ascontiguousarray(descriptors, dtype=np.uint8))
        if len(rows) == 0:
            return []
        mirrored = probe_ids >= (len(descriptors) if mirrored_from is None else mirrored_from)
        return self._ranked(probe_ids, rows, points, mirrored, min_votes)[:limit]

    def _matches(self, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probe, row) pairs of descriptors within RADIUS bits, met in a table, that vote (see NEAR_MARGIN)."""
        probe_keys = keys(probes)
        crowded = max(CROWDED_FLOOR, int(CROWDED * self._size / 2 ** KEY_BITS))
        probe_ids, rows = self._lookup(_table_keys(probe_keys), crowded)
        probe_ids %= len(probes)
        # gathered as whole 32-byte items by np.take, not as rows of 4 words by indexing: 4x faster
        met = np.take(self._descriptors.view(_DESCRIPTOR).reshape(-1), rows).view(np.uint64).reshape(-1, 4)
        met ^= np.take(probes.view(_DESCRIPTOR).reshape(-1), probe_ids).view(np.uint64).reshape(-1, 4)
        distance = _distances(met)
        keep = (distance <= RADIUS) & ~self._dead[rows]
        probe_ids, rows, distance = probe_ids[keep], rows[keep], distance[keep].astype(np.int64)
        return _nearest_matches(probe_ids, rows, self._owners[rows], distance)

    def _ranked(self, probe_ids: np.ndarray, rows: np.ndarray, points: np.ndarray, mirrored: np.ndarray,
                min_votes: int) -> list[Met]:
        """(item, votes) of the items met at least ``min_votes`` times, most agreeing matches first."""
        owners = self._owners[rows]
        items, votes = np.unique(owners, return_counts=True)
        chosen = votes >= min_votes
        if not chosen.any():
            return []
        order = np.argsort(owners, kind="stable")  # each item's matches side by side, as np.unique counts them
        wanted = chosen[np.repeat(np.arange(len(items)), votes)]
        agreeing = consistent_matches(points[probe_ids[order][wanted]],
                                      self._points[rows[order][wanted]].astype(np.float32),
                                      mirrored[order][wanted], votes[chosen])
        ranked = sorted(zip(-agreeing, -votes[chosen], items[chosen].tolist(), strict=True))
        return [Met(item, -int(count), -float(agreed)) for agreed, count, item in ranked]

    def _lookup(self, probe_keys: np.ndarray, crowded: int) -> tuple[np.ndarray, np.ndarray]:
        """(index into ``probe_keys``, row) for every row sharing an offset key with a probe, table by
        table, each table's merged rows before its tail (as one lookup per table would list them)."""
        found, rows = _matching(self._sorted_keys, self._sorted_rows, probe_keys, crowded, self._bucket_starts)
        if self._size == self._merged:
            return found, rows
        tail_keys, tail_rows = self._sorted_tail()
        more, more_rows = _matching(tail_keys, tail_rows, probe_keys, crowded)
        # both lists run in probe order, each table's probes after the last's: interleaved table by table
        table_starts = np.arange(TABLES + 1) * (len(probe_keys) // TABLES)
        merged_at, tail_at = np.searchsorted(found, table_starts), np.searchsorted(more, table_starts)
        spans = [(ids, met, at[table], at[table + 1]) for table in range(TABLES)
                 for ids, met, at in ((found, rows, merged_at), (more, more_rows, tail_at))]
        return (np.concatenate([ids[start:end] for ids, _, start, end in spans]),
                np.concatenate([met[start:end] for _, met, start, end in spans]))

    def _sorted_tail(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows added since the last merge, sorted by offset key once per addition (not per search)."""
        if self._tail is None:
            self._tail = self._sorted_by_key(np.arange(self._merged, self._size))
        return self._tail

    def _sorted_by_key(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(offset keys, rows) of ``rows`` in every table, sorted stably by offset key."""
        table_keys, table_rows = _table_keys(self._keys[rows]), np.tile(rows, TABLES)
        order = stable_order(table_keys)
        return table_keys[order], table_rows[order]

    def _extend_tail(self, start: int, count: int) -> None:
        """Insert the rows just added into the sorted tail, as a stable sort of the tail would place
        them (after equal keys: their rows are the last): each search sorting the whole tail again
        cost a quarter of the keypoint search (bench-dev)."""
        if self._tail is None:
            return
        tail_keys, tail_rows = self._tail
        added_keys, added_rows = self._sorted_by_key(np.arange(start, start + count))
        at = np.searchsorted(tail_keys, added_keys, side="right")
        self._tail = (np.insert(tail_keys, at, added_keys), np.insert(tail_rows, at, added_rows))

    def _merge(self) -> None:
        # the sorted tail inserted into the sorted rows (empty at first): a full sort each time took 4x as long
        tail_keys, tail_rows = self._sorted_tail()
        live, live_tail = ~self._dead[self._sorted_rows], ~self._dead[tail_rows]
        keys, rows = self._sorted_keys[live], self._sorted_rows[live]
        if len(keys):
            at = np.searchsorted(keys, tail_keys[live_tail], side="right")  # after equal keys: their rows are later
            self._sorted_keys = np.insert(keys, at, tail_keys[live_tail])
            self._sorted_rows = np.insert(rows, at, tail_rows[live_tail])
        else:  # the first merge (a load): the sorted tail is all (inserting it into nothing took 5 s at 100k)
            self._sorted_keys, self._sorted_rows = tail_keys[live_tail], tail_rows[live_tail]
        wide = len(self._sorted_keys) >= 2 ** 32  # past 7.4 M pictures
        if self._bucket_starts is None or (wide and self._bucket_starts.dtype != np.uint64):
            self._bucket_starts = np.zeros((TABLES << KEY_BITS) + 1, np.uint64 if wide else np.uint32)
        # table by table, into the one array: counting all 6 M buckets at once in int64 took twice as long
        bounds = np.searchsorted(self._sorted_keys, np.arange(TABLES + 1, dtype=np.uint32) << KEY_BITS)
        for table in range(TABLES):
            first, last = int(bounds[table]), int(bounds[table + 1])
            counts = np.bincount(self._sorted_keys[first:last] - np.uint32(table << KEY_BITS), minlength=1 << KEY_BITS)
            starts = self._bucket_starts[(table << KEY_BITS) + 1:((table + 1) << KEY_BITS) + 1]
            np.cumsum(counts, out=starts, dtype=starts.dtype)
            starts += starts.dtype.type(first)
        self._merged = self._size
        self._tail = None

    def _reserve(self, count: int) -> None:
        if self._size + count <= len(self._owners):
            return
        grow = max(self._size + count, 2 * len(self._owners), 1024)
        self._descriptors = _grown(self._descriptors, grow)
        self._points = _grown(self._points, grow)
        self._owners = _grown(self._owners, grow)
        self._keys = _grown(self._keys, grow)
        self._dead = _grown(self._dead, grow)


def _table_keys(table_keys: np.ndarray) -> np.ndarray:
    """(TABLES * n,) keys of (n, TABLES) keys, table by table, each offset by its table (table
    ``t``'s keys become ``t << KEY_BITS`` + key) so that one sorted array holds all tables."""
    offsets = np.arange(TABLES, dtype=np.uint32)[:, None] << np.uint32(KEY_BITS)
    return (table_keys.T + offsets).reshape(-1)


def _nearest_matches(probe_ids: np.ndarray, rows: np.ndarray, owners: np.ndarray,
                     distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probe, row) matches that vote: for each new keypoint, its nearest descriptor in each stored
    picture met, kept for the pictures within NEAR_MARGIN bits of its nearest, at most SHARED_BY."""
    if len(probe_ids) == 0:
        return probe_ids, rows
    span = int(probe_ids.max()) + 1
    # only matches within NEAR_MARGIN of their keypoint's nearest can vote: the rest left out before
    # sorting (a tenth of them, in the same order: the same nearest and the same ranks)
    nearest = np.full(span, RADIUS + 1, np.int64)
    np.minimum.at(nearest, probe_ids, distance)
    near = distance <= nearest[probe_ids] + NEAR_MARGIN
    probe_ids, rows, owners, distance = probe_ids[near], rows[near], owners[near], distance[near]
    # sorted on one int64 key (a lexsort of the two took 40 % longer); distances are at most RADIUS < 64
    key = ((owners * span + probe_ids) << 6) | distance
    order = np.argsort(key, kind="stable")  # per keypoint and picture, the nearest first
    pairs = key[order] >> 6
    first = order[np.r_[True, pairs[1:] != pairs[:-1]]]
    probe_of, rows, distance = probe_ids[first], rows[first], distance[first]
    order = np.argsort((probe_of << 6) | distance, kind="stable")  # per keypoint, its pictures nearest first
    probe_of, rows, distance = probe_of[order], rows[order], distance[order]
    starts = np.r_[0, np.flatnonzero(probe_of[1:] != probe_of[:-1]) + 1]
    start_of = np.repeat(starts, np.diff(np.r_[starts, len(probe_of)]))
    rank = np.arange(len(probe_of)) - start_of
    voting = (rank < SHARED_BY) & (distance <= distance[start_of] + NEAR_MARGIN)
    return probe_of[voting], rows[voting]


def _distances(words: np.ndarray) -> np.ndarray:
    """Bits set in each row of an (n, 4) uint64 array, as uint16: the four counts summed in pairs
    (a row sum over an axis of 4 took 6x as long)."""
    counts = np.bitwise_count(words)
    low = counts[:, 0] + counts[:, 1]  # at most 128: no overflow in uint8
    high = counts[:, 2] + counts[:, 3]
    return low.astype(np.uint16) + high


def _matching(sorted_keys: np.ndarray, sorted_rows: np.ndarray, probe_keys: np.ndarray,
              crowded: int, starts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(probe, row) for every stored row whose key equals a probe's, crowded buckets left out;
    ``starts``: where each key's bucket starts, if known (else found by binary search)."""
    if starts is not None:
        low, high = starts[probe_keys].astype(np.int64), starts[probe_keys + 1].astype(np.int64)
    else:  # sorted needles: a binary search walks memory in order (twice as fast)
        order = np.argsort(probe_keys)
        low, high = np.empty(len(probe_keys), np.int64), np.empty(len(probe_keys), np.int64)
        low[order] = np.searchsorted(sorted_keys, probe_keys[order], side="left")
        high[order] = np.searchsorted(sorted_keys, probe_keys[order], side="right")
    lengths = np.where(high - low > crowded, 0, high - low)
    ends = np.cumsum(lengths)
    probe_ids = np.repeat(np.arange(len(probe_keys)), lengths)
    # the i-th row met is at low[probe] + (i - where the probe's rows begin among those met)
    positions = np.arange(ends[-1] if len(ends) else 0) + np.repeat(low - (ends - lengths), lengths)
    return probe_ids, np.take(sorted_rows, positions)


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    bigger = np.zeros((size,) + array.shape[1:], array.dtype)
    bigger[:len(array)] = array
    return bigger
