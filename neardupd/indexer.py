"""The index kept current: one path's plan, a file's signatures and matches written, a folder scanned.

:class:`Indexer` owns the neighbour index (built from the store at start and kept current with
the store's commits) and is what both ``neardupd scan`` and the daemon call. Writes happen inside
:meth:`Indexer.writing`, a transaction the caller opens; matching (template matching included)
runs before it, so the write lock is never held while pictures are compared.
"""

from __future__ import annotations

import enum
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TypeVar

from neardupd import guard
from neardupd.analyse import Analysed, Analyser, Read
from neardupd.config import Config
from neardupd.decode import Loaded, read_stream
from neardupd.errors import DecodeError
from neardupd.features import Features
from neardupd.files import Refusal, has_image_extension, look, may_be_image, walk_images
from neardupd.matcher import Indexes, Matcher
from neardupd.pairs import Scored
from neardupd.rules import variants_of
from neardupd.store import FileRow, Store

log = logging.getLogger(__name__)

_LOOKAHEAD = 2
"""Files decoded ahead of the one being stored during a scan."""
T = TypeVar("T")


class Outcome(enum.Enum):
    INDEXED = "indexed"
    UNCHANGED = "unchanged"
    MOVED = "moved"
    FAILED = "failed"
    REFUSED = "refused"
    """Never opened: not a regular file, or a symlink out of the roots (recorded in ``errors``)."""
    QUARANTINED = "quarantined"
    """Its decoder crashed or hung before, and it has not changed since."""
    SKIPPED = "skipped"
    """Not an image (no known extension, no image signature in its first bytes), or gone."""


@dataclass(frozen=True)
class Work:
    """A file the store does not hold in its current state: it must be decoded and signed."""

    path: bytes
    size: int
    mtime_ns: int
    known_id: int | None
    sniff: bool = False
    """No image extension: look at its first bytes before decoding (most such files are no image)."""
    check_move: bool = False
    """An indexed file of this size is gone: this may be it, moved; hash it before decoding."""
    digest: bytes | None = None
    """The file's SHA-256 when it was already computed."""


@dataclass
class ScanSummary:
    counts: dict[str, int] = field(default_factory=dict)
    removed: int = 0
    held: int = 0
    """Indexed files gone from disk whose removal the deletion guard holds."""
    pairs: int = 0

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.value] = self.counts.get(outcome.value, 0) + 1


@dataclass
class ScanRun:
    """One scan under way (see :meth:`Indexer.begin_scan`): the paths found, the summary so far,
    and whom to tell of each file done."""

    paths: list[bytes]
    pairs_before: int
    progress: Callable[[bytes], None] | None = None
    summary: ScanSummary = field(default_factory=ScanSummary)

    def done(self, path: bytes, outcome: Outcome) -> None:
        self.summary.add(outcome)
        if self.progress:
            self.progress(path)


