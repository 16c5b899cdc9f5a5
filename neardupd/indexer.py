"""One file end to end: stat -> skip/rename -> decode -> sign -> store -> match.

:class:`Indexer` owns the neighbour index (built from the store at start and kept current)
and is what both ``neardupd scan`` and the daemon call.
"""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import io
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TypeVar

from neardupd import confirm, signature
from neardupd.config import DEFAULT_EXCLUDE, Config
from neardupd.decode import Loaded, looks_like_image, normalise, read_stream
from neardupd.errors import DecodeError
from neardupd.neighbours import CONTAINS, OVERLAP, WITHIN, HammingIndex, Neighbour
from neardupd.signature import ROTATIONS, WINDOWS, Picture, Signature
from neardupd.store import Match, Store

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    b".jpg .jpeg .jpe .jfif .png .webp .gif .tif .tiff .bmp .dib .ppm .pgm .pbm .pnm .heic .heif .hif .avif".split())
EXCLUDED_NAMES = tuple(os.fsencode(pattern) for pattern in DEFAULT_EXCLUDE)
"""Temporary and system names never indexed (dot files cover .DS_Store and rsync's .name.XXXXXX)."""
_WHOLE_READ_LIMIT = 256 * 1024 * 1024
_LOOKAHEAD = 2
"""Files decoded ahead of the one being stored during a scan."""
T = TypeVar("T")


class Outcome(enum.Enum):
    INDEXED = "indexed"
    UNCHANGED = "unchanged"
    MOVED = "moved"
    FAILED = "failed"
    QUARANTINED = "quarantined"
    """Its decoder crashed or hung before, and it has not changed since."""
    SKIPPED = "skipped"
    """Not an image (no known extension, no image signature in its first bytes)."""


@dataclass(frozen=True)
class Candidate:
    """A scored pair between a new picture and a stored one."""

    file_id: int
    score: float
    kind: str
    transform: str
    details: dict


@dataclass(frozen=True)
class Analysed:
    """One file decoded and signed in memory."""

    path: bytes
    file_digest: bytes
    pixel_digest: bytes
    signature: Signature
    picture: Picture
    format: str = ""


@dataclass(frozen=True)
class Read:
    """One file read, loaded by Pillow and hashed: not yet normalised or signed."""

    path: bytes
    size: int
    digest: bytes
    loaded: Loaded


@dataclass(frozen=True)
class Work:
    """A file the store does not hold in its current state: it must be decoded and signed."""

    path: bytes
    size: int
    mtime_ns: int
    known_id: int | None
    digest: bytes | None = None
    """The file's SHA-256 when it was already computed (to look for a move)."""


VARIANTS = len(WINDOWS) + len(ROTATIONS)
OVERLAP_PAIRS = (((0, len(WINDOWS)), (0, len(WINDOWS))),
                 ((len(WINDOWS), VARIANTS), (len(WINDOWS), VARIANTS)))
"""Which probes of a new picture meet which stored variants in an overlap search: windows meet
windows, rotated views rotated views. Measured on bench-dev: window-rotation pairs were a quarter
of the search and leaving them out changed no figure; adding mirrored windows against windows
(for crops that were also mirrored) cost 30 % more time and lowered ref R@P99 (0.962 -> 0.957),
their chance near-hits crowding out true candidates."""


def variants_of(sig: Signature) -> tuple[int, ...]:
    return sig.window_hashes + sig.rotation_hashes


def judge(a: Picture, b: Picture, config: Config, hint: Neighbour | None = None) -> tuple[float, str, str, dict] | None:
    """Confirm and explain a pair of pictures, A stored and B new, guided by the neighbour
    search's ``hint``: (score, kind, transform, details), or None if either is too flat or small."""
    if not (_matchable(a, config) and _matchable(b, config)):
        return None
    variant_a, variant_b = _hinted_variants(hint)
    result = confirm.confirm_pictures(a, b, variant_a, variant_b)
    kind, details = confirm.explain(a, b, result)
    return result.score, kind, result.transform_name, details


def _hinted_variants(hint: Neighbour | None) -> tuple[int, int]:
    """Which variant of A (stored) and of B (new) the neighbour search matched (-1: the content)."""
    if hint is None:
        return -1, -1
    if hint.relation == WITHIN:
        return hint.variant, -1
    if hint.relation == CONTAINS:  # forms past the variants are flipped windows: same box, turned
        return -1, hint.form if hint.form < VARIANTS else (hint.form - VARIANTS) % len(WINDOWS)
    if hint.relation == OVERLAP:
        return hint.variant, hint.form
    return -1, -1


