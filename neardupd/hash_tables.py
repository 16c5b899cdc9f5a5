"""Rows of 64-bit hashes and the exact search for those within a Hamming radius of probes.

A table holds one row of ``width`` hashes per picture. Up to :data:`MULTI_INDEX_FROM` rows it is
searched by a vectorised scan (numpy XOR + popcount); from there on by multi-index hashing
(Norouzi, Punjani & Fleet, "Fast Search in Hamming Space with Multi-Index Hashing", CVPR 2012):
each hash is cut into the three substrings of :data:`SUBSTRINGS`, and for each substring every
stored hash is listed under that substring's value (a counting sort: one offsets array, one array of
positions). Two hashes ``d`` bits apart differ in some substring by at most ``d // 3`` bits, so
looking a probe's substrings up with every flip of exactly ``w`` bits, for ``w`` = 0, 1, 2, ...,
finds after step ``w`` every stored hash within ``3w + 2`` bits (:func:`reach`; a hash may be found
by more than one substring). The search goes by
those steps, so a caller that needs only the nearest few stops early; each step's candidates are
verified on the whole hash, so the answer is exact.

Rows added since the last listing are scanned (at most :data:`RECENT_ROWS` of them) and listed in
one merge when there are more. Removed rows stay, marked dead.

>>> table = HashTable(width=2, multi_index_from=1)
>>> table.add_rows(np.array([7, 8]), np.array([[0b1011, 1 << 40], [0, 0]], dtype=np.uint64))
>>> table.catch_up()
>>> probes = np.array([0b1001], dtype=np.uint64)
>>> [hits] = table.looked_up_together([Asked(probes, radius=1)], step=0)
>>> sorted({(int(table.items[row]), int(d)) for row, d in zip(hits.rows, hits.distances)})
[(7, 1)]
>>> [(int(table.items[row]), int(d)) for row, d in zip(*table.scanned(probes, 2)[::3])]
[(7, 1), (8, 2)]
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

SUBSTRINGS = ((0, 22), (22, 21), (43, 21))
"""(shift, bits) of the three substrings a hash is cut into: 22 + 21 + 21 = 64."""

MULTI_INDEX_FROM = 50_000
"""Rows from which a table is listed by substring: below, a scan of every row is faster
(benchmarks/neighbour_scale.py, uniform random hashes: the scan 0.7x the time at 30,000 pictures,
4x faster at 100,000) and costs no memory."""

SCAN_NS, LOOKUP_NS, CANDIDATE_NS = 0.75, 25.0, 35.0
"""Nanoseconds a hash compared in a scan, a lookup and a candidate verified take (measured with
benchmarks/neighbour_scale.py on this project's 2-core machine): a search scans instead of taking a
step of lookups that would cost more."""

RECENT_ROWS = 1_024
"""Rows added since the last listing that are scanned rather than listed: a merge copies the
listing (about 0.1 s at a million pictures), a scan of this many rows costs about 2 ms."""


def reach(step: int) -> int:
    """The radius within which every stored hash has been found after the lookups of ``step``."""
    return len(SUBSTRINGS) * (step + 1) - 1


def steps_for(radius: int) -> int:
    """How many steps of lookups find every hash within ``radius`` bits."""
    return max(0, -(-(radius + 1) // len(SUBSTRINGS)))


def stable_order(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` of uint32 values, as two stable sorts of 16-bit halves
    (numpy sorts 16-bit integers by radix: 1.7x faster on 42 M keys than its sort of 32-bit ones)."""
    low = np.argsort((values & np.uint32(0xFFFF)).astype(np.uint16), kind="stable")
    return low[np.argsort((values[low] >> np.uint32(16)).astype(np.uint16), kind="stable")]


@functools.cache
def flips(bits: int, weight: int) -> np.ndarray:
    """Every ``bits``-bit value with exactly ``weight`` bits set, as int64 (for XOR with a substring)."""
    values = [sum(1 << bit for bit in chosen) for chosen in itertools.combinations(range(bits), weight)]
    return np.array(values, dtype=np.int64)


class Hits(NamedTuple):
    """Stored hashes near probes: per hit, its row, the probe and the column that met, the distance."""

    rows: np.ndarray
    probes: np.ndarray
    columns: np.ndarray
    distances: np.ndarray

    @classmethod
    def empty(cls) -> Hits:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, none.astype(np.uint8))

    @classmethod
    def joined(cls, parts: Sequence[Hits]) -> Hits:
        parts = [part for part in parts if len(part.rows)]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate(values) for values in zip(*parts, strict=True)))