class Indexer:
    """Indexes files into ``store`` and records their matches."""

    def __init__(self, store: Store, config: Config, reader: Callable[..., Loaded] = read_stream,
                 on_candidates: Callable[[bytes, list[int]], None] | None = None,
                 indexes: Indexes | None = None) -> None:
        """``on_candidates``, ``indexes``: see :class:`~neardupd.matcher.Matcher`."""
        self.store = store
        self.config = config
        self.analyser = Analyser(config, reader)
        self.roots: list[bytes] = []
        """Where files may be opened from (symlinks leading elsewhere are refused)."""
        self.matcher = Matcher(store, config, on_candidates, indexes)
        self._staged: list[tuple[int, tuple[int, ...] | None, int, Features | None, int | None]] | None = None

    def close(self) -> None:
        self.analyser.close()

    def __enter__(self) -> Indexer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reconfigure(self, config: Config) -> None:
        self.config = config
        self.analyser.config = config
        self.matcher.config = config

    # --- writing -------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """A store transaction; the candidate indexes follow its rows only once it commits."""
        self._staged = []
        try:
            with self.store.transaction():
                yield
            for file_id, variants, content, found, held in self._staged:
                if held is not None:
                    self.matcher.settle(held, file_id)
                elif variants is None:
                    self.matcher.remove(file_id)
                else:
                    self.matcher.add(file_id, content, variants, found)
        finally:
            self._staged = None

    def _stage(self, file_id: int, content: int = 0, variants: tuple[int, ...] | None = None,
               found: Features | None = None, held: int | None = None) -> None:
        if self._staged is None:
            raise RuntimeError("index writes belong inside Indexer.writing()")
        self._staged.append((file_id, variants, content, found, held))

    def add(self, work: Work, item: Analysed, matches: Iterable[Scored], held: int | None = None) -> int:
        """Store an analysed file and its matches (found by :meth:`match` before the transaction);
        ``held``: its provisional key in the indexes (:meth:`Matcher.hold`), which becomes its id."""
        if work.known_id is not None:
            self.forget(work.known_id)
        sig, picture = item.signature, item.picture
        file_id = self.store.add_file(work.path, work.size, work.mtime_ns, item.file_digest, item.pixel_digest,
                                      item.format, picture.width, picture.height, sig, picture.features, item.metadata)
        for found in matches:
            if found.other is not None and found.other != work.known_id:
                self.store.add_match(found.other, file_id, found)
        self._stage(file_id, sig.content_hashes[0], variants_of(sig), picture.features, held)
        return file_id

    def add_error(self, work: Work, kind: str, reason: str) -> None:
        """Record why a file cannot be indexed (its old row, if any, goes)."""
        if work.known_id is not None:
            self.forget(work.known_id)
        self.store.record_error(work.path, work.size, work.mtime_ns, kind, reason)

    def refuse(self, path: bytes, refused: Refusal) -> None:
        """Record a path that is never opened, unless it is recorded so already."""
        known = self.store.file_at(path)
        if known:
            self.forget(known.id)
        if self.store.error_at(path) != (refused.size, refused.mtime_ns, refused.kind):
            self.store.record_error(path, refused.size, refused.mtime_ns, refused.kind, refused.reason)

    def forget(self, file_id: int) -> None:
        """Delete a file's row (and its matches); it leaves the neighbour index on commit."""
        self.store.remove_file(file_id)
        self._stage(file_id)

    def adopt_moved(self, path: bytes, digest: bytes, size: int, mtime_ns: int) -> FileRow | None:
        """If a file with these bytes is indexed at a path that no longer exists, move its row here
        and return it (inside :meth:`writing`)."""
        for row in self.store.files_with_digest("file_digest", digest):
            if row.size == size and not os.path.lexists(row.path):
                self.store.move_file(row.id, path, mtime_ns)
                log.info("%s: moved from %s", os.fsdecode(path), os.fsdecode(row.path))
                return row
        return None

    def purge_missing(self, root: bytes, now: float, state: str | None = None) -> guard.Verdict:
        """Delete the missing rows below ``root`` that the deletion guard lets go and mark those whose
        file is back present (inside :meth:`writing`); ``state``: the root's health if just judged."""
        verdict = guard.missing_verdict(self.store, root, self.config.daemon, now, state)
        for file_id in verdict.back:
            self.store.mark_present(file_id)
        for file_id in verdict.delete:
            self.forget(file_id)
        return verdict

    # --- one path ----------------------------------------------------------------------------

    def plan(self, path: bytes) -> Outcome | Refusal | Work:
        """What one path needs, from ``stat`` and the store alone (the file is not opened): an
        outcome already (unchanged, failed or quarantined before), a :class:`Refusal` (never to be
        opened), or the :class:`Work` of reading it."""
        stat = look(path, self.roots, self.config.files.follow_symlinks)
        if isinstance(stat, Refusal):
            return stat
        current = (stat.st_size, stat.st_mtime_ns)
        known = self.store.file_at(path)
        if known and (known.size, known.mtime_ns) == current:
            if known.has_features:
                return Outcome.UNCHANGED
            return Work(path, stat.st_size, stat.st_mtime_ns, known.id, sniff=False, check_move=False)
        failed = self.store.error_at(path)
        if failed and failed[:2] == current:
            return Outcome.FAILED
        if self.store.quarantined_at(path) == current:
            return Outcome.QUARANTINED
        return Work(path, stat.st_size, stat.st_mtime_ns, known.id if known else None,
                    sniff=not known and not failed and not has_image_extension(path),
                    check_move=not known and self._vanished_of_size(stat.st_size))

    def index_file(self, path: bytes) -> Outcome:
        """Bring the index up to date for one path, here and now."""
        step = self.prepare(path)
        if not isinstance(step, Work):
            return step
        try:
            item = self.analyser.analyse(step.path, step.digest)
        except DecodeError as err:
            return self.failed(step, err)
        return self.store_analysed(step, item)

    def prepare(self, path: bytes) -> Outcome | Work:
        """:meth:`plan`, then what a scan does at once: record a refusal, sniff a file without an
        image extension, and hash a possible move (a moved file is not decoded again)."""
        step = self.plan(path)
        if isinstance(step, Refusal):
            with self.writing():
                self.refuse(path, step)
            return Outcome.REFUSED
        if not isinstance(step, Work):
            return step
        if step.sniff and not may_be_image(path):
            return Outcome.SKIPPED
        if step.check_move:
            try:
                digest = self.analyser.digest(path)
            except DecodeError as err:
                return self.failed(step, err)
            with self.writing():
                moved = self.adopt_moved(path, digest, step.size, step.mtime_ns)
            if moved:
                return Outcome.MOVED
            step = replace(step, digest=digest, check_move=False)
        return step

    def store_analysed(self, work: Work, item: Analysed) -> Outcome:
        matches = self.match(item, replacing=work.known_id)
        with self.writing():
            self.add(work, item, matches)
        return Outcome.INDEXED

    def failed(self, work: Work, err: DecodeError) -> Outcome:
        log.info("cannot index %s", err)
        with self.writing():
            self.add_error(work, err.kind, err.reason)
        return Outcome.FAILED

    def remove_path(self, path: bytes) -> bool:
        """Forget a file that is gone; True if it was indexed."""
        known = self.store.file_at(path)
        with self.writing():
            self.store.remove_error(path)
            if known:
                self.forget(known.id)
        return known is not None

    def matches_of(self, item: Analysed) -> list[Scored]:
        """What the index holds that matches a picture analysed (by ``neardupd query``), without adding it."""
        known = self.store.file_at(item.path)
        return self.match(item, replacing=known.id if known else None)

    # --- matching ----------------------------------------------------------------------------

    def match(self, item: Analysed, replacing: int | None = None) -> list[Scored]:
        """See :meth:`Matcher.match <neardupd.matcher.Matcher.match>`."""
        return self.matcher.match(item, replacing)

    def _vanished_of_size(self, size: int) -> bool:
        """Whether an indexed file of this size is gone from its path (this one may be it, moved)."""
        return any(not os.path.lexists(row.path) for row in self.store.files_of_size(size))

    # --- folders -------------------------------------------------------------------------------

    def scan(self, roots: Iterable[str | bytes | os.PathLike], progress: Callable[[bytes], None] | None = None,
             paths_found: Callable[[int], None] | None = None, now: float | None = None) -> ScanSummary:
        """Index every image below ``roots``, decoding here; files gone from there are forgotten as
        the deletion guard allows (an emptied or unmounted root, or too many gone at once, holds them).
        :func:`neardupd.scanner.scan` does the same with a decoder process per core.

        Files are decoded on a helper thread one step ahead of the store: while this thread signs,
        matches and writes one file, the next one is being read and decoded (Pillow releases the GIL)."""
        return self.scan_run(self.begin_scan(roots, progress, paths_found), now)

    def scan_run(self, run: ScanRun, now: float | None = None) -> ScanSummary:
        """:meth:`scan` of the paths :meth:`begin_scan` found, decoding here."""
        in_flight: deque[tuple[Work, Future[Read]]] = deque()

        def finish_oldest() -> None:
            work, reading = in_flight.popleft()
            run.done(work.path, self.quietly(work.path, lambda: self._finish(work, reading)))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="neardupd-read") as reader:
            for path in run.paths:
                step = self.quietly(path, lambda: self.prepare(path))  # noqa: B023 - called at once
                if isinstance(step, Outcome):
                    run.done(path, step)
                    continue
                in_flight.append((step, reader.submit(self.analyser.read, step.path, step.digest)))
                if len(in_flight) > _LOOKAHEAD:
                    finish_oldest()
            while in_flight:
                finish_oldest()
        return self.end_scan(run, now)

    def begin_scan(self, roots: Iterable[str | bytes | os.PathLike], progress: Callable[[bytes], None] | None = None,
                   paths_found: Callable[[int], None] | None = None) -> ScanRun:
        """Take ``roots`` as the roots files may be opened from and find every path below them, sorted
        (``paths_found`` is told how many)."""
        self.roots = [os.path.abspath(os.fsencode(root)) for root in roots]
        paths = [path for root in self.roots for path in walk_images(root)]
        if paths_found:
            paths_found(len(paths))
        return ScanRun(paths, self.store.counts()["pairs"], progress)

    def end_scan(self, run: ScanRun, now: float | None = None) -> ScanSummary:
        """After a scan's files: sweep the gone ones (see :meth:`_sweep`) and count the new pairs."""
        summary = run.summary
        summary.removed, summary.held = self._sweep(time.time() if now is None else now)
        summary.pairs = self.store.counts()["pairs"] - run.pairs_before
        return summary

    def _finish(self, work: Work, reading: Future[Read]) -> Outcome:
        try:
            item = self.analyser.sign(reading.result())
        except DecodeError as err:
            return self.failed(work, err)
        return self.store_analysed(work, item)

    def quietly(self, path: bytes, step: Callable[[], T]) -> T | Outcome:
        """Run one step for ``path``; a vanished file is forgotten, an unreadable one recorded."""
        try:
            return step()
        except FileNotFoundError:
            self.remove_path(path)
            return Outcome.SKIPPED
        except OSError as err:
            return self.unreadable(path, f"cannot read the file ({err.strerror or err})")

    def unreadable(self, path: bytes, reason: str) -> Outcome:
        """Record a file that cannot be read, with ``reason``; forgotten if it is gone."""
        try:
            stat = os.lstat(path)
        except FileNotFoundError:
            self.remove_path(path)
            return Outcome.SKIPPED
        except OSError:
            return Outcome.FAILED
        log.warning("%s: %s", os.fsdecode(path), reason)
        with self.writing():
            self.store.record_error(path, stat.st_size, stat.st_mtime_ns, "unreadable",
                                    f"{reason}; check its permissions")
        return Outcome.FAILED

    def _sweep(self, now: float) -> tuple[int, int]:
        """After a scan: mark the roots' indexed files that are gone as missing and delete those
        the deletion guard allows; forget stale errors. Returns (deleted, held)."""
        deleted = held = 0
        for root in self.roots:
            if not os.path.isdir(root) and os.path.lexists(root):
                continue  # a single file given as a root
            with self.writing():
                state = guard.judge_root(self.store, root, self.config.daemon, now)
                if state == guard.HEALTHY:
                    guard.mark_gone(self.store, root, (), now)
                else:
                    guard.hold_all(self.store, root, now)
                verdict = self.purge_missing(root, now, state)
                guard.forget_gone_paths(self.store, root)
            deleted += len(verdict.delete)
            held += verdict.held
        return deleted, held
