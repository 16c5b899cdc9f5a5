"""`neardupd scan` on every core: the files are read, decoded and signed by the decoder processes
of :mod:`neardupd.workers` (as the daemon's are), which also judge each picture's candidates,
while this process plans each path, searches the indexes and stores each picture with its matches.

Measured on bench-dev (1,377 photos, 2 cores): judging the candidates costs about as much as
decoding and signing, and this process searched and judged on one core while the decoders waited
(29.9 s); with the judgements on the decoders' cores, 27.7 s, every pair identical. A picture
whose judgements are out is held in the indexes under a provisional key, so the next one's search
meets it as it would one by one. A decoder that crashes or overruns its time quarantines its
file, and a fresh one takes its place (a judgement it dropped is made here).
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from neardupd.analyse import Analysed
from neardupd.config import Config
from neardupd.errors import DecodeError
from neardupd.indexer import Indexer, Outcome, ScanRun, ScanSummary, Work
from neardupd.matcher import Proposal
from neardupd.pairs import Scored
from neardupd.workers import Job, JobResult, JobStatus, JudgeJob, WorkerPool

log = logging.getLogger(__name__)

_WAIT = 0.5
"""Seconds to wait for a decoder's result before looking again."""
AHEAD = 2
"""Files on their way (decoding or held) per decoder, plus two."""
DEPTH = 2
"""Jobs sent to each decoder at most: the next waits in its pipe while it works on one."""
PARALLEL_FROM = 16
"""Fewer files than this are decoded in this process: starting the decoder processes costs about a
second of CPU (each imports NumPy, OpenCV and Pillow)."""


def start_decoders(config: Config) -> WorkerPool | None:
    """A decoder process per ``daemon.workers``, or None (said once) where processes cannot be
    started: the scan then decodes in this process, slower but the same."""
    try:
        return WorkerPool(config)
    except (OSError, ImportError) as err:
        log.warning("cannot start decoder processes (%s); decoding in this process", err)
        return None


def scan(indexer: Indexer, roots: Iterable[str | bytes | os.PathLike],
         progress: Callable[[bytes], None] | None = None, paths_found: Callable[[int], None] | None = None,
         now: float | None = None, *, pool: WorkerPool | None = None) -> ScanSummary:
    """Index every image below ``roots``, then forget the files gone from there as the deletion guard
    allows. From PARALLEL_FROM files on, decoder processes decode (``pool``, or its own started
    here and stopped after); fewer files, or where processes cannot start, are decoded in this
    process (:meth:`Indexer.scan_run`)."""
    run = indexer.begin_scan(roots, progress, paths_found)
    own = pool is None and len(run.paths) >= PARALLEL_FROM
    if own:
        pool = start_decoders(indexer.config)
    try:
        if pool is None:
            return indexer.scan_run(run, now)
        return _scan_with(indexer, pool, run, now)
    finally:
        if own and pool is not None:
            pool.stop()


@dataclass
class _Held:
    """A decoded picture in the indexes under a provisional key, stored once its judgements are in."""

    work: Work
    item: Analysed
    key: int
    proposal: Proposal
    judged: list[Scored | None] | None = None


@dataclass
class _Flow:
    """The files of a parallel scan on their way: decoding, held for their judgements, judged."""

    paths: deque[bytes]
    decoding: dict[int, Work] = field(default_factory=dict)
    """By key, in the order the files were handed out: results are stored in that order (the files
    of a folder stored in the same order every time: a scan's pairs do not depend on timing)."""
    answers: dict[int, JobResult] = field(default_factory=dict)
    held: deque[_Held] = field(default_factory=deque)
    unsent: deque[_Held] = field(default_factory=deque)
    """Held pictures whose judgements wait for an idle decoder."""
    judging: dict[int, _Held] = field(default_factory=dict)
    keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def busy(self) -> bool:
        return bool(self.paths or self.decoding or self.held)