class Asked(NamedTuple):
    """A set of probes looked up in a table: the hashes, the radius, the stored columns they meet
    (``None``: all)."""

    probes: np.ndarray
    radius: int
    columns: tuple[int, int] | None = None


class _Listing:
    """Where each stored hash's substring has each value: ``order[offsets[v]:offsets[v + 1]]`` are the
    flat positions (row * width + column) of the hashes whose substring is ``v``, ascending."""

    def __init__(self, shift: int, bits: int) -> None:
        self.shift, self.bits = shift, bits
        self.offsets = np.zeros((1 << bits) + 1, dtype=np.uint32)  # 16 MB for 22 bits; 32 as int64
        self.order = np.zeros(0, dtype=np.uint32)  # positions below 2**32: 100 million pictures of 42 hashes
        self.occupied = np.zeros(1 << bits, dtype=bool)
        """Whether any listed hash has each value (``take`` from 4 MB, 3.6x faster than from the offsets)."""

    def values(self, hashes: np.ndarray) -> np.ndarray:
        return ((hashes >> np.uint64(self.shift)) & np.uint64((1 << self.bits) - 1)).astype(np.int64)

    def merge(self, hashes: np.ndarray, first_position: int) -> None:
        """List more hashes, at flat positions from ``first_position`` on (after every listed one)."""
        values = self.values(hashes)
        ranked = stable_order(values.astype(np.uint32))
        # each goes at the end of its value's run: after the listed positions, which are all smaller
        positions = (ranked + first_position).astype(np.uint32)
        self.order = np.insert(self.order, self.offsets[values[ranked] + 1].astype(np.int64), positions)
        self.offsets[1:] += np.cumsum(np.bincount(values, minlength=1 << self.bits)).astype(np.uint32)
        self.occupied[values] = True

    def positions(self, probes: np.ndarray, weight: int) -> tuple[np.ndarray, np.ndarray]:
        """(probe index, flat position) of every listed hash whose substring differs from a probe's
        in exactly ``weight`` bits."""
        if weight > self.bits:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        masks = flips(self.bits, weight)
        wanted = (self.values(probes)[:, None] ^ masks[None, :]).ravel()
        if self.sparse:  # most values hold nothing: a 4 MB map keeps the gathers of the offsets to the few that do
            found = self.occupied.take(wanted).nonzero()[0]
            keys = wanted[found]
            starts = self.offsets.take(keys).astype(np.int64)
            lengths = self.offsets[1:].take(keys).astype(np.int64) - starts
        else:
            starts = self.offsets.take(wanted)
            lengths = self.offsets[1:].take(wanted) - starts
            found = (lengths > 0).nonzero()[0]
            starts, lengths = starts[found].astype(np.int64), lengths[found].astype(np.int64)
        probe_of = np.repeat(found // len(masks), lengths)
        ends = np.cumsum(lengths)
        runs = np.repeat(starts - (ends - lengths), lengths) + np.arange(ends[-1] if len(ends) else 0)
        return probe_of, self.order.take(runs).astype(np.int64)

    @property
    def sparse(self) -> bool:
        """Whether fewer hashes are listed than a quarter of the substring's values."""
        return len(self.order) < 1 << (self.bits - 2)


class RowMap:
    """Item -> row. Item numbers up to a few times the count (file ids) index an array, 4 B each;
    others (the provisional keys of held pictures) go in a dict (~100 B each, as every item did:
    about 200 B a picture of the two tables).

    >>> rows = RowMap()
    >>> rows.update(np.array([3, 1 << 40]), np.array([0, 1]))
    >>> rows.get(3), rows.get(1 << 40), rows.pop(3), rows.get(3), len(rows)
    (0, 1, 0, None, 1)
    >>> rows.pop(1 << 40), rows.get(1 << 40), len(rows), rows.pop(1 << 40)
    (1, None, 0, None)
    """

    def __init__(self) -> None:
        self._dense = np.zeros(0, dtype=np.int32)  # row, or -1
        self._sparse: dict[int, int] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, item: int) -> bool:
        return self.get(item) is not None

    @property
    def nbytes(self) -> int:
        return self._dense.nbytes + 100 * len(self._sparse)

    def get(self, item: int) -> int | None:
        if 0 <= item < len(self._dense) and self._dense[item] >= 0:
            return int(self._dense[item])
        return self._sparse.get(item)

    def pop(self, item: int) -> int | None:
        """The item's row, taken out (None: it had none)."""
        if 0 <= item < len(self._dense) and self._dense[item] >= 0:
            row, self._dense[item] = int(self._dense[item]), -1
        else:
            row = self._sparse.pop(item, None)
        self._count -= row is not None
        return row

    def update(self, items: np.ndarray, rows: np.ndarray) -> None:
        """Rows of items that have none."""
        self._count += len(items)
        dense = (items >= 0) & (items < 4 * self._count + (1 << 16))
        if dense.any():
            top = int(items[dense].max()) + 1
            if top > len(self._dense):
                grown = np.full(max(top, 2 * len(self._dense)), -1, dtype=np.int32)
                grown[:len(self._dense)] = self._dense
                self._dense = grown
            self._dense[items[dense]] = rows[dense]
        self._sparse.update(zip(items[~dense].tolist(), rows[~dense].tolist(), strict=True))


