"""The candidate index: Hamming-distance neighbours over many 64-bit hashes per picture.

Each picture contributes one *content* hash and several *variant* hashes (sub-windows, rotated
views). A new picture is a candidate copy of a stored one when

* its content hash, in any of the 8 rotations/flips, is near the stored content hash (same
  framing), or near one of the stored variants (the new picture is a crop or a rotated view
  of the stored one), or
* one of its variants is near the stored content hash (the stored picture is a crop or a
  rotated view of the new one), or
* one of its variants is near one of the stored variants (both are crops of a common
  picture, or one is a turned crop of the other): ``overlap``.

The search is exact. Small indexes are scanned (numpy XOR + popcount; at these radii, 10-16 bits of
64, over a hundred times faster than a BK-tree, whose pruning stops working past a few bits); from
:data:`~neardupd.hash_tables.MULTI_INDEX_FROM` pictures on, the tables are searched by multi-index
hashing in steps of growing radius (:mod:`neardupd.hash_tables`), and the search stops as soon as the
nearest ``limit`` pictures and all within ``keep_within`` are known for certain: the same answer as
searching the whole radius, without looking at the far hashes when near ones exist.

>>> index = HammingIndex(variants=2)
>>> index.add(1, content=0b1111, variants=(0b0000_1111_0000, 0b1010))
>>> index.add(2, content=0b0110_0000, variants=(0b1, 0b11))
>>> [(c.item, c.distance, c.relation) for c in index.nearest([0b1111], (0b0110_0001, 0b0), radius=2, limit=5)]
[(1, 0, 'same'), (2, 1, 'contains')]
>>> index.remove(1)
>>> [(c.item, c.relation) for c in index.nearest([0b1111], (), radius=2, limit=5)]
[(2, 'within')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neardupd.hash_tables import MULTI_INDEX_FROM, SCAN_NS, Asked, HashTable, Hits, reach, steps_for

SAME, WITHIN, CONTAINS, OVERLAP = "same", "within", "contains", "overlap"


@dataclass(frozen=True)
class Neighbour:
    item: int
    distance: int
    relation: str
    """``same``: content ~ content; ``within``: the new picture ~ a stored variant (new is a crop or
    rotated view of the stored one); ``contains``: a new variant ~ the stored content."""
    form: int
    """Which of the new picture's probes matched: the dihedral form for same/within, else the variant."""
    variant: int
    """Which stored variant matched (``within`` only), else -1."""