def compare(a: Analysed, b: Analysed, config: Config) -> tuple[float, str, str, dict]:
    """Score two analysed files: exact, pixel, or confirmed by template matching."""
    if a.file_digest == b.file_digest:
        return 1.0, "exact", "none", {}
    if a.pixel_digest == b.pixel_digest:
        return 1.0, "pixel", "none", {}
    pair = HammingIndex(VARIANTS, OVERLAP_PAIRS)
    pair.add(0, a.signature.content_hashes[0], variants_of(a.signature))
    hints = pair.nearest(b.signature.content_hashes, variants_of(b.signature), radius=64, limit=1,
                         contained=b.signature.flipped_window_hashes)
    judged = judge(a.picture, b.picture, config, hints[0] if hints else None)
    return judged if judged else (0.0, "none", "none", {"reason": "too flat or too small to compare"})


def _matchable(picture: Picture, config: Config) -> bool:
    settings = config.match
    return picture.contrast >= settings.min_contrast and min(picture.width, picture.height) >= settings.min_side


@dataclass
class ScanSummary:
    counts: dict[str, int] = field(default_factory=dict)
    removed: int = 0
    pairs: int = 0

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.value] = self.counts.get(outcome.value, 0) + 1


def is_excluded(name: bytes, patterns: Iterable[bytes] = EXCLUDED_NAMES) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def walk_images(root: bytes, patterns: Iterable[bytes] = EXCLUDED_NAMES) -> Iterator[bytes]:
    """Every file below ``root`` that may be an image, skipping excluded names; sorted, bytes paths."""
    patterns = tuple(patterns)
    if os.path.isfile(root):
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not is_excluded(d, patterns))
        for name in sorted(files):
            if not is_excluded(name, patterns):
                yield os.path.join(folder, name)


def _may_be_image(path: bytes) -> bool:
    if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as handle:
            return looks_like_image(handle.read(16))
    except OSError:
        return False


class Analyser:
    """Reads, decodes and signs files in memory: no store, no neighbour index.

    The work comes in two halves so a scan can overlap them: :meth:`read` (file bytes, Pillow's
    decode and the SHA-256, which run without the GIL) and :meth:`sign` (upright RGB, pixel
    digest, shrink and every signature)."""

    def __init__(self, config: Config, reader: Callable[..., Loaded] = read_stream) -> None:
        self.config = config
        self.reader = reader
        self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="neardupd-sha256")

    def analyse(self, path: bytes, size: int | None = None, digest: bytes | None = None) -> Analysed:
        """Decode and sign one file in memory (raises DecodeError or OSError). ``digest``, when
        given, is the file's SHA-256 already computed, and it is not hashed again."""
        return self.sign(self.read(path, size, digest))

    def read(self, path: bytes, size: int | None = None, digest: bytes | None = None) -> Read:
        """Read, load and hash one file (the SHA-256 on a helper thread while Pillow decodes)."""
        if size is None:
            size = os.stat(path).st_size
        data = self.read_bytes(path, size)
        if digest is not None:
            return Read(path, size, digest, self.load(path, data))
        hashing = self._hasher.submit(self.digest, path, data)
        try:
            loaded = self.load(path, data)
        finally:
            wait([hashing])
        return Read(path, size, hashing.result(), loaded)

    def sign(self, read: Read) -> Analysed:
        """Every signature of a file read by :meth:`read`."""
        decoded = normalise(read.loaded, self.config.decode.work_size)
        sig = signature.compute(decoded.pixels)
        picture = Picture.from_signature(sig, decoded.width, decoded.height, read.size)
        return Analysed(read.path, read.digest, decoded.pixel_digest, sig, picture, decoded.format)

    @staticmethod
    def read_bytes(path: bytes, size: int) -> bytes | None:
        """The file's bytes, or None when it is too large to hold (it is then streamed twice)."""
        if size > _WHOLE_READ_LIMIT:
            return None
        with open(path, "rb") as handle:
            return handle.read()

    @staticmethod
    def digest(path: bytes, data: bytes | None) -> bytes:
        """SHA-256 of the file's bytes."""
        if data is not None:
            return hashlib.sha256(data).digest()
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()

    def load(self, path: bytes, data: bytes | None) -> Loaded:
        settings = self.config.decode
        if data is None:
            with open(path, "rb") as handle:
                return self.reader(handle, path, work_size=settings.work_size, max_pixels=settings.max_pixels)
        return self.reader(io.BytesIO(data), path, work_size=settings.work_size, max_pixels=settings.max_pixels)


