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

The search is a
vectorised scan (numpy XOR + popcount), which at these radii (10-16 bits of 64) is over a
hundred times faster than a BK-tree, whose pruning stops working past a few bits.

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


class _Table:
    """Growable parallel arrays of (hash, item); removed rows are marked dead."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.hashes = np.zeros((0, width), dtype=np.uint64)
        self.items = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self.size = 0
        self.row_of: dict[int, int] = {}

    def add(self, item: int, values: Sequence[int]) -> None:
        if self.size == len(self.items):
            grow = max(1024, self.size)
            self.hashes = np.concatenate([self.hashes, np.zeros((grow, self.width), dtype=np.uint64)])
            self.items = np.concatenate([self.items, np.zeros(grow, dtype=np.int64)])
            self.alive = np.concatenate([self.alive, np.zeros(grow, dtype=bool)])
        row = self.size
        self.hashes[row, :len(values)] = np.array(values, dtype=np.uint64)
        self.items[row], self.alive[row] = item, len(values) == self.width
        self.row_of[item] = row
        self.size += 1

    def remove(self, item: int) -> None:
        row = self.row_of.pop(item, None)
        if row is not None:
            self.alive[row] = False

    def rename(self, item: int, new: int) -> None:
        row = self.row_of.pop(item, None)
        if row is not None:
            self.items[row] = new
            self.row_of[new] = row


class HammingIndex:
    """Content and variant hashes of many pictures, searchable by Hamming distance.

    ``overlap_pairs`` say which probes meet which stored variants in an ``overlap``: each is
    ``((start, stop), (first, last))``, probes ``start:stop`` of the new picture's variants followed
    by its ``contained`` views, against stored variants ``first:last`` (default: all variants
    against all)."""

    def __init__(self, variants: int,
                 overlap_pairs: Sequence[tuple[tuple[int, int], tuple[int, int]]] = ()) -> None:
        self.variants = variants
        self.overlap_pairs = overlap_pairs or (((0, variants), (0, variants)),)
        self._content = _Table(1)
        self._variant = _Table(variants)

    def __len__(self) -> int:
        return len(self._content.row_of)

    def __contains__(self, item: int) -> bool:
        return item in self._content.row_of

    def add(self, item: int, content: int, variants: Sequence[int]) -> None:
        """Index ``item``; pictures too small for variants pass an empty ``variants``."""
        self.remove(item)
        self._content.add(item, [content])
        if len(variants) == self.variants:
            self._variant.add(item, variants)

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
        best: dict[int, Neighbour] = {}
        form_probes = np.array(forms, dtype=np.uint64)
        variant_probes = np.array(variants, dtype=np.uint64)
        contained_probes = np.array(tuple(variants) + tuple(contained), dtype=np.uint64)
        for table, probes, relation in ((self._content, form_probes, SAME), (self._variant, form_probes, WITHIN),
                                        (self._content, contained_probes, CONTAINS)):
            if len(probes):
                self._collect(best, table, probes, relation, radius)
        if len(variant_probes):
            for (start, stop), columns in self.overlap_pairs:
                self._collect(best, self._variant, contained_probes[start:stop], OVERLAP,
                              radius if overlap_radius is None else overlap_radius, columns=columns,
                              first_probe=start)
        ranked = sorted(best.values(), key=lambda n: (n.distance, n.relation != SAME, n.item))
        return [n for rank, n in enumerate(ranked) if rank < limit or n.distance <= keep_within]

    @staticmethod
    def _collect(best: dict[int, Neighbour], table: _Table, probes: np.ndarray, relation: str,
                 radius: int, columns: tuple[int, int] | None = None, first_probe: int = 0,
                 cells: int = 32_768) -> None:
        """Every live item of ``table`` with a hash (of ``columns``, default all) within ``radius``
        of a probe, into ``best`` (probes numbered from ``first_probe``).

        Rows go through in chunks of about ``cells`` hashes, copied to one contiguous run so that
        each XOR, popcount and running minimum is one long, cache-resident loop per probe (1.7x
        faster than broadcasting probes against a chunk). Only the few rows found near are looked
        at again, to tell which probe and which stored hash met."""
        first, last = columns or (0, table.width)
        width = last - first
        chunk = max(1, cells // width)
        xor = np.empty(chunk * width, dtype=np.uint64)
        counts = np.empty(chunk * width, dtype=np.uint8)
        lowest = np.empty(chunk * width, dtype=np.uint8)
        for start in range(0, table.size, chunk):
            rows = min(chunk, table.size - start)
            size = rows * width
            stored = np.ascontiguousarray(table.hashes[start:start + rows, first:last]).reshape(-1)
            low = lowest[:size]
            low.fill(255)
            for probe in probes:
                np.bitwise_xor(stored, probe, out=xor[:size])
                np.bitwise_count(xor[:size], out=counts[:size])
                np.minimum(low, counts[:size], out=low)
            row_lowest = low.reshape(rows, width).min(axis=1)
            for row in np.nonzero((row_lowest <= radius) & table.alive[start:start + rows])[0].tolist():
                distances = np.bitwise_count(probes[:, None] ^ table.hashes[start + row, first:last][None, :])
                probe, variant = divmod(int(distances.argmin()), width)
                distance, item = int(distances[probe, variant]), int(table.items[start + row])
                known = best.get(item)
                if known is None or distance < known.distance:
                    best[item] = Neighbour(item, distance, relation, probe + first_probe,
                                           variant + first if relation in (WITHIN, OVERLAP) else -1)
