"""Finding one picture's copies among the indexed ones: the two candidate indexes and confirmation.

:class:`Matcher` holds the neighbour index of pHashes (windows, turned views) and the keypoint
index of local features, both built from the store at start. It reads the store (digests, stored
pictures) but never writes: :class:`~neardupd.indexer.Indexer` tells it what a committed
transaction added or removed.

Matching is two steps, so that a scan can confirm in its decoder processes while this process
goes on searching: :meth:`Matcher.candidates` (the searches, here) and the judgement of each
candidate (:func:`~neardupd.rules.judge_all`, pure: anywhere). A picture whose judgements are
still out is *held* in the indexes under a provisional key (:meth:`Matcher.hold`), so the next
picture's search meets it as the one-by-one order would, until it is stored (:meth:`Matcher.settle`).
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from neardupd import feature_blob
from neardupd.analyse import Analysed
from neardupd.config import Config, MatchSettings
from neardupd.descriptor_index import INDEXED, DescriptorIndex
from neardupd.errors import DamagedRowError, RowGoneError
from neardupd.features import Features
from neardupd.neighbours import HammingIndex, Neighbour
from neardupd.pairs import Scored
from neardupd.rules import (
    Candidate,
    indexed_variants_from,
    judge_all,
    matchable,
    new_neighbour_index,
    search_radii,
    variants_of,
)
from neardupd.signature import Picture
from neardupd.store import Store

log = logging.getLogger(__name__)

RECENT = 512
HELD_FROM = 1 << 40
"""Provisional keys of held pictures: above every file id and rising as file ids do, so the
searches' rankings (ties broken by key) come out as they will once the pictures are stored. Not
higher: the keypoint search packs a key and a keypoint's number into one int64."""


@dataclass(frozen=True)
class Proposal:
    """What the searches put forward for one new picture: the copies its digests already prove
    (``found``), and every candidate (``proposed``), of which those not found so are judged."""

    found: dict[int, Scored] = field(default_factory=dict)
    proposed: tuple[Candidate, ...] = ()

    @property
    def to_judge(self) -> tuple[Candidate, ...]:
        return tuple(candidate for candidate in self.proposed if candidate.other not in self.found)

    def renamed(self, key: int, file_id: int) -> Proposal:
        """The same with a held picture's key replaced by its file id."""
        found = {file_id if other == key else other: scored.of(file_id) if other == key else scored
                 for other, scored in self.found.items()}
        proposed = tuple(replace(candidate, other=file_id) if candidate.other == key else candidate
                         for candidate in self.proposed)
        return Proposal(found, proposed)


@dataclass(frozen=True)
class Indexes:
    """The two candidate indexes of every stored picture: pHashes and keypoints."""

    neighbours: HammingIndex
    keypoints: DescriptorIndex


def load_indexes(store: Store, settings: MatchSettings) -> Indexes:
    """Both candidate indexes, read from ``store`` in bulk (the daemon reads them on a thread of
    their own with a connection of their own, while it watches)."""
    first_variant = indexed_variants_from(settings, store.file_count())
    stored = store.index_hashes(first_variant)  # a large library's windows are not even read
    neighbours = new_neighbour_index(first_variant)
    neighbours.add_many(stored.file_ids, stored.contents, stored.variants, stored.complete)
    neighbours.catch_up()
    keypoints = DescriptorIndex()
    with keypoints.bulk():
        for file_ids, found in store.index_features(INDEXED):
            keypoints.add_many(file_ids, found.counts, found.descriptors, found.pixels)
    return Indexes(neighbours, keypoints)


