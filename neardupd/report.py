"""Text and JSON shapes of what the CLI prints (no I/O beyond the progress bar)."""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import click

from neardupd import scanner
from neardupd.indexer import Indexer, ScanSummary
from neardupd.pairs import Scored
from neardupd.review.explanation import original_side, phrase
from neardupd.review.plan import groups_of
from neardupd.store import PairRow, display_path, path_fields

LOADING_SAID_FROM = 20_000
"""Pictures from which loading the index takes long enough to say so (about 2 s per 10,000:
benchmarks/scale.py)."""


def loading_line(pictures: int) -> str | None:
    """What to say on a terminal before the index of ``pictures`` is loaded, if it takes a while."""
    if pictures < LOADING_SAID_FROM:
        return None
    return f"loading the index of {pictures:,} pictures (about {pictures // 5_000:,} s)..."


def scan_with_progress(indexer: Indexer, paths: Sequence[str], *, show: bool) -> ScanSummary:
    """Run a scan (see :func:`neardupd.scanner.scan`), with a progress bar on stderr when ``show``."""
    if not show:
        return scanner.scan(indexer, paths)
    with contextlib.ExitStack() as stack:
        steps: list[Callable[[bytes], None]] = []

        def found(total: int) -> None:
            steps.append(stack.enter_context(progress_bar(total, "indexing")))

        return scanner.scan(indexer, paths, progress=lambda path: steps[0](path), paths_found=found)


@contextlib.contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[bytes], None]]:
    """A progress bar on stderr with the count, the time left and the file's name (its start kept);
    yields the function to call once per file done."""
    bar = click.progressbar(length=total, label=label, file=click.get_text_stream("stderr"), show_pos=True,
                            show_eta=True, item_show_func=_shown_name)
    with bar:
        yield lambda path: bar.update(1, os.fsdecode(os.path.basename(path)))


def _shown_name(name: str | None) -> str:
    if not name:
        return ""
    return name if len(name) <= 40 else name[:37] + "..."


def scan_summary(summary: ScanSummary, counts: Mapping[str, int], database: Path) -> str:
    done = ", ".join(f"{n} {name}" for name, n in sorted(summary.counts.items())) or "nothing to do"
    held = (f"; {summary.held} gone but held as missing (their folder looks unmounted or emptied, or too many "
            "went at once; see README, deletion guard)") if summary.held else ""
    return (f"{done}; {summary.removed} removed{held}; {summary.pairs:+d} copy pairs\n"
            f"index {database}: {counts['files']} images, {counts['errors']} unreadable, "
            f"{counts['pairs']} copy pairs")


def pair_json(row: PairRow) -> dict:
    """One pair as printed by ``dupes --json``: a, b, score, kind, transform, then the details."""
    return {**path_fields("a", row.a), **path_fields("b", row.b), "score": row.score,
            "kind": row.kind, "transform": row.transform, **json.loads(row.details)}


def groups_text(rows: Sequence[PairRow]) -> str:
    """Pairs joined into groups (connected components); each file once, with its best link
    to the group's likely original."""
    groups = groups_of(rows)
    if not groups:
        return "no copies found"
    return "\n\n".join(_group_text(number, members) for number, members in enumerate(groups, start=1))


def _group_text(number: int, members: list[PairRow]) -> str:
    """A group headed by its likely original (the file its pairs most often name so, then the most
    connected), each other file with what was done to the original to make it."""
    degree = Counter(path for row in members for path in (row.a, row.b))
    named = Counter(row.a if original_side(row.explained) == "a" else row.b for row in members)
    anchor = max(sorted(degree), key=lambda path: (named[path], degree[path]))
    lines = [f"group {number}: {len(degree)} files", f"  likely original {display_path(anchor)}"]
    for path in sorted(degree):
        if path == anchor:
            continue
        links = [r for r in members if path in (r.a, r.b)]
        direct = [r for r in links if anchor in (r.a, r.b)]
        row = max(direct or links, key=lambda r: r.score)
        other = row.b if row.a == path else row.a
        via = "" if other == anchor else f"from {display_path(other)}: "
        lines.append(f"  {row.score:.3f} {row.kind:<8} {display_path(path)}  "
                     f"({via}{phrase(row.explained, 'a' if row.a == other else 'b')})")
    return "\n".join(lines)


def pair_line(a: str, b: str, scored: Scored, threshold: float) -> str:
    """One pair in a line: the score, then "not a copy" under ``threshold``, else the kind and
    which picture was made from which, and how."""
    if scored.score < threshold and scored.kind != "similar":
        return f"{scored.score:.3f}  not a copy"
    if scored.kind == "similar":
        return f"{scored.score:.3f}  similar   another shot of the same scene, not a copy"
    original, copy = (a, b) if original_side(scored.details) == "a" else (b, a)
    return f"{scored.score:.3f}  {scored.kind:<8}  {copy} from {original}: {describe(scored.transform, scored.details)}"


def describe(transform: str, details: Mapping, original: str | None = None) -> str:
    """What was done to the original (``original``: "a" or "b"; default the likely original) to
    make the other picture, in words (see :mod:`neardupd.review.explanation`)."""
    return phrase({**details, "transform": transform}, original)


def matrix_text(paths: Sequence[str], scores: Mapping[tuple[int, int], float]) -> str:
    """An n x n table of scores, files numbered in the order given."""
    lines = [f"[{i}] {path}" for i, path in enumerate(paths)]
    lines.append("     " + "".join(f"[{j}]".rjust(7) for j in range(len(paths))))
    for i in range(len(paths)):
        cells = []
        for j in range(len(paths)):
            value = 1.0 if i == j else scores[(min(i, j), max(i, j))]
            cells.append(f"{value:7.3f}")
        lines.append(f"[{i}]".ljust(5) + "".join(cells))
    return "\n".join(lines)
