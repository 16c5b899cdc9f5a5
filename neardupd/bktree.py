"""A BK-tree over 64-bit hashes under Hamming distance: the candidate index.

Each node holds one hash and the set of item ids that have it. Removing an item empties its
id from the node; the node stays, as a signpost for its children, and is reused if the hash
comes back. Search is iterative, so deep trees cannot overflow the stack.

>>> tree = BKTree()
>>> tree.add(0b1011, 1); tree.add(0b1001, 2); tree.add(0b0110, 3)
>>> sorted(tree.search(0b1011, 1))
[(0, 11, 1), (1, 9, 2)]
>>> tree.remove(0b1001, 2)
>>> sorted(tree.search(0b1011, 1))
[(0, 11, 1)]
>>> len(tree)
2
"""

from __future__ import annotations

from collections.abc import Iterator


class _Node:
    __slots__ = ("value", "ids", "children")

    def __init__(self, value: int) -> None:
        self.value = value
        self.ids: set[int] = set()
        self.children: dict[int, _Node] = {}


class BKTree:
    """Hamming-distance neighbours of 64-bit integer hashes."""

    def __init__(self) -> None:
        self._root: _Node | None = None
        self._count = 0

    def __len__(self) -> int:
        """Number of (hash, id) entries."""
        return self._count

    def add(self, value: int, item: int) -> None:
        """Index ``item`` under hash ``value`` (adding the same pair twice is a no-op)."""
        node = self._root
        if node is None:
            node = self._root = _Node(value)
        while node.value != value:
            distance = (node.value ^ value).bit_count()
            child = node.children.get(distance)
            if child is None:
                child = node.children[distance] = _Node(value)
            node = child
        if item not in node.ids:
            node.ids.add(item)
            self._count += 1

    def remove(self, value: int, item: int) -> None:
        """Forget ``item`` under ``value``; unknown pairs are ignored."""
        node = self._root
        while node is not None and node.value != value:
            node = node.children.get((node.value ^ value).bit_count())
        if node is not None and item in node.ids:
            node.ids.discard(item)
            self._count -= 1

    def search(self, value: int, radius: int) -> Iterator[tuple[int, int, int]]:
        """Yield ``(distance, hash, item)`` for every item within ``radius`` of ``value``."""
        stack = [self._root] if self._root is not None else []
        while stack:
            node = stack.pop()
            distance = (node.value ^ value).bit_count()
            if distance <= radius:
                for item in node.ids:
                    yield distance, node.value, item
            low, high = distance - radius, distance + radius
            stack.extend(child for edge, child in node.children.items() if low <= edge <= high)

    def nearest(self, probes: list[int], radius: int, limit: int, keep_within: int = -1) -> list[tuple[int, int]]:
        """The ``limit`` closest items to any of ``probes`` within ``radius``, plus every item
        within ``keep_within`` however many: ``(distance, item)``, closest first.

        Each item appears once, at its smallest distance to any probe.

        >>> tree = BKTree()
        >>> for item, value in enumerate([0b0000, 0b0001, 0b0011, 0b0111, 0b1111]): tree.add(value, item)
        >>> tree.nearest([0b0000], radius=3, limit=2)
        [(0, 0), (1, 1)]
        >>> tree.nearest([0b0000], radius=3, limit=1, keep_within=2)
        [(0, 0), (1, 1), (2, 2)]
        """
        best: dict[int, int] = {}
        for probe in probes:
            for distance, _, item in self.search(probe, radius):
                if distance < best.get(item, radius + 1):
                    best[item] = distance
        ranked = sorted((d, item) for item, d in best.items())
        return [entry for rank, entry in enumerate(ranked) if rank < limit or entry[0] <= keep_within]