def _scan_with(indexer: Indexer, pool: WorkerPool, run: ScanRun, now: float | None) -> ScanSummary:
    """Decoders decode and sign the files and judge each picture's candidates; this process plans
    the paths, searches the indexes and stores each picture with its matches, in the order handed
    out, and hands an idle decoder its next job after every step (not after a round of them)."""
    flow = _Flow(deque(run.paths))
    while flow.busy():
        _feed(indexer, pool, run, flow)
        for result in pool.collect(_WAIT):
            _received(indexer, flow, result)
        while _step(indexer, run, flow):
            _feed(indexer, pool, run, flow)
            for result in pool.collect(0):
                _received(indexer, flow, result)
    return indexer.end_scan(run, now)


def _step(indexer: Indexer, run: ScanRun, flow: _Flow) -> bool:
    """Search for the next decoded picture or store the next judged one; False if neither is ready."""
    if flow.decoding and (oldest := next(iter(flow.decoding))) in flow.answers:
        _decoded(indexer, run, flow, flow.decoding.pop(oldest), flow.answers.pop(oldest))
        return True
    if flow.held and flow.held[0].judged is not None:
        entry = flow.held.popleft()
        run.done(entry.work.path, _store_held(indexer, flow, entry))
        return True
    return False


def _feed(indexer: Indexer, pool: WorkerPool, run: ScanRun, flow: _Flow) -> None:
    """Idle decoders get the judgements first (they hold up storing), then files to decode, at most
    AHEAD per decoder on their way."""
    while flow.unsent and pool.room(DEPTH):
        entry = flow.unsent.popleft()
        key = next(flow.keys)
        flow.judging[key] = entry
        stored = tuple(indexer.matcher.pictures(entry.proposal.to_judge))
        pool.submit(JudgeJob(key, entry.work.path, entry.item.picture, entry.item.mirrored, stored), DEPTH)
    while flow.paths and pool.room(DEPTH) and len(flow.decoding) + len(flow.held) < AHEAD * pool.size + 2:
        path = flow.paths.popleft()
        step = indexer.quietly(path, lambda: indexer.prepare(path))  # noqa: B023 - called at once
        if isinstance(step, Outcome):
            run.done(path, step)
            continue
        key = next(flow.keys)
        flow.decoding[key] = step
        pool.submit(Job(key, step.path, digest=step.digest), DEPTH)


def _received(indexer: Indexer, flow: _Flow, result: JobResult) -> None:
    entry = flow.judging.pop(result.job.key, None)
    if entry is None:
        flow.answers[result.job.key] = result
    elif result.status is JobStatus.OK:
        entry.judged = result.value
    else:  # the decoder died or overran on it: judged here, as a scan without decoders does
        entry.judged = indexer.matcher.judge(entry.item, entry.proposal)


def _decoded(indexer: Indexer, run: ScanRun, flow: _Flow, work: Work, result: JobResult) -> None:
    """A decoder's answer, in order: a picture searched for and held, or why it failed, stored."""
    if result.status is not JobStatus.OK:
        run.done(work.path, _store(indexer, work, result))
        return
    item: Analysed = result.value
    proposal = indexer.matcher.candidates(item, replacing=work.known_id)
    entry = _Held(work, item, indexer.matcher.hold(item, replacing=work.known_id), proposal)
    flow.held.append(entry)
    if proposal.to_judge:
        flow.unsent.append(entry)
    else:
        entry.judged = []


def _store_held(indexer: Indexer, flow: _Flow, entry: _Held) -> Outcome:
    matches = indexer.matcher.confirmed(entry.item, entry.proposal, entry.judged or [])
    with indexer.writing():
        file_id = indexer.add(entry.work, entry.item, matches, held=entry.key)
    for later in flow.held:
        later.proposal = later.proposal.renamed(entry.key, file_id)
    return Outcome.INDEXED


def _store(indexer: Indexer, work: Work, result: JobResult) -> Outcome:
    """One decoder's answer stored: the analysed file and its matches, or why it failed."""
    status = result.status
    if status is JobStatus.OK:
        return indexer.store_analysed(work, result.value)
    if status is JobStatus.DECODE_ERROR:
        return indexer.failed(work, DecodeError(os.fsdecode(work.path), *result.value))
    if status is JobStatus.OS_ERROR:
        return indexer.unreadable(work.path, result.value)
    with indexer.writing():  # crashed or overran: never decoded again while unchanged
        indexer.store.quarantine(work.path, work.size, work.mtime_ns, status.value, str(result.value))
    return Outcome.QUARANTINED