class Indexer:
    """Indexes files into ``store`` and records their matches."""

    def __init__(self, store: Store, config: Config, reader: Callable[..., Loaded] = read_stream,
                 on_candidates: Callable[[int | None, list[int]], None] | None = None) -> None:
        """``on_candidates(new_id, stored_ids)`` is told which stored pictures the neighbour search
        put forward for confirmation (to measure candidate recall apart from confirmation)."""
        self.store = store
        self.config = config
        self.on_candidates = on_candidates
        self.analyser = Analyser(config, reader)
        self.neighbours = HammingIndex(VARIANTS, OVERLAP_PAIRS)
        for file_id, content, variants in store.index_hashes():
            self.neighbours.add(file_id, content, variants)

    # --- one file ----------------------------------------------------------------------------

    def index_file(self, path: bytes) -> Outcome:
        """Bring the index up to date for one path (which must exist)."""
        step = self.plan(path)
        if isinstance(step, Outcome):
            return step
        return self.commit(step, lambda: self.analyser.analyse(step.path, step.size, step.digest))

    def plan(self, path: bytes) -> Outcome | Work:
        """What one path needs, from its stat and the store: an outcome already (unchanged,
        failed before, not an image, moved here) or the :class:`Work` of decoding it."""
        stat = os.stat(path)
        known = self.store.file_at(path)
        if known and known.size == stat.st_size and known.mtime_ns == stat.st_mtime_ns:
            return Outcome.UNCHANGED
        failed = self.store.error_at(path)
        if failed and failed[:2] == (stat.st_size, stat.st_mtime_ns):
            return Outcome.FAILED
        if self.store.quarantined_at(path) == (stat.st_size, stat.st_mtime_ns):
            return Outcome.QUARANTINED
        if not known and not failed and not _may_be_image(path):
            return Outcome.SKIPPED
        digest = None
        if not known and self._vanished_of_size(stat.st_size):
            digest = self.analyser.digest(path, None)  # streamed: the bytes are read again to decode
            if self._adopt_moved(path, digest, stat.st_size, stat.st_mtime_ns):
                return Outcome.MOVED
        return Work(path, stat.st_size, stat.st_mtime_ns, known.id if known else None, digest)

    def commit(self, work: Work, analyse: Callable[[], Analysed],
               also: Callable[[], None] | None = None) -> Outcome:
        """Store the result of ``analyse`` (run here, or already run elsewhere) for ``work``, with
        its matches, in one transaction; a decode error is recorded instead. ``also`` runs inside
        that transaction (the daemon marks the work done there)."""
        try:
            item = analyse()
        except DecodeError as err:
            log.info("cannot index %s", err)
            with self.store.transaction():
                if work.known_id is not None:
                    self.forget(work.known_id)
                self.store.record_error(work.path, work.size, work.mtime_ns, err.kind, err.reason)
                if also:
                    also()
            return Outcome.FAILED
        sig = item.signature
        with self.store.transaction():
            if also:
                also()
            if work.known_id is not None:
                self.forget(work.known_id)
            file_id = self.store.add_file(work.path, work.size, work.mtime_ns, item.file_digest, item.pixel_digest,
                                          item.format, item.picture.width, item.picture.height, sig)
            for found in self.find_matches(item.file_digest, item.pixel_digest, sig, item.picture, exclude=file_id):
                self.store.add_match(Match(found.file_id, file_id, found.score, found.kind,
                                           found.transform, found.details))
        self.neighbours.add(file_id, sig.content_hashes[0], variants_of(sig))
        return Outcome.INDEXED

    def remove_path(self, path: bytes) -> bool:
        """Forget a file that is gone; True if it was indexed."""
        known = self.store.file_at(path)
        with self.store.transaction():
            self.store.remove_error(path)
            if known:
                self.forget(known.id)
        return known is not None

    def query(self, path: bytes) -> list[Candidate]:
        """What the index holds that matches ``path``, without adding it."""
        item = self.analyser.analyse(path)
        known = self.store.file_at(path)
        return self.find_matches(item.file_digest, item.pixel_digest, item.signature, item.picture,
                                 exclude=known.id if known else None)

    # --- matching ----------------------------------------------------------------------------

    def find_matches(self, file_digest: bytes, pixel_digest: bytes, sig: Signature, picture: Picture,
                     exclude: int | None = None) -> list[Candidate]:
        """Exact copies, same-pixel copies and confirmed near/modified copies of one picture."""
        found: dict[int, Candidate] = {}
        for row in self.store.files_with_digest("file_digest", file_digest):
            found[row.id] = Candidate(row.id, 1.0, "exact", "none", {})
        for row in self.store.files_with_digest("pixel_digest", pixel_digest):
            found.setdefault(row.id, Candidate(row.id, 1.0, "pixel", "none", {}))
        found.pop(exclude, None)  # type: ignore[arg-type]
        if not _matchable(picture, self.config):
            return sorted(found.values(), key=lambda c: -c.score)
        settings = self.config.match
        hints = self.neighbours.nearest(sig.content_hashes, variants_of(sig), radius=settings.radius,
                                        limit=settings.candidates + 1, keep_within=settings.always_within,
                                        contained=sig.flipped_window_hashes, overlap_radius=settings.overlap_radius)
        if self.on_candidates:
            self.on_candidates(exclude, [hint.item for hint in hints if hint.item != exclude])
        for hint in hints:
            if hint.item in found or hint.item == exclude:
                continue
            judged = judge(self.store.picture(hint.item), picture, self.config, hint)
            if judged and judged[0] >= settings.floor:
                found[hint.item] = Candidate(hint.item, *judged)
        return sorted(found.values(), key=lambda c: -c.score)

    # --- helpers -------------------------------------------------------------------------------

    def _vanished_of_size(self, size: int) -> bool:
        """Whether an indexed file of this size is gone from its path (this one may be it, moved)."""
        return any(not os.path.lexists(row.path) for row in self.store.files_of_size(size))

    def _adopt_moved(self, path: bytes, digest: bytes, size: int, mtime_ns: int) -> bool:
        """If a file with these bytes is indexed at a path that no longer exists, move its row here."""
        for row in self.store.files_with_digest("file_digest", digest):
            if row.size == size and not os.path.lexists(row.path):
                with self.store.transaction():
                    self.store.move_file(row.id, path, mtime_ns)
                log.info("%s: moved from %s", os.fsdecode(path), os.fsdecode(row.path))
                return True
        return False

    def forget(self, file_id: int) -> None:
        """Delete a file's row (and its matches) and drop it from the neighbour index; call inside
        a transaction."""
        self.store.remove_file(file_id)
        self.neighbours.remove(file_id)

    # --- folders -------------------------------------------------------------------------------

    def scan(self, roots: Iterable[str | bytes | os.PathLike],
             progress: Callable[[bytes], None] | None = None,
             paths_found: Callable[[int], None] | None = None) -> ScanSummary:
        """Index every image below ``roots`` and forget indexed files there that are gone.

        Files are decoded and signed on a helper thread one step ahead of the store: while
        this thread matches and writes one file, the next one is being decoded (Pillow, NumPy
        and OpenCV release the GIL), so on two cores decoding is nearly all a scan costs."""
        summary = ScanSummary()
        pairs_before = self.store.counts()["pairs"]
        roots_b = [os.path.abspath(os.fsencode(root)) for root in roots]
        paths = [path for root in roots_b for path in walk_images(root)]
        if paths_found:
            paths_found(len(paths))

        def done(path: bytes, outcome: Outcome) -> None:
            summary.add(outcome)
            if progress:
                progress(path)

        in_flight: deque[tuple[Work, Future[Read]]] = deque()

        def finish_oldest() -> None:
            work, reading = in_flight.popleft()
            outcome = self._quietly(work.path, lambda: self.commit(work, lambda: self.analyser.sign(reading.result())))
            done(work.path, outcome)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="neardupd-read") as reader:
            for path in paths:
                step = self._quietly(path, lambda: self.plan(path))  # noqa: B023 - called at once
                if isinstance(step, Outcome):
                    done(path, step)
                    continue
                in_flight.append((step, reader.submit(self.analyser.read, step.path, step.size, step.digest)))
                if len(in_flight) > _LOOKAHEAD:
                    finish_oldest()
            while in_flight:
                finish_oldest()
        summary.removed = self._remove_vanished(roots_b)
        summary.pairs = self.store.counts()["pairs"] - pairs_before
        return summary

    def _quietly(self, path: bytes, step: Callable[[], T]) -> T | Outcome:
        """Run one step for ``path``; a vanished file is forgotten, an unreadable one recorded."""
        try:
            return step()
        except FileNotFoundError:
            self.remove_path(path)
            return Outcome.SKIPPED
        except OSError as err:
            log.warning("%s: cannot read (%s)", os.fsdecode(path), err.strerror)
            try:
                stat = os.stat(path)
                with self.store.transaction():
                    self.store.record_error(path, stat.st_size, stat.st_mtime_ns, "unreadable",
                                            f"cannot read the file ({err.strerror}); check its permissions")
            except OSError:
                pass
            return Outcome.FAILED

    def _remove_vanished(self, roots: list[bytes]) -> int:
        def under(path: bytes) -> bool:
            return any(path == root or path.startswith(root.rstrip(b"/") + b"/") for root in roots)

        gone = [(file_id, path) for file_id, path in self.store.paths() if under(path) and not os.path.lexists(path)]
        stale_errors = [path for path in self.store.error_paths() if under(path) and not os.path.lexists(path)]
        with self.store.transaction():
            for file_id, _ in gone:
                self.forget(file_id)
            for path in stale_errors:
                self.store.remove_error(path)
        return len(gone)
