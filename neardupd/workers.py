"""Decoder processes: read, decode and sign files away from the daemon, under limits it enforces.

Each worker is a ``spawn``-ed process with no database handle. It gets one file at a time over a
pipe and answers with the :class:`~neardupd.indexer.Analysed` result or the decode error. The
parent kills a worker that takes longer than ``timeout`` and notices one that dies; either way the
file gets a ``timeout`` or ``crash`` outcome and a fresh worker takes the slot. Each worker limits
its own address space (``RLIMIT_AS``), so a decompression bomb that gets past the pixel cap fails
in the worker, not in the daemon.

A test hook: ``NEARDUPD_TEST_FAULTS="crash=*poison*,hang=*sleepy*"`` makes a worker abort or hang
on files whose name matches (for the daemon's tests; never set in production).
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from neardupd.config import Config

log = logging.getLogger(__name__)
FAULTS_ENV = "NEARDUPD_TEST_FAULTS"


@dataclass(frozen=True)
class Job:
    key: int
    path: bytes
    size: int
    digest: bytes | None = None


@dataclass(frozen=True)
class JobResult:
    """What became of a job: ``ok`` (``value`` is the Analysed), ``decode_error`` (``value`` is
    (kind, reason)), ``os_error`` (``value`` is the message), ``crash`` or ``timeout``."""

    job: Job
    status: str
    value: Any = None


@dataclass
class _Slot:
    process: BaseProcess
    connection: Connection
    job: Job | None = None
    started: float = 0.0


class WorkerPool:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.timeout = config.daemon.decode_timeout
        self._context = multiprocessing.get_context("spawn")
        self._slots = [self._spawn() for _ in range(config.daemon.workers)]
        self.replaced = 0
        self.stopped = False

    def _spawn(self) -> _Slot:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_work, args=(child, self.config), name="neardupd-decoder",
                                        daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    def idle(self) -> int:
        return sum(1 for slot in self._slots if slot.job is None)

    def busy(self) -> list[Job]:
        return [slot.job for slot in self._slots if slot.job is not None]

    def alive(self) -> bool:
        return all(slot.process.is_alive() for slot in self._slots)

    def revive(self) -> int:
        """Replace idle workers that died (a busy one is replaced by :meth:`collect`); return how many."""
        if self.stopped:
            return 0
        dead = [index for index, slot in enumerate(self._slots) if slot.job is None and not slot.process.is_alive()]
        for index in dead:
            self._replace(index, "an idle decoder process died")
        return len(dead)

    def submit(self, job: Job) -> None:
        slot = next(slot for slot in self._slots if slot.job is None)
        slot.connection.send(job)
        slot.job, slot.started = job, time.monotonic()

    def collect(self, wait_seconds: float) -> list[JobResult]:
        """Results that arrive within ``wait_seconds``, and the jobs of workers that died or overran."""
        busy = [slot for slot in self._slots if slot.job is not None]
        if not busy:
            return []
        ready = wait([slot.connection for slot in busy], timeout=wait_seconds)
        outcomes = []
        for index, slot in enumerate(self._slots):
            if slot.job is None:
                continue
            job = slot.job
            if slot.connection in ready:
                try:
                    status, value = slot.connection.recv()
                    outcomes.append(JobResult(job, status, value))
                    slot.job = None
                    continue
                except (EOFError, OSError):
                    outcomes.append(JobResult(job, "crash", self._replace(index, "the decoder process died")))
                    continue
            if time.monotonic() - slot.started > self.timeout:
                outcomes.append(JobResult(job, "timeout", self._replace(
                    index, f"decoding took longer than {self.timeout:g} s (daemon.decode_timeout)")))
            elif not slot.process.is_alive():
                outcomes.append(JobResult(job, "crash", self._replace(index, "the decoder process died")))
        return outcomes

    def _replace(self, index: int, why: str) -> str:
        slot = self._slots[index]
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join(5)
        code = slot.process.exitcode
        slot.connection.close()
        self._slots[index] = self._spawn()
        self.replaced += 1
        detail = f"{why} (exit code {code})" if code is not None else why
        log.warning("%s: %s; a new decoder took its place", os.fsdecode(slot.job.path) if slot.job else "?", detail)
        return detail

    def stop(self, grace: float = 5.0) -> None:
        self.stopped = True
        for slot in self._slots:
            with contextlib.suppress(OSError):
                slot.connection.send(None)
        deadline = time.monotonic() + grace
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(1)
            slot.connection.close()


def _work(connection: Connection, config: Config) -> None:
    """A worker's life: limit memory, then analyse files until told to stop (``None``)."""
    from neardupd.errors import DecodeError
    from neardupd.indexer import Analyser

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon decides when decoders stop (Ctrl-C, SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # to the whole group): they finish the file, then it says
    _limit_memory(config.daemon.worker_memory_mb)
    faults = _faults(os.environ.get(FAULTS_ENV, ""))
    analyser = Analyser(config)
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if job is None:
            return
        _inject(faults, job.path)
        try:
            result: tuple[str, Any] = ("ok", analyser.analyse(job.path, job.size, job.digest))
        except DecodeError as err:
            result = ("decode_error", (err.kind, err.reason))
        except MemoryError:
            result = ("decode_error", ("too_large", "the decoder ran out of memory "
                                       f"(daemon.worker_memory_mb = {config.daemon.worker_memory_mb})"))
        except OSError as err:
            result = ("os_error", f"cannot read the file ({err.strerror or err})")
        connection.send(result)


def _limit_memory(megabytes: int) -> None:
    try:
        import resource
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError) as err:  # pragma: no cover - platform without the limit
        log.warning("cannot limit decoder memory (%s)", err)


def _faults(spec: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in spec.split(",") if "=" in part)


def _inject(faults: dict[str, str], path: bytes) -> None:
    name = os.fsdecode(os.path.basename(path))
    if "crash" in faults and fnmatch.fnmatch(name, faults["crash"]):
        os.abort()
    if "hang" in faults and fnmatch.fnmatch(name, faults["hang"]):
        time.sleep(10**6)