class HammingIndex:
    """Content and variant hashes of many pictures, searchable by Hamming distance.

    ``overlap_pairs`` say which probes meet which stored variants in an ``overlap``: each is
    ``((start, stop), (first, last))``, probes ``start:stop`` of the new picture's variants followed
    by its ``contained`` views, against stored variants ``first:last`` (default: all variants
    against all). Stored variants below ``first_variant`` are not indexed (nor searched): a large
    library's windows (:meth:`index_from`)."""

    def __init__(self, variants: int,
                 overlap_pairs: Sequence[tuple[tuple[int, int], tuple[int, int]]] = (), *, first_variant: int = 0,
                 multi_index_from: int = MULTI_INDEX_FROM, scan_ns: float = SCAN_NS) -> None:
        self.variants, self.first_variant = variants, first_variant
        self.overlap_pairs = overlap_pairs or (((0, variants), (0, variants)),)
        self._content = HashTable(1, multi_index_from=multi_index_from, scan_ns=scan_ns)
        self._variant = HashTable(variants - first_variant, multi_index_from=multi_index_from, scan_ns=scan_ns)

    def index_from(self, variant: int) -> None:
        """Forget the stored variants below ``variant`` and index none of them from now on (a no-op if
        they are not indexed already): the search no longer meets them, and memory shrinks."""
        if variant > self.first_variant:
            self._variant = self._variant.narrowed(variant - self.first_variant)
            self.first_variant = variant

    def __len__(self) -> int:
        return len(self._content.row_of)

    def __contains__(self, item: int) -> bool:
        return item in self._content.row_of

    def catch_up(self) -> None:
        """List by substring what the search will look up (else its first search does: 25 s at a
        million pictures)."""
        for table in (self._content, self._variant):
            table.catch_up()

    def add(self, item: int, content: int, variants: Sequence[int]) -> None:
        """Index ``item``; pictures too small for variants pass an empty ``variants``."""
        complete = len(variants) == self.variants
        indexed = variants[self.first_variant:] if complete else [0] * (self.variants - self.first_variant)
        self.add_many(np.array([item], dtype=np.int64), np.array([content], dtype=np.uint64),
                      np.array([indexed], dtype=np.uint64), np.array([complete]))

    def add_many(self, items: np.ndarray, contents: np.ndarray, variants: np.ndarray, complete: np.ndarray) -> None:
        """Index many pictures at once, as ``add`` one by one: ``variants`` one row per picture of its
        variants from ``first_variant`` on (what is indexed), of which only those ``complete`` are
        indexed (the others' pictures were too small for them; none at all: no column)."""
        self._content.add_rows(items, contents[:, None])
        for item in items[~complete].tolist():
            self._variant.remove(item)
        if variants.shape[1]:
            self._variant.add_rows(items[complete], variants[complete])

    def remove(self, item: int) -> None:
        self._content.remove(item)
        self._variant.remove(item)

    def rename(self, item: int, new: int) -> None:
        """Index ``item``'s hashes as ``new`` from now on (a picture held under a provisional key, stored)."""
        self._content.rename(item, new)
        self._variant.rename(item, new)

    def nearest(self, forms: Sequence[int], variants: Sequence[int], *, radius: int, limit: int,
                keep_within: int = -1, contained: Sequence[int] = (),
                overlap_radius: int | None = None) -> list[Neighbour]:
        """The ``limit`` nearest items within ``radius`` (plus all within ``keep_within``), nearest first.

        ``forms`` are the new picture's content hash in its dihedral forms; ``variants`` its variant
        hashes; ``contained`` more views of it that are only compared with stored contents (their
        ``form`` in a CONTAINS neighbour counts on from ``len(variants)``); ``overlap_radius``, when
        given, is the radius for variant-to-variant pairs (there are many more of them, so chance
        near-hits are many more too).
        """
        form_probes = np.array(forms, dtype=np.uint64)
        contained_probes = np.array(tuple(variants) + tuple(contained), dtype=np.uint64)
        base = self.first_variant
        searches = [_Search(self._content, form_probes, SAME, radius),
                    _Search(self._variant, form_probes, WITHIN, radius, first_variant=base),
                    _Search(self._content, contained_probes, CONTAINS, radius)]
        if len(variants):
            searches += [_Search(self._variant, contained_probes[start:stop], OVERLAP,
                                 radius if overlap_radius is None else overlap_radius,
                                 (max(first, base) - base, last - base), start, base)
                         for (start, stop), (first, last) in self.overlap_pairs if last > base]
        searches = [search for search in searches if len(search.probes)]
        self.catch_up()
        nearest: dict[int, tuple[tuple[int, int, int, int], Neighbour]] = {}
        for rank, search in enumerate(searches):  # small tables whole, big ones' rows added since their listing
            _fold(nearest, rank, search, search.scanned(start_row=search.table.listed if search.steps else 0))
        looking = {rank: search for rank, search in enumerate(searches) if search.steps}
        for step in range(max((search.steps for search in searches), default=0)):
            by_table: dict[int, list[int]] = {}
            for rank, search in list(looking.items()):
                if step >= search.steps:
                    del looking[rank]
                elif search.table.lookup_cost(len(search.probes), step) > search.scan_cost:
                    _fold(nearest, rank, search, search.scanned(start_row=0))
                    del looking[rank]  # every row scanned: nothing further to look up
                else:
                    by_table.setdefault(id(search.table), []).append(rank)
            for ranks in by_table.values():  # one pass of lookups a table
                table = searches[ranks[0]].table
                hits = table.looked_up_together([searches[rank].asked for rank in ranks], step)
                for rank, found in zip(ranks, hits, strict=True):
                    _fold(nearest, rank, searches[rank], found)
            if not looking:
                break
            known = reach(step)  # every picture this near has been found, at its least distance
            certain = [neighbour for _, neighbour in nearest.values() if neighbour.distance <= known]
            if known >= keep_within and len(certain) >= limit:
                return _ranked(certain, limit, keep_within)
        return _ranked([neighbour for _, neighbour in nearest.values()], limit, keep_within)


MAX_STEPS = 6
"""Lookups go up to flips of 5 bits a substring (every hash within 17 bits); a larger radius scans."""


@dataclass(frozen=True)
class _Search:
    """One relation's search: probes against a table's hashes (of ``columns``) within ``radius``."""

    table: HashTable
    probes: np.ndarray
    relation: str
    radius: int
    columns: tuple[int, int] | None = None
    first_probe: int = 0
    first_variant: int = 0
    """The stored variant the table's column 0 holds."""

    @property
    def steps(self) -> int:
        """Steps of lookups this search takes (0: the table is scanned whole)."""
        return steps_for(self.radius) if self.table.indexed and steps_for(self.radius) <= MAX_STEPS else 0

    @property
    def scan_cost(self) -> float:
        return self.table.scan_cost(len(self.probes), self.columns)

    @property
    def asked(self) -> Asked:
        return Asked(self.probes, self.radius, self.columns)

    def scanned(self, start_row: int) -> Hits:
        return self.table.scanned(self.probes, self.radius, self.columns, start_row=start_row)


def _fold(nearest: dict[int, tuple[tuple[int, int, int, int], Neighbour]], rank: int, search: _Search,
          hits: Hits) -> None:
    """Each item's nearest hit so far, with ``hits`` of the ``rank``-th search taken in: the least
    distance, then the first search (SAME, WITHIN, CONTAINS, the overlaps in order), then the lowest
    probe, then the lowest stored hash."""
    first = (search.columns[0] if search.columns else 0) + search.first_variant
    for row, probe, column, distance in zip(*(values.tolist() for values in hits), strict=True):
        item = int(search.table.items[row])
        key = (distance, rank, probe, column)
        known = nearest.get(item)
        if known is None or key < known[0]:
            variant = column + first if search.relation in (WITHIN, OVERLAP) else -1
            nearest[item] = key, Neighbour(item, distance, search.relation, probe + search.first_probe, variant)


def _ranked(neighbours: list[Neighbour], limit: int, keep_within: int) -> list[Neighbour]:
    """The ``limit`` nearest, plus all within ``keep_within``, nearest first (``same`` first of equals)."""
    ranked = sorted(neighbours, key=lambda n: (n.distance, n.relation != SAME, n.item))
    return [n for rank, n in enumerate(ranked) if rank < limit or n.distance <= keep_within]
