"""Decoder processes: read, decode and sign files away from the daemon, under limits it enforces.

Each worker is a ``spawn``-ed process with no database handle, in a process group of its own (Ctrl-C
on a terminal reaches only the daemon, which decides when decoders stop) and killed by the kernel
if the daemon dies (``PR_SET_PDEATHSIG``). It gets one :class:`Job` at a time over a pipe and answers
with its :class:`JobStatus` and value: the :class:`~neardupd.analyse.Analysed` result, the file's
digest (to recognise a move before decoding), "not an image", or the error; or a scan's
:class:`JudgeJob`, answered with the judgements of one picture's candidates. Everything that
opens a file happens here, never in the daemon's main loop. The
parent kills a worker that takes longer than ``timeout`` and notices one that dies; either way the
file gets a ``timeout`` or ``crash`` outcome and a fresh worker takes the slot. Each worker limits
its own address space (``RLIMIT_AS``), so a decompression bomb that gets past the pixel cap fails
in the worker, not in the daemon.

A test hook: ``NEARDUPD_TEST_FAULTS="crash=*poison*,hang=*sleepy*"`` makes a worker abort or hang
on files whose name matches (for the daemon's tests; never set in production).
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import fnmatch
import logging
import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

import cv2

from neardupd.analyse import Analyser
from neardupd.config import Config
from neardupd.errors import DecodeError
from neardupd.features import Features
from neardupd.files import may_be_image
from neardupd.rules import Candidate, judge_all
from neardupd.signature import Picture

log = logging.getLogger(__name__)
FAULTS_ENV = "NEARDUPD_TEST_FAULTS"


class JobStatus(enum.Enum):
    OK = "ok"
    """``value`` is the Analysed."""
    DIGEST = "digest"
    """``value`` is the file's SHA-256 (asked for with ``digest_first``)."""
    NOT_IMAGE = "not_image"
    """Its first bytes are no image (asked for with ``sniff``)."""
    DECODE_ERROR = "decode_error"
    """``value`` is (kind, reason)."""
    OS_ERROR = "os_error"
    """``value`` is the message."""
    CRASH = "crash"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Job:
    key: int
    path: bytes
    sniff: bool = False
    """Look at its first bytes first: no image extension."""
    digest_first: bool = False
    """Only hash it (it may be an indexed file moved here), do not decode."""
    digest: bytes | None = None
    """Its SHA-256, already known."""


@dataclass(frozen=True)
class JudgeJob:
    """Judge a new picture against its candidates: a scan's confirmation, on a decoder's core
    (answered with the :func:`~neardupd.rules.judge_all` list)."""

    key: int
    path: bytes
    """The new picture's file (for messages)."""
    new: Picture
    mirrored: Features | None
    stored: tuple[tuple[Picture | None, Candidate], ...]


@dataclass(frozen=True)
class JobResult:
    job: Job | JudgeJob
    status: JobStatus
    value: Any = None


@dataclass
class _Slot:
    process: BaseProcess
    connection: Connection
    jobs: deque[Job | JudgeJob] = field(default_factory=deque)
    """Sent and not yet answered, in order; the first is the one being worked on."""
    started: float = 0.0
    """When the first job began, as far as the parent can tell (sent to an idle decoder, or the
    answer before it came)."""

    @property
    def job(self) -> Job | JudgeJob | None:
        return self.jobs[0] if self.jobs else None


