"""The daemon's decoding: due files handed to the decoder processes, their results stored.

Every result is stored in one transaction with the removal of its ``pending`` row and the daemon's
counters, so after a crash nothing is lost or done twice, and a reader never sees a stored file
without its count. Matching (template matching included) runs before that transaction.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from neardupd.config import Config
from neardupd.files import Refusal
from neardupd.health import Counters, write_counters
from neardupd.indexer import Indexer, Outcome, Work
from neardupd.store import PendingRow
from neardupd.workers import Job, JobResult, JobStatus, WorkerPool

log = logging.getLogger(__name__)

_DECODES = (JobStatus.OK, JobStatus.DECODE_ERROR, JobStatus.OS_ERROR, JobStatus.CRASH, JobStatus.TIMEOUT)


class Ingest:
    def __init__(self, indexer: Indexer, config: Config) -> None:
        self.indexer = indexer
        self.store = indexer.store
        self.config = config
        self.pool = WorkerPool(config)
        self.counters = Counters()
        self._in_flight: dict[int, tuple[Work, int]] = {}
        self._digests: dict[bytes, tuple[int, int, bytes]] = {}
        """Files hashed by a decoder that were not a move: (size, mtime_ns, digest), for their decode."""
        self._next_key = 0

    @property
    def busy(self) -> int:
        """Files being decoded now."""
        return len(self._in_flight)

    def reconfigure(self, config: Config, clock: Callable[[], float], grace: float) -> None:
        """New settings; new decoders if theirs changed (the files being decoded finish first, for
        at most ``grace`` seconds; those still unfinished stay pending)."""
        old, self.config = self.config, config
        if (old.daemon, old.decode, old.files) != (config.daemon, config.decode, config.files):
            self.finish(clock, grace)
            self.pool.stop()
            self._in_flight.clear()
            self.pool = WorkerPool(config)

    def finish(self, clock: Callable[[], float], grace: float) -> None:
        """Store the results of the files being decoded, waiting at most ``grace`` seconds."""
        deadline = time.monotonic() + grace
        while self.busy and time.monotonic() < deadline:
            self.collect(0.2, clock())

    def stop(self) -> None:
        self.pool.stop()

    # --- out -------------------------------------------------------------------------------------

    def dispatch(self, now: float) -> bool:
        """Hand due files to idle decoders; True if any row was looked at."""
        idle = self.pool.idle()
        if idle == 0:
            return False
        busy_paths = [work.path for work, _ in self._in_flight.values()]
        rows = self.store.due_work(now, idle, skip=busy_paths)
        for row in rows:
            self._start(row, now)
        return bool(rows)

    def _start(self, row: PendingRow, now: float) -> None:
        try:
            step = self.indexer.plan(row.path)
        except OSError:
            with self.indexer.writing():
                self.store.done(row.path)
            return
        if not isinstance(step, Work):
            self._settled(row.path, step)
            return
        if (step.size, step.mtime_ns) != (row.size, row.mtime_ns):  # still being written
            with self.indexer.writing():
                self.store.queue(row.path, step.size, step.mtime_ns, now + self.config.daemon.quiet_period)
            return
        known = self._digests.pop(row.path, None)
        if known and known[:2] == (step.size, step.mtime_ns):
            step = replace(step, digest=known[2], check_move=False)
        self._next_key += 1
        self._in_flight[self._next_key] = (step, row.attempts)
        self.pool.submit(Job(self._next_key, step.path, sniff=step.sniff, digest_first=step.check_move,
                             digest=step.digest))

    def _settled(self, path: bytes, step: Outcome | Refusal) -> None:
        """A due file that needs no decoder: known as it is, or never to be opened."""
        with self.indexer.writing():
            self.store.done(path)
            if isinstance(step, Refusal):
                self.indexer.refuse(path, step)
                return
            known = self.store.file_at(path)
            if known:
                self.store.mark_present(known.id)

    # --- back --------------------------------------------------------------------------------

    def collect(self, wait_seconds: float, now: float) -> bool:
        """Store what the decoders finished within ``wait_seconds``; True if anything came back."""
        results = self.pool.collect(wait_seconds)
        for result in results:
            work, attempts = self._in_flight.pop(result.job.key)
            self.counters.decoded += result.status in _DECODES
            self._store(work, attempts, result, now)
        return bool(results)

    def _store(self, work: Work, attempts: int, result: JobResult, now: float) -> None:
        status, path = result.status, work.path
        if status is JobStatus.OK:
            matches = self.indexer.match(result.value, replacing=work.known_id)
            with self._finishing(path):
                self.indexer.add(work, result.value, matches)
                self.counters.indexed += 1
        elif status is JobStatus.DIGEST:
            self._digested(work, result.value)
        elif status is JobStatus.NOT_IMAGE:
            with self._finishing(path):
                pass
        elif status is JobStatus.DECODE_ERROR:
            self._failed(work, attempts, *result.value, now=now)
        elif status is JobStatus.OS_ERROR:
            with self._finishing(path):
                if os.path.exists(path):
                    self.store.record_error(path, work.size, work.mtime_ns, "unreadable", result.value)
                self.counters.failed += 1
        else:
            with self._finishing(path):
                self.store.quarantine(path, work.size, work.mtime_ns, status.value, str(result.value))
                self.counters.quarantined += 1

    @contextmanager
    def _finishing(self, path: bytes) -> Iterator[None]:
        """The transaction that stores a result: the file leaves ``pending``, the counters follow."""
        with self.indexer.writing():
            yield
            self.store.done(path)
            write_counters(self.store, self.counters)

    def _digested(self, work: Work, digest: bytes) -> None:
        with self.indexer.writing():
            moved = self.indexer.adopt_moved(work.path, digest, work.size, work.mtime_ns)
            if moved:
                self.store.done(work.path)
                self.counters.moved += 1
                write_counters(self.store, self.counters)
        if not moved:  # stays pending and due: decoded next, without hashing again
            self._digests[work.path] = (work.size, work.mtime_ns, digest)

    def _failed(self, work: Work, attempts: int, kind: str, reason: str, now: float) -> None:
        if kind == "truncated" and attempts < self.config.daemon.truncated_retries:
            log.info("%s: ends early, probably still arriving; trying again later", os.fsdecode(work.path))
            with self.indexer.writing():
                self.store.retry(work.path, now + self.config.daemon.quiet_period)
                write_counters(self.store, self.counters)
            return
        log.info("cannot index %s: %s", os.fsdecode(work.path), reason)
        with self._finishing(work.path):
            self.indexer.add_error(work, kind, reason)
            self.counters.failed += 1
