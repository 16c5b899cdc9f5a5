"""What a clean-up would do: each group of copies, the file to keep (and the rule that chose it),
the files that would go to the quarantine. Nothing is moved here (see ``neardupd act``).

Groups are the connected pairs of ``dupes``; each file's facts come from the index (size, pixels,
format, EXIF tags and capture date, thumb); only a file indexed before schema 7 has its EXIF header
read again (a regular file only).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from neardupd.config import Config
from neardupd.confirm import DIHEDRAL_NAMES
from neardupd.decode import read_metadata
from neardupd.original import BORDER_MARGIN, border_area, consensus, departure, one_grey, shows_whole
from neardupd.review.explanation import original_side, phrase
from neardupd.review.keep import Choice, Member, keeper
from neardupd.review.quarantine import same_file
from neardupd.signature import Picture
from neardupd.store import FileFacts, PairRow, Store

SAME = {"exact": "the same bytes: an exact copy", "pixel": "the same pixels, saved in another file"}
"""The words for the pairs a digest proves."""

@dataclass(frozen=True)
class GroupPlan:
    choice: Choice
    moved: tuple[Member, ...]
    pairs: tuple[PairRow, ...]

    @property
    def paths(self) -> list[bytes]:
        """Every file of the group, in path order."""
        return sorted({path for row in self.pairs for path in (row.a, row.b)})

    def words_for(self, path: bytes) -> str:
        """What was done to make a member, in words: from the file it is shown with (the kept one,
        if they are a pair)."""
        row = self.shown_with(path)
        if row.kind in SAME:
            return SAME[row.kind]
        return phrase(row.explained, "b" if row.a == path else "a")

    @property
    def kept_too(self) -> list[bytes]:
        """Files kept besides the chosen one: marked keep, protected, or hard links to it."""
        gone = {self.choice.keeper.path, *(member.path for member in self.moved)}
        return [path for path in self.paths if path not in gone]

    @property
    def freed(self) -> int:
        return sum(member.size for member in self.moved)

    def shown_with(self, path: bytes) -> PairRow:
        """The pair a member is shown in: with the kept file if they are one, else its closest."""
        rows = [row for row in self.pairs if path in (row.a, row.b)]
        keeper = self.choice.keeper.path
        return next((row for row in rows if keeper in (row.a, row.b)), None) or max(rows, key=lambda row: row.score)


def groups_of(rows: Sequence[PairRow]) -> list[list[PairRow]]:
    """Pairs joined into groups (connected components), in the order of their first pair."""
    parent: dict[bytes, bytes] = {}

    def find(x: bytes) -> bytes:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in rows:
        parent[find(row.a)] = find(row.b)
    groups: dict[bytes, list[PairRow]] = {}
    for row in rows:
        groups.setdefault(find(row.a), []).append(row)
    return list(groups.values())


def plan(store: Store, rows: Sequence[PairRow], config: Config) -> list[GroupPlan]:
    """A plan per group, the groups that free the most space first. The index is read as one state
    (the daemon may write meanwhile); a pair whose file has left the index since ``rows`` were read
    is left out."""
    with store.snapshot():
        decided = {d.digest: d.decision for d in store.decisions() if not d.other}
        facts = store.file_facts(sorted({path for row in rows for path in (row.a, row.b)}))
        pictures = {path: store.picture(found.id, with_features=False) for path, found in facts.items()}
    present = [row for row in rows if row.a in pictures and row.b in pictures]
    protected = [os.fsencode(os.path.abspath(os.path.expanduser(root))) for root in config.keep.protected]
    plans = [_group_plan(group, facts, pictures, config, decided, protected) for group in groups_of(present)]
    return sorted(plans, key=lambda p: (-p.freed, p.choice.keeper.path))


def _group_plan(pairs: list[PairRow], facts: Mapping[bytes, FileFacts], pictures: Mapping[bytes, Picture],
                config: Config, decided: Mapping[bytes, str], protected: Sequence[bytes]) -> GroupPlan:
    paths = sorted({path for row in pairs for path in (row.a, row.b)})
    evidence, apart = _originality(pairs, paths, pictures)
    members = []
    for path in paths:
        found = facts[path]
        known = found.metadata or read_metadata(path)  # indexed before schema 7: read it now
        members.append(Member(path, found.size, found.width, found.height, found.format, found.mtime_ns,
                              decided.get(found.file_digest), any(_under(path, root) for root in protected),
                              evidence[path], apart[path], known.tags, known.captured))
    choice = keeper(members, config.keep.order)
    moved = tuple(m for m in members if m.path != choice.keeper.path and m.decision != "keep" and not m.protected
                  and not same_file(m.path, choice.keeper.path))  # a hard link to the kept file frees nothing
    return GroupPlan(choice, moved, tuple(pairs))


def _originality(pairs: Sequence[PairRow], paths: Sequence[bytes],
                 pictures: Mapping[bytes, Picture]) -> tuple[Counter, dict[bytes, float]]:
    """Per file: the pairs naming it the original where the pixels show it, minus those naming it
    the copy; and its departure from the rest of the group (:func:`neardupd.original.departure`):
    the sum over its pairs, the group's farthest pair's for each file it is not paired with (too
    changed to be matched), and its distance from the group's median picture
    (:func:`neardupd.original.consensus`) for each other file. Exact and same-pixel copies count as
    one picture (two of one sticker copy must not outvote its original).

    benchmarks/keeper.py, kept originals: bench-dev 0.939, augly_unseen 0.903. Measured when these
    were 0.935 and 0.901: without the median 0.922 and 0.894; counting the mean departure in place of
    each pair's 0.918 and 0.877; a pair's shortest path through the group in place of the farthest pair
    for files not paired +1 and -2; a near tie (0.01-0.1) left to the later rules -5 to -23 and 0 to -7."""
    same = _same_pictures(pairs, paths)
    evidence: Counter = Counter()
    apart: dict[bytes, list[float]] = {picture: [] for picture in set(same.values())}
    forms: dict[tuple[bytes, bytes], int] = {}
    seen: set[tuple[bytes, bytes]] = set()
    for row in pairs:
        a, b = same[row.a], same[row.b]
        if a == b or (min(a, b), max(a, b)) in seen:
            continue
        seen.add((min(a, b), max(a, b)))
        details = row.explained
        if _shown(details) or one_grey(pictures[row.a], pictures[row.b]):
            original, copy = (a, b) if original_side(details) == "a" else (b, a)
            evidence[original] += 1
            evidence[copy] -= 1
        distance = departure(pictures[row.a], pictures[row.b], details, row.score)
        apart[a].append(distance)
        apart[b].append(distance)
        if shows_whole(details) and row.transform in DIHEDRAL_NAMES:
            forms[(a, b)] = DIHEDRAL_NAMES.index(row.transform)
    others = len(apart) - 1
    unlinked = max((distance for found in apart.values() for distance in found), default=0.0)
    median = consensus({picture: pictures[picture].thumb for picture in apart}, forms)
    farthest = max((value for value in median.values() if value is not None), default=0.0)
    away = {picture: sum(d) + unlinked * (others - len(d))
            + others * (farthest if median[picture] is None else median[picture]) for picture, d in apart.items()}
    return Counter({path: evidence[same[path]] for path in paths}), {path: away[same[path]] for path in paths}


def _same_pictures(pairs: Sequence[PairRow], paths: Sequence[bytes]) -> dict[bytes, bytes]:
    """Each file's representative among its exact and same-pixel copies (the first path of them)."""
    same = {path: path for path in paths}
    for group in groups_of([row for row in pairs if row.kind in SAME]):
        members = sorted({path for row in group for path in (row.a, row.b)})
        same.update(dict.fromkeys(members, members[0]))
    return same


def _shown(details: dict) -> bool:
    """Whether the pixels show which is the copy (not only which file is larger in bytes)."""
    sizes = details.get("size_a"), details.get("size_b")
    pixels = [size[0] * size[1] for size in sizes] if all(sizes) else [0, 0]
    return bool(abs(border_area(details.get("borders_a")) - border_area(details.get("borders_b"))) >= BORDER_MARGIN
                or details.get("contained_in") or details.get("crop") or details.get("crop_of_b")
                or abs(details.get("rotation", 0) or 0) >= 1
                or abs(pixels[0] - pixels[1]) > 0.02 * max(pixels))


def _under(path: bytes, root: bytes) -> bool:
    return path == root or path.startswith(root.rstrip(b"/") + b"/")

