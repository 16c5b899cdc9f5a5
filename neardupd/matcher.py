"""Finding one picture's copies among the indexed ones: the two candidate indexes and confirmation.

:class:`Matcher` holds the neighbour index of pHashes (windows, turned views) and the keypoint
index of local features, both built from the store at start. It reads the store (digests, stored
pictures) but never writes: :class:`~neardupd.indexer.Indexer` tells it what a committed
transaction added or removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from neardupd.analyse import Analysed
from neardupd.config import Config
from neardupd.descriptor_index import INDEXED, DescriptorIndex
from neardupd.features import Features
from neardupd.neighbours import Neighbour
from neardupd.pairs import Scored
from neardupd.rules import judge, matchable, new_neighbour_index, variants_of
from neardupd.store import Store


class Matcher:
    """Candidate search and confirmation over the indexed pictures."""

    def __init__(self, store: Store, config: Config,
                 on_candidates: Callable[[bytes, list[int]], None] | None = None) -> None:
        """``on_candidates(new_path, stored_ids)`` is told which stored pictures the searches put
        forward for confirmation of a new picture (to measure candidate recall apart from
        confirmation; matching runs before the new picture has a row, so it is named by its path)."""
        self.store = store
        self.config = config
        self.on_candidates = on_candidates
        self.neighbours = new_neighbour_index()
        for file_id, content, variants in store.index_hashes():
            self.neighbours.add(file_id, content, variants)
        self.keypoints = DescriptorIndex()
        for file_id, found in store.index_features(INDEXED):
            self.keypoints.add(file_id, found.descriptors, found.pixels())

    def add(self, file_id: int, content: int, variants: Sequence[int], found: Features | None) -> None:
        self.neighbours.add(file_id, content, variants)
        if found is not None:
            self.keypoints.add(file_id, found.descriptors, found.pixels())

    def remove(self, file_id: int) -> None:
        self.neighbours.remove(file_id)
        self.keypoints.remove(file_id)

    def match(self, item: Analysed, replacing: int | None = None) -> list[Scored]:
        """Exact copies, same-pixel copies and confirmed near/modified copies of one picture in the
        index (reads only: call before the transaction that stores it), best first."""
        found: dict[int, Scored] = {}
        for row in self.store.files_with_digest("file_digest", item.file_digest):
            found[row.id] = Scored(1.0, "exact", other=row.id)
        for row in self.store.files_with_digest("pixel_digest", item.pixel_digest):
            found.setdefault(row.id, Scored(1.0, "pixel", other=row.id))
        found.pop(replacing, None)  # type: ignore[arg-type]
        if matchable(item.picture, self.config):
            self._confirm_candidates(item, replacing, found)
        return sorted(found.values(), key=lambda scored: -scored.score)

    def _confirm_candidates(self, item: Analysed, replacing: int | None, found: dict[int, Scored]) -> None:
        settings, sig = self.config.match, item.signature
        hints = self.neighbours.nearest(sig.content_hashes, variants_of(sig), radius=settings.radius,
                                        limit=settings.candidates + 1, keep_within=settings.always_within,
                                        contained=sig.flipped_window_hashes, overlap_radius=settings.overlap_radius)
        hinted: dict[int, Neighbour | None] = {hint.item: hint for hint in hints}
        plain, mirrored = item.features, item.mirrored
        sharing = {other for other, _ in self.keypoints.search(
            np.concatenate([plain.descriptors, mirrored.descriptors]),
            np.concatenate([plain.pixels(), mirrored.pixels()]), mirrored_from=len(plain),
            min_votes=settings.min_votes, limit=settings.feature_candidates)}
        for other in sharing:
            hinted.setdefault(other, None)
        if self.on_candidates:
            self.on_candidates(item.path, [other for other in hinted if other != replacing])
        for other, hint in hinted.items():
            if other in found or other == replacing:
                continue
            judged = judge(self.store.picture(other), item.picture, self.config, hint, item.mirrored,
                           shares_keypoints=other in sharing)
            if judged and judged.score >= settings.floor:
                found[other] = judged.of(other)