class HashTable:
    """Growable rows of ``width`` hashes, each row one item's; removed rows are marked dead."""

    def __init__(self, width: int, *, multi_index_from: int = MULTI_INDEX_FROM,
                 recent_rows: int = RECENT_ROWS, scan_ns: float = SCAN_NS) -> None:
        self.width = width
        self.hashes = np.zeros((0, width), dtype=np.uint64)
        self.items = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self.size = 0
        self.row_of = RowMap()
        self.multi_index_from, self.recent_rows, self.scan_ns = multi_index_from, recent_rows, scan_ns
        self.listed = 0
        """Rows [0, listed) are in the substring listings."""
        self._listings: list[_Listing] = []

    def add_rows(self, items: np.ndarray, values: np.ndarray) -> None:
        """Items' rows (``values``: one row of ``width`` hashes per item), each in place of any row it had."""
        if len(self.row_of):  # a load into an empty table has nothing to replace
            for item in items.tolist():
                self.remove(item)
        self._reserve(len(items))
        rows = slice(self.size, self.size + len(items))
        self.hashes[rows], self.items[rows], self.alive[rows] = values, items, True
        self.row_of.update(items, np.arange(rows.start, rows.stop))
        self.size = rows.stop

    def _reserve(self, count: int) -> None:
        if self.size + count <= len(self.items):
            return
        grow = max(1024, self.size, count)
        self.hashes = np.concatenate([self.hashes, np.zeros((grow, self.width), dtype=np.uint64)])
        self.items = np.concatenate([self.items, np.zeros(grow, dtype=np.int64)])
        self.alive = np.concatenate([self.alive, np.zeros(grow, dtype=bool)])

    def narrowed(self, first_column: int) -> HashTable:
        """A table of the live rows' columns from ``first_column`` on, in the same order."""
        table = HashTable(self.width - first_column, multi_index_from=self.multi_index_from,
                          recent_rows=self.recent_rows, scan_ns=self.scan_ns)
        live = np.flatnonzero(self.alive[:self.size])
        table.add_rows(self.items[live], self.hashes[live, first_column:])
        return table

    def remove(self, item: int) -> None:
        row = self.row_of.pop(item)
        if row is not None:
            self.alive[row] = False

    def rename(self, item: int, new: int) -> None:
        row = self.row_of.pop(item)
        if row is not None:
            self.items[row] = new
            self.row_of.update(np.array([new]), np.array([row]))

    @property
    def indexed(self) -> bool:
        """Whether the table is listed by substring (else searches scan every row)."""
        return self.size >= self.multi_index_from

    def catch_up(self) -> None:
        """List the rows added since the last listing, once there are more than ``recent_rows``
        (the first time: every row)."""
        if not self.indexed or self.listed and self.size - self.listed <= self.recent_rows:
            return
        if not self._listings:
            self._listings = [_Listing(shift, bits) for shift, bits in SUBSTRINGS]
        added = self.hashes[self.listed:self.size].reshape(-1)
        for listing in self._listings:
            listing.merge(added, self.listed * self.width)
        self.listed = self.size

    def scan_cost(self, probes: int, columns: tuple[int, int] | None = None) -> float:
        """Estimated nanoseconds of a scan of every row for ``probes`` probes."""
        first, last = columns or (0, self.width)
        return self.scan_ns * self.size * (last - first) * probes

    def lookup_cost(self, probes: int, step: int) -> float:
        """Estimated nanoseconds of the lookups of ``step`` for ``probes`` probes: one per flip and
        substring, and the listed hashes found there (as many as a uniform spread puts there)."""
        lookups = found = 0.0
        for _, bits in SUBSTRINGS:
            count = probes * len(flips(bits, step)) if step <= bits else 0
            lookups, found = lookups + count, found + count * self.listed * self.width / (1 << bits)
        return LOOKUP_NS * lookups + CANDIDATE_NS * found

    def looked_up_together(self, asked: Sequence[Asked], step: int) -> list[Hits]:
        """For each set of probes, the listed live hashes (of its columns) within its radius of a
        probe that the lookups of ``step`` find: those whose some substring differs from the probe's
        in exactly ``step`` bits (steps 0 to ``s`` find every listed hash within :func:`reach` (s)
        bits). All sets go in one pass of lookups per listing: a pass has a fixed cost of some twenty
        numpy calls (the index's five searches in two passes: 3.5 -> 2.6 ms at 100,000 pictures)."""
        probes = np.concatenate([one.probes for one in asked])
        counts = [len(one.probes) for one in asked]
        bounds = [(0, self.width) if one.columns is None else one.columns for one in asked]
        radius, first, last = (np.repeat(np.array(values, dtype=np.int64), counts)
                               for values in ([one.radius for one in asked], *zip(*bounds, strict=True)))
        starts = np.cumsum([0, *counts])
        flat = self.hashes.reshape(-1)
        parts: list[list[Hits]] = [[] for _ in asked]
        for listing in self._listings:
            probe_of, positions = listing.positions(probes, step)  # probe_of ascending
            distances = np.bitwise_count(flat.take(positions) ^ probes.take(probe_of))
            near = (distances <= radius.take(probe_of)).nonzero()[0]  # most are far: the rest looks at the few near
            probe_of, distances = probe_of[near], distances[near]
            rows, met = np.divmod(positions[near], self.width)
            keep = ((met >= first.take(probe_of)) & (met < last.take(probe_of)) & self.alive.take(rows)).nonzero()[0]
            probe_of, distances, rows, met = probe_of[keep], distances[keep], rows[keep], met[keep]
            cuts = np.searchsorted(probe_of, starts)
            for number, (start, stop) in enumerate(itertools.pairwise(cuts.tolist())):
                part = slice(start, stop)
                parts[number].append(Hits(rows[part], probe_of[part] - starts[number], met[part] - bounds[number][0],
                                          distances[part]))
        return [Hits.joined(found) for found in parts]

    def scanned(self, probes: np.ndarray, radius: int, columns: tuple[int, int] | None = None, *,
                start_row: int = 0, cells: int = 32_768) -> Hits:
        """Every live row from ``start_row`` with a hash (of ``columns``) within ``radius`` of a probe,
        scanned, with the nearest probe and column that met (the first of equals).

        Rows go through in chunks of about ``cells`` hashes, copied to one contiguous run so that
        each XOR, popcount and running minimum is one long, cache-resident loop per probe (1.7x
        faster than broadcasting probes against a chunk). Only the few rows found near are looked
        at again, to tell which probe and which stored hash met."""
        first, last = columns or (0, self.width)
        width = last - first
        chunk = max(1, cells // width)
        xor = np.empty(chunk * width, dtype=np.uint64)
        counts = np.empty(chunk * width, dtype=np.uint8)
        lowest = np.empty(chunk * width, dtype=np.uint8)
        near: list[np.ndarray] = []
        for start in range(start_row, self.size, chunk):
            rows = min(chunk, self.size - start)
            size = rows * width
            stored = np.ascontiguousarray(self.hashes[start:start + rows, first:last]).reshape(-1)
            low = lowest[:size]
            low.fill(255)
            for probe in probes:
                np.bitwise_xor(stored, probe, out=xor[:size])
                np.bitwise_count(xor[:size], out=counts[:size])
                np.minimum(low, counts[:size], out=low)
            row_lowest = low.reshape(rows, width).min(axis=1)
            near.append(start + np.nonzero((row_lowest <= radius) & self.alive[start:start + rows])[0])
        rows = np.concatenate(near) if near else np.zeros(0, dtype=np.int64)
        if not len(rows):
            return Hits.empty()
        distances = np.bitwise_count(probes[None, :, None] ^ self.hashes[rows, first:last][:, None, :])
        flat = distances.reshape(len(rows), -1)
        best = flat.argmin(axis=1)  # the first nearest: lowest probe, then lowest column
        probe, column = np.divmod(best, width)
        return Hits(rows.astype(np.int64), probe, column, flat[np.arange(len(rows)), best])

