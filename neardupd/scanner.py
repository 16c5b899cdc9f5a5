"""`neardupd scan` on every core: the files are read, decoded and signed by the decoder processes
of :mod:`neardupd.workers` (as the daemon's are), while this process plans each path, matches
each result against the index and stores it.

Measured on bench-dev (1,377 photos, 2 cores): decoding and signing take about as long as
matching, so one decoder per core keeps both cores busy while the matching here overlaps them.
A decoder that crashes or overruns its time quarantines its file, and a fresh one takes its place.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable

from neardupd.config import Config
from neardupd.errors import DecodeError
from neardupd.indexer import Indexer, Outcome, ScanRun, ScanSummary, Work
from neardupd.workers import Job, JobResult, JobStatus, WorkerPool

log = logging.getLogger(__name__)

_WAIT = 0.5
"""Seconds to wait for a decoder's result before looking again."""
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


def _scan_with(indexer: Indexer, pool: WorkerPool, run: ScanRun, now: float | None) -> ScanSummary:
    paths = deque(run.paths)
    in_flight: dict[int, Work] = {}
    """By key, in the order the files were handed out: results are stored in that order (the files
    of a folder stored in the same order every time: a scan's pairs do not depend on timing)."""
    answers: dict[int, JobResult] = {}
    keys = itertools.count(1)
    ahead = 2 * pool.size + 2
    while paths or in_flight:
        while paths and pool.idle() and len(in_flight) < ahead:
            path = paths.popleft()
            step = indexer.quietly(path, lambda: indexer.prepare(path))  # noqa: B023 - called at once
            if isinstance(step, Outcome):
                run.done(path, step)
                continue
            key = next(keys)
            in_flight[key] = step
            pool.submit(Job(key, step.path, digest=step.digest))
        for result in pool.collect(_WAIT):
            answers[result.job.key] = result
        while in_flight and (oldest := next(iter(in_flight))) in answers:
            work = in_flight.pop(oldest)
            run.done(work.path, _store(indexer, work, answers.pop(oldest)))
    return indexer.end_scan(run, now)


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
