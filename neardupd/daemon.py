"""``neardupd run``: the always-on daemon. :func:`run` (config) -> exit code.

Threads and processes:

* the **main thread** is the only database writer: it applies watcher changes, steps the
  reconciliation walk, hands due files to the decoders, stores their results, purges missing rows,
  and talks to systemd (READY, STATUS, WATCHDOG, STOPPING);
* **watchdog observers** (:mod:`neardupd.watcher`) only filter and enqueue;
* an **apscheduler** job asks for a full reconciliation every ``daemon.reconcile_every`` seconds;
* **decoder processes** (:mod:`neardupd.workers`) decode and sign, with a memory limit and a timeout.

Work is durable: a file waits in the ``pending`` table and leaves it in the same transaction that
stores its signatures, its error or its quarantine; after a crash the daemon resumes from there.
SIGTERM/SIGINT finish the files being decoded and exit 0; SIGHUP reloads the config file (an
invalid one is refused and the running config kept); SIGUSR1 writes every thread's stack to the log.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import queue
import signal
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler

from neardupd.config import Config
from neardupd.errors import DecodeError, NeardupError
from neardupd.indexer import Analysed, Indexer, Outcome, Work, walk_images
from neardupd.notify import Notifier
from neardupd.reconcile import Walk, purge_missing
from neardupd.reconcile import queue as queue_file
from neardupd.store import open_daemon_store
from neardupd.watcher import Change, Watcher
from neardupd.workers import Job, JobResult, WorkerPool

log = logging.getLogger(__name__)

CHANGES_PER_TICK = 5000
WALK_BUDGET = 500
HEARTBEAT_SECONDS = 2.0
SHUTDOWN_GRACE = 20.0
T = TypeVar("T")


@dataclass
class Counters:
    decoded: int = 0
    """Files handed back by a decoder (each decode, retries included)."""
    indexed: int = 0
    failed: int = 0
    quarantined: int = 0
    moved: int = 0
    removed: int = 0


class Daemon:
    def __init__(self, config: Config, config_file: str | os.PathLike | None = None,
                 load: Callable[[str | os.PathLike | None], Config] | None = None,
                 notifier: Notifier | None = None) -> None:
        self.config = config
        self.config_file = config_file
        self.load = load
        self.notifier = notifier or Notifier()
        self.changes: queue.Queue[Change] = queue.Queue()
        self.counters = Counters()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._walk_wanted: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._walk: Walk | None = None
        self._in_flight: dict[int, tuple[Work, int]] = {}
        self._next_key = 0
        self._last_work = time.monotonic()
        self._checkpointed = True
        self._last_beat = 0.0
        self._last_purge = 0.0
        self._maybe_held = True  # rows may be held as missing: look when idle
        self._held_reported = 0

    # --- life ------------------------------------------------------------------------------

    def run(self) -> int:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        faulthandler.register(signal.SIGUSR1)  # `kill -USR1`: every thread's stack to the log
        self.store = open_daemon_store(self.config.database)
        self.indexer = Indexer(self.store, self.config)
        self.pool = WorkerPool(self.config)
        self._install_signals()
        self.watcher = self._start_watcher()
        self.scheduler = BackgroundScheduler(daemon=True)
        self.scheduler.add_job(lambda: self.request_walk("schedule"), "interval",
                               seconds=self.config.daemon.reconcile_every, id="reconcile")
        self.scheduler.start()
        self._beat("starting", force=True)
        self.notifier.ready(f"watching {len(self.roots)} folder(s); first reconciliation starting")
        self.request_walk("start")
        try:
            while not self._stop.is_set():
                self._tick()
        finally:
            self._shutdown()
        return 0

    def request_walk(self, reason: str) -> None:
        """Ask for a full reconciliation (thread-safe: the scheduler and the watcher call it)."""
        self._walk_wanted.put(reason)

    def stop(self) -> None:
        self._stop.set()

    @property
    def roots(self) -> list[bytes]:
        return [os.path.abspath(os.fsencode(os.path.expanduser(root))) for root in self.config.daemon.roots]

    @property
    def patterns(self) -> tuple[bytes, ...]:
        return tuple(os.fsencode(pattern) for pattern in self.config.daemon.exclude)

    def _start_watcher(self) -> Watcher:
        watcher = Watcher(self.roots, self.patterns, self.changes, self._watch_trouble,
                          poll=[os.fsencode(os.path.abspath(os.path.expanduser(p))) for p in self.config.daemon.poll],
                          poll_interval=self.config.daemon.poll_interval)
        for note in watcher.start():
            log.info("watching %s", note)
        return watcher

    def _watch_trouble(self, why: str) -> None:
        log.warning("%s: a full reconciliation follows", why)
        self.request_walk(why)

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self._reload.set())

    def _shutdown(self) -> None:
        self.notifier.stopping(f"stopping: finishing {len(self._in_flight)} file(s)")
        log.info("stopping: finishing %d file(s) being decoded", len(self._in_flight))
        deadline = time.monotonic() + min(SHUTDOWN_GRACE, self.config.daemon.decode_timeout)
        while self._in_flight and time.monotonic() < deadline:
            self._collect(0.2)
        self.scheduler.shutdown(wait=False)
        self.watcher.stop()
        self.pool.stop()
        self._beat("stopped", force=True)
        self.store.checkpoint()
        self.store.close()
        log.info("stopped; %d file(s) left pending for the next start", len(self._in_flight))

    # --- one turn of the loop ------------------------------------------------------------------

    def _tick(self) -> None:
        if self._reload.is_set():
            self._reload.clear()
            self._reload_config()
        busy = self._apply_changes()
        busy |= self._step_walk()
        busy |= self._dispatch()
        busy |= self._collect(0.05 if self._in_flight else 0.0)
        if not busy:
            self._idle()
        self._beat("running")

    def _idle(self) -> None:
        now = time.monotonic()
        if self._maybe_held and now - self._last_purge > 2.0 and self._walk is None and not self._in_flight:
            self._last_purge = now
            if self.store.next_due() is None:
                removed, held = purge_missing(self.store, self.indexer, self.roots, self.config.daemon)
                self.counters.removed += removed
                if held and held != self._held_reported:  # said once per change, not at every look
                    log.info("%d indexed file(s) held as missing: their root is unhealthy, or too many went at "
                             "once (deleted after %gs with the root healthy)", held, self.config.daemon.missing_grace)
                self._held_reported = held
                self._maybe_held = held > 0
        if not self._checkpointed and now - self._last_work > self.config.daemon.idle_checkpoint:
            self.store.checkpoint()
            self._checkpointed = True
            log.debug("idle: WAL checkpointed")
        try:  # sleep until a change arrives, at most a moment
            change = self.changes.get(timeout=0.2)
        except queue.Empty:
            return
        self.changes.put(change)

    def _worked(self) -> None:
        self._last_work = time.monotonic()
        self._checkpointed = False

    # --- watcher changes -------------------------------------------------------------------

    def _apply_changes(self) -> bool:
        batch = _drain(self.changes, CHANGES_PER_TICK)
        if not batch:
            return False
        folders = []
        with self.store.transaction():
            for change in batch:
                if change.kind == "folder":
                    folders.append(change.path)
                else:
                    self._apply(change)
        for folder in folders:
            self._queue_folder(folder)
        self._maybe_held = True
        self._worked()
        return True

    def _apply(self, change: Change) -> None:
        if change.kind == "changed":
            self._changed(change.path)
        elif change.kind == "deleted":
            self._gone(change.path)
        elif change.kind == "moved" and change.dest is not None:
            self._moved(change.path, change.dest)

    def _changed(self, path: bytes) -> None:
        try:
            info = os.stat(path)
        except OSError:
            return
        if stat.S_ISREG(info.st_mode):
            queue_file(self.store, path, info, self.config.daemon.quiet_period)

    def _gone(self, path: bytes) -> None:
        known = self.store.file_at(path)
        if known:
            self.store.mark_missing(known.id)
            return
        for file_id, *_ in self.store.files_under(path):  # a folder
            self.store.mark_missing(file_id)
        for table in ("pending", "errors", "quarantine"):
            self.store.forget_path(table, path)

    def _moved(self, source: bytes, dest: bytes) -> None:
        if os.path.isdir(dest):
            self._moved_folder(source, dest)
            return
        known = self.store.file_at(source)
        self.store.forget_path("pending", source)
        try:
            info = os.stat(dest)
        except OSError:
            if known:
                self.store.mark_missing(known.id)
            return
        if known and known.size == info.st_size:
            replaced = self.store.file_at(dest)
            if replaced and replaced.id != known.id:
                self.indexer.forget(replaced.id)
            self.store.move_file(known.id, dest, info.st_mtime_ns)
            self.counters.moved += 1
            return
        if known:
            self.store.mark_missing(known.id)
        queue_file(self.store, dest, info, self.config.daemon.quiet_period)

    def _moved_folder(self, source: bytes, dest: bytes) -> None:
        for file_id, path, size, _, _ in self.store.files_under(source):
            target = dest.rstrip(b"/") + path[len(source.rstrip(b"/")):]
            try:
                info = os.stat(target)
            except OSError:
                self.store.mark_missing(file_id)
                continue
            if info.st_size == size and self.store.file_at(target) is None:
                self.store.move_file(file_id, target, info.st_mtime_ns)
                self.counters.moved += 1
            else:
                self.store.mark_missing(file_id)
        for path in self.store.paths_under("pending", source):
            self.store.forget_path("pending", path)
        self.changes.put(Change("folder", dest))

    def _queue_folder(self, folder: bytes) -> None:
        """Everything below a folder that appeared (moved in, or created with files already in it)."""
        with self.store.transaction():
            for path in walk_images(folder, self.patterns):
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                queue_file(self.store, path, info, self.config.daemon.quiet_period)

    # --- reconciliation --------------------------------------------------------------------

    def _step_walk(self) -> bool:
        if self._walk is None:
            reasons = _drain(self._walk_wanted)
            if not reasons:
                return False
            log.info("reconciling %d folder(s) (%s)", len(self.roots), ", ".join(sorted(set(reasons))))
            self._walk = Walk(self.store, self.roots, self.patterns, self.config.daemon, ", ".join(reasons))
        if self._walk.step(WALK_BUDGET):
            walk = self._walk
            self._walk = None
            self._maybe_held = True
            log.info("reconciliation done: %d files on disk, %d queued, %d newly missing",
                     walk.seen, walk.queued, walk.missing)
        self._worked()
        return True

    # --- decoding --------------------------------------------------------------------------

    def _dispatch(self) -> bool:
        idle = self.pool.idle()
        if idle == 0:
            return False
        busy_paths = [work.path for work, _ in self._in_flight.values()]
        rows = self.store.due_work(time.time(), idle, skip=busy_paths)
        for row in rows:
            try:
                info = os.stat(row.path)
            except OSError:
                with self.store.transaction():
                    self.store.done(row.path)
                continue
            if (info.st_size, info.st_mtime_ns) != (row.size, row.mtime_ns):  # still being written
                with self.store.transaction():
                    self.store.queue(row.path, info.st_size, info.st_mtime_ns,
                                     time.time() + self.config.daemon.quiet_period)
                continue
            try:
                step = self.indexer.plan(row.path)
            except OSError:
                step = Outcome.SKIPPED
            if isinstance(step, Outcome):
                with self.store.transaction():
                    self.store.done(row.path)
                    known = self.store.file_at(row.path)
                    if known:
                        self.store.mark_present(known.id)
                self.counters.moved += step is Outcome.MOVED
                continue
            self._next_key += 1
            self._in_flight[self._next_key] = (step, row.attempts)
            self.pool.submit(Job(self._next_key, step.path, step.size, step.digest))
        if rows:
            self._worked()
        return bool(rows)

    def _collect(self, wait_seconds: float) -> bool:
        outcomes = self.pool.collect(wait_seconds)
        for outcome in outcomes:
            self.counters.decoded += 1
            work, attempts = self._in_flight.pop(outcome.job.key)
            self._store_outcome(work, attempts, outcome)
        if outcomes:
            self._worked()
        return bool(outcomes)

    def _store_outcome(self, work: Work, attempts: int, outcome: JobResult) -> None:
        path = work.path
        if outcome.status == "ok":
            analysed: Analysed = outcome.value
            self.indexer.commit(work, lambda: analysed, also=lambda: self.store.done(path))
            self.counters.indexed += 1
        elif outcome.status == "decode_error":
            kind, reason = outcome.value
            if kind == "truncated" and attempts < self.config.daemon.truncated_retries:
                log.info("%s: ends early, probably still arriving; trying again later", os.fsdecode(path))
                with self.store.transaction():
                    self.store.retry(path, time.time() + self.config.daemon.quiet_period)
                return
            self.indexer.commit(work, _raiser(DecodeError(path, kind, reason)), also=lambda: self.store.done(path))
            self.counters.failed += 1
        elif outcome.status == "os_error":
            with self.store.transaction():
                self.store.done(path)
                if os.path.exists(path):
                    self.store.record_error(path, work.size, work.mtime_ns, "unreadable", outcome.value)
            self.counters.failed += 1
        else:
            with self.store.transaction():
                self.store.quarantine(path, work.size, work.mtime_ns, outcome.status, str(outcome.value))
                self.store.done(path)
            self.counters.quarantined += 1

    # --- health, status, reload ------------------------------------------------------------------

    def healthy(self) -> bool:
        return self.watcher.alive() and self.pool.alive()

    def _beat(self, state: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        if state == "running":
            self._mend()
        pending = self.store.next_due() is not None
        counters = self.counters
        status = (f"{state}: {counters.decoded} decoded, {counters.indexed} indexed, {counters.failed} failed, "
                  f"{counters.quarantined} quarantined, {counters.moved} moved, {counters.removed} removed "
                  "since start" + (f"; reconciling ({self._walk.seen} files walked, {self._walk.queued} queued)"
                                   if self._walk else "") + ("; work pending" if pending else ""))
        with self.store.transaction():
            self.store.set_setting("daemon_pid", str(os.getpid()))
            self.store.set_setting("daemon_heartbeat", f"{time.time():.3f}")
            self.store.set_setting("daemon_state", state)
            self.store.set_setting("daemon_status", status)
            self.store.set_setting("daemon_decoded", str(counters.decoded))
        self.notifier.status(status)
        if state == "running" and self.healthy():
            self.notifier.watchdog()

    def _mend(self) -> None:
        """Watch again when a watcher stopped or a root is another folder now (then reconcile: events
        were lost), and replace decoders that died while idle."""
        replaced = self.watcher.replaced_roots()
        if replaced or not self.watcher.alive():
            why = (f"{', '.join(os.fsdecode(root) for root in replaced)}: another folder now (mounted, unmounted "
                   "or replaced)" if replaced else "a watcher stopped")
            log.warning("%s; watching again, then reconciling", why)
            self.watcher.stop()
            self.watcher = self._start_watcher()
            self.request_walk("watcher restarted")
        self.pool.revive()

    def _reload_config(self) -> None:
        if self.load is None:
            return
        self.notifier.reloading()
        try:
            fresh = self.load(self.config_file)
        except NeardupError as err:
            log.error("config not reloaded, keeping the running one: %s", err)
            self.notifier.ready("config reload refused; running with the previous config")
            return
        fresh = fresh.replace(database=self.config.database)  # the database is fixed while running
        old = self.config
        self.config = fresh
        self.indexer.config = fresh
        self.indexer.analyser.config = fresh
        if (fresh.daemon.roots, fresh.daemon.poll, fresh.daemon.exclude) != (old.daemon.roots, old.daemon.poll,
                                                                              old.daemon.exclude):
            self.watcher.stop()
            self.watcher = self._start_watcher()
        self.scheduler.reschedule_job("reconcile", trigger="interval", seconds=fresh.daemon.reconcile_every)
        if self.pool.config.daemon != fresh.daemon or self.pool.config.decode != fresh.decode:
            self._drain_pool()
            self.pool.stop()
            self.pool = WorkerPool(fresh)
        log.info("config reloaded from %s", self.config_file)
        self.notifier.ready("config reloaded")
        self.request_walk("config reloaded")

    def _drain_pool(self) -> None:
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while self._in_flight and time.monotonic() < deadline:
            self._collect(0.2)


def _drain(source: queue.Queue[T] | queue.SimpleQueue[T], limit: int = 1 << 30) -> list[T]:
    """Up to ``limit`` items already waiting in ``source``, without blocking."""
    items: list[T] = []
    while len(items) < limit:
        try:
            items.append(source.get_nowait())
        except queue.Empty:
            break
    return items


def _raiser(error: Exception) -> Callable[[], Analysed]:
    def fail() -> Analysed:
        raise error
    return fail


def run(config: Config, config_file: str | os.PathLike | None = None,
        load: Callable[[str | os.PathLike | None], Config] | None = None) -> int:
    """Run the daemon in the foreground until SIGTERM; return the exit code."""
    if not config.daemon.roots:
        raise NeardupError(config_file, "no folders to watch: set daemon.roots in the config, or pass --root")
    for root in config.daemon.roots:
        if not Path(root).expanduser().is_dir():
            log.warning("%s is not a folder now; it is held, and looked at again at each reconciliation", root)
    return Daemon(config, config_file, load).run()