class Matcher:
    """Candidate search and confirmation over the indexed pictures."""

    def __init__(self, store: Store, config: Config,
                 on_candidates: Callable[[bytes, list[int]], None] | None = None,
                 indexes: Indexes | None = None) -> None:
        """``on_candidates(new_path, stored_ids)`` is told which stored pictures the searches put
        forward for confirmation of a new picture (to measure candidate recall apart from
        confirmation; matching runs before the new picture has a row, so it is named by its path).
        ``indexes``: as :func:`load_indexes` reads them from ``store`` (default: read here)."""
        self.store = store
        self.config = config
        self.on_candidates = on_candidates
        indexes = indexes or load_indexes(store, config.match)
        self.neighbours, self.keypoints = indexes.neighbours, indexes.keypoints
        self._held: dict[int, tuple[Analysed, Picture]] = {}
        """Held pictures by provisional key: the analysed file, and its picture as stored (the
        keypoint positions rounded as the store keeps them), which later pictures are judged
        against, as they would be had it been stored at once."""
        self._recent: OrderedDict[int, Picture] = OrderedDict()
        """The pictures last judged against or stored, by file id (3 in 4 of the candidates
        judged on bench-dev are among the last RECENT: their rows not read again)."""
        self._held_keys = itertools.count(HELD_FROM)
        self._leaving: set[int] = set()
        """Rows replaced by a held picture: out of the searches, their deletion not yet committed."""

    def add(self, file_id: int, content: int, variants: Sequence[int], found: Features | None) -> None:
        self.neighbours.add(file_id, content, variants)
        self.neighbours.index_from(indexed_variants_from(self.config.match, len(self.neighbours)))  # at large_library
        if found is not None:
            self.keypoints.add(file_id, found.descriptors, found.pixels())

    def remove(self, file_id: int) -> None:
        self.neighbours.remove(file_id)
        self.keypoints.remove(file_id)
        self._leaving.discard(file_id)
        self._recent.pop(file_id, None)

    def hold(self, item: Analysed, replacing: int | None = None) -> int:
        """Put a picture not yet stored into the indexes; return its provisional key. The row it
        replaces (an earlier version of its file) leaves the searches now, as it would have left
        them had the picture been stored at once."""
        if replacing is not None:
            self.remove(replacing)
            self._leaving.add(replacing)
        key = next(self._held_keys)
        self._held[key] = (item, replace(item.picture, features=feature_blob.as_stored(item.picture.features)))
        sig = item.signature
        self.add(key, sig.content_hashes[0], variants_of(sig), item.picture.features)
        return key

    def settle(self, key: int, file_id: int) -> None:
        """A held picture is stored as ``file_id``."""
        _, picture = self._held.pop(key)
        self._remember(file_id, picture)
        self.neighbours.rename(key, file_id)
        self.keypoints.rename(key, file_id)

    def match(self, item: Analysed, replacing: int | None = None) -> list[Scored]:
        """Exact copies, same-pixel copies and confirmed near/modified copies of one picture in the
        index (reads only: call before the transaction that stores it), best first."""
        proposal = self.candidates(item, replacing)
        return self.confirmed(item, proposal, self.judge(item, proposal))

    def judge(self, item: Analysed, proposal: Proposal) -> list[Scored | None]:
        """The judgements of the proposal's candidates here (a scan makes them in its decoders)."""
        return judge_all(item.picture, item.mirrored, self.pictures(proposal.to_judge), self.config)

    def candidates(self, item: Analysed, replacing: int | None = None) -> Proposal:
        """The copies a picture's digests prove and the candidates its searches propose."""
        found: dict[int, Scored] = {}
        for other in self._with_digest("file_digest", item.file_digest):
            found[other] = Scored(1.0, "exact", other=other)
        for other in self._with_digest("pixel_digest", item.pixel_digest):
            found.setdefault(other, Scored(1.0, "pixel", other=other))
        found.pop(replacing, None)  # type: ignore[arg-type]
        if not matchable(item.picture, self.config):
            return Proposal(found)
        return Proposal(found, self._still_indexed(c for c in self._searched(item) if c.other != replacing))

    def _still_indexed(self, candidates: Iterable[Candidate]) -> tuple[Candidate, ...]:
        """The candidates whose files are held or still stored: a clean-up in another process
        (``neardupd act --apply``) removes rows these indexes still hold, which then leave them."""
        candidates = tuple(candidates)
        stored = [candidate.other for candidate in candidates if candidate.other not in self._held]
        gone = set(stored) - self.store.still_indexed(stored)
        for file_id in gone:
            self._gone(file_id)
        return tuple(candidate for candidate in candidates if candidate.other not in gone)

    def pictures(self, candidates: Sequence[Candidate]) -> list[tuple[Picture | None, Candidate]]:
        """Each candidate with its picture, to judge (None: its file left the index meanwhile)."""
        return [(self._held[candidate.other][1] if candidate.other in self._held
                 else self._stored(candidate.other), candidate) for candidate in candidates]

    def _stored(self, file_id: int) -> Picture | None:
        picture = self._recent.get(file_id)
        if picture is None:
            try:
                picture = self.store.picture(file_id)
            except DamagedRowError as err:
                log.warning("%s; its picture is dropped from the searches until it is indexed again", err)
                self.remove(file_id)
                return None
            except RowGoneError:  # removed by another process since the candidates were checked
                self._gone(file_id)
                return None
        self._remember(file_id, picture)
        return picture

    def _gone(self, file_id: int) -> None:
        log.info("file id %d left the index in another process; dropped from the searches", file_id)
        self.remove(file_id)

    def _remember(self, file_id: int, picture: Picture) -> None:
        self._recent[file_id] = picture
        self._recent.move_to_end(file_id)
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)

    def confirmed(self, item: Analysed, proposal: Proposal, judged: Sequence[Scored | None]) -> list[Scored]:
        """The copies: those the digests prove and the candidates judged (in ``to_judge``'s order)
        at least ``match.floor``, best first."""
        if self.on_candidates and proposal.proposed:
            self.on_candidates(item.path, [candidate.other for candidate in proposal.proposed])
        found = dict(proposal.found)
        for candidate, verdict in zip(proposal.to_judge, judged, strict=True):
            if verdict and verdict.score >= self.config.match.floor:
                found[candidate.other] = verdict.of(candidate.other)
        return sorted(found.values(), key=lambda scored: -scored.score)

    def _with_digest(self, column: str, digest: bytes) -> list[int]:
        held = [key for key, (item, _) in self._held.items() if getattr(item, column) == digest]
        return [row.id for row in self.store.files_with_digest(column, digest) if row.id not in self._leaving] + held

    def _searched(self, item: Analysed) -> list[Candidate]:
        """Hamming neighbours of the hashes first, nearest first, then pictures sharing keypoints."""
        settings, sig = self.config.match, item.signature
        radius, overlap_radius = search_radii(settings, len(self.neighbours))
        hints = self.neighbours.nearest(sig.content_hashes, variants_of(sig), radius=radius,
                                        limit=settings.candidates + 1, keep_within=settings.always_within,
                                        contained=sig.flipped_window_hashes, overlap_radius=overlap_radius)
        hinted: dict[int, Neighbour | None] = {hint.item: hint for hint in hints}
        plain, mirrored = item.features, item.mirrored
        wanted = settings.framed_feature_candidates if plain.regions > 1 else settings.feature_candidates
        met = self.keypoints.search(np.concatenate([plain.descriptors, mirrored.descriptors]),
                                    np.concatenate([plain.pixels(), mirrored.pixels()]), mirrored_from=len(plain),
                                    min_votes=settings.min_votes, limit=wanted)
        for found in met:
            hinted.setdefault(found.item, None)
        agreeing = {found.item: found.agreeing for found in met}
        return [Candidate(other, hint, agreeing.get(other)) for other, hint in hinted.items()]