class WorkerPool:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.timeout = config.daemon.decode_timeout
        self._context = multiprocessing.get_context("spawn")
        self._slots: list[_Slot] = []
        self.replaced = 0
        self.stopped = False
        try:
            for _ in range(config.daemon.workers):
                self._slots.append(self._spawn())
        except BaseException:  # none left behind when a later one cannot start
            self.stop()
            raise

    def _spawn(self) -> _Slot:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_work, args=(child, self.config), name="neardupd-decoder",
                                        daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    @property
    def size(self) -> int:
        """How many decoder processes there are."""
        return len(self._slots)

    def idle(self) -> int:
        return sum(1 for slot in self._slots if not slot.jobs)

    def room(self, depth: int = 1) -> int:
        """How many more jobs can be sent with at most ``depth`` waiting per decoder."""
        return sum(max(0, depth - len(slot.jobs)) for slot in self._slots)

    def busy(self) -> list[Job | JudgeJob]:
        return [job for slot in self._slots for job in slot.jobs]

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

    def submit(self, job: Job | JudgeJob, depth: int = 1) -> None:
        """Send a job to the least busy decoder, queued behind at most ``depth - 1`` others (a
        decoder with its next job waiting in its pipe starts it the moment it answers the last:
        a scan measured 179 % of two cores busy with one job per decoder)."""
        index = min(range(len(self._slots)), key=lambda index: len(self._slots[index].jobs))
        slot = self._slots[index]
        if len(slot.jobs) >= depth:
            raise RuntimeError("no decoder has room for another job")
        try:
            slot.connection.send(job)
        except OSError:  # it died: on its own job (answered as a crash by collect, which hands
            if slot.jobs:  # the jobs behind it to the next decoder), or idle: replaced now
                slot.jobs.append(job)
                return
            self._replace(index, "an idle decoder process died")
            slot = self._slots[index]
            slot.connection.send(job)
        if not slot.jobs:
            slot.started = time.monotonic()
        slot.jobs.append(job)

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
                    outcomes.extend(self._answers(slot))
                    continue
                except (EOFError, OSError):
                    outcomes.append(JobResult(slot.jobs[0], JobStatus.CRASH,
                                              self._replace(index, "the decoder process died")))
                    continue
            if time.monotonic() - slot.started > self.timeout:
                outcomes.append(JobResult(job, JobStatus.TIMEOUT, self._replace(
                    index, f"decoding took longer than {self.timeout:g} s (daemon.decode_timeout)")))
            elif not slot.process.is_alive():
                outcomes.append(JobResult(job, JobStatus.CRASH, self._replace(index, "the decoder process died")))
        return outcomes

    @staticmethod
    def _answers(slot: _Slot) -> list[JobResult]:
        """Every answer waiting in a decoder's pipe, each for its first job (raises if the pipe
        closed before the first)."""
        answers: list[JobResult] = []
        while slot.jobs and (not answers or slot.connection.poll(0)):
            try:
                status, value = slot.connection.recv()
            except (EOFError, OSError):
                if not answers:
                    raise
                break  # it died after answering: the next collect sees it
            answers.append(JobResult(slot.jobs.popleft(), JobStatus(status), value))
            slot.started = time.monotonic()
        return answers

    def _replace(self, index: int, why: str) -> str:
        """A fresh decoder in the place of one that died or overran on its first job; the jobs
        queued behind that one go to the new decoder."""
        slot = self._slots[index]
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join(5)
        code = slot.process.exitcode
        slot.connection.close()
        fresh = self._slots[index] = self._spawn()
        for queued in list(slot.jobs)[1:]:
            fresh.connection.send(queued)
            fresh.jobs.append(queued)
        fresh.started = time.monotonic()
        self.replaced += 1
        detail = f"{why} (exit code {code})" if code is not None else why
        log.warning("%s: %s; a new decoder took its place", os.fsdecode(slot.job.path) if slot.job else "?", detail)
        return detail

    def stop(self, grace: float = 5.0) -> None:
        """Ask every decoder to finish its file and stop; kill those still there after ``grace``
        seconds. Never raises: it runs on every way out, errors included."""
        self.stopped = True
        for slot in self._slots:
            with contextlib.suppress(OSError, ValueError):
                slot.connection.send(None)
        deadline = time.monotonic() + grace
        for slot in self._slots:
            with contextlib.suppress(Exception):
                slot.process.join(max(0.0, deadline - time.monotonic()))
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join(1)
                slot.connection.close()


def _work(connection: Connection, config: Config) -> None:
    """A worker's life: its own process group, death with its parent, a memory limit; then jobs
    until told to stop (``None``) or until the daemon is gone (the pipe closes)."""
    parent = os.getppid()
    os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    _limit_memory(config.daemon.worker_memory_mb)
    # a decoder per core already: OpenCV's own threads in each only contended (a bench-dev scan's
    # system time 2.1 -> 1.4 s, 2 % less wall time)
    cv2.setNumThreads(1)
    faults = _faults(os.environ.get(FAULTS_ENV, ""))
    with Analyser(config) as analyser:
        while True:
            try:
                job = connection.recv()
            except (EOFError, OSError, KeyboardInterrupt):
                return
            if job is None:
                return
            _inject(faults, job.path)
            try:
                connection.send(_do(analyser, job, config))
            except (OSError, EOFError):  # the daemon is gone: nobody to answer
                return


def _do(analyser: Analyser, job: Job | JudgeJob, config: Config) -> tuple[str, Any]:
    if isinstance(job, JudgeJob):
        return JobStatus.OK.value, judge_all(job.new, job.mirrored, job.stored, config)
    try:
        if job.sniff and not may_be_image(job.path):
            return JobStatus.NOT_IMAGE.value, None
        if job.digest_first:
            return JobStatus.DIGEST.value, analyser.digest(job.path)
        return JobStatus.OK.value, analyser.analyse(job.path, job.digest)
    except DecodeError as err:
        return JobStatus.DECODE_ERROR.value, (err.kind, err.reason)
    except MemoryError:
        return JobStatus.DECODE_ERROR.value, ("too_large", "the decoder ran out of memory "
                                              f"(daemon.worker_memory_mb = {config.daemon.worker_memory_mb})")
    except OSError as err:
        return JobStatus.OS_ERROR.value, f"cannot read the file ({err.strerror or err})"


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this process when the daemon dies (Linux), so no decoder lingers."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the closed pipe ends it instead
        return
    if os.getppid() != parent:  # the daemon died before the request took effect
        os._exit(0)


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
