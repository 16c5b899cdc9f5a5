"""``neardupd run``: the always-on daemon. :func:`run` (config) -> exit code.

Threads and processes:

* the **main thread** is the only database writer: it applies watcher changes
  (:class:`~neardupd.reconcile.Changes`), steps the reconciliation walk, hands due files to the
  decoders and stores their results (:class:`~neardupd.ingest.Ingest`), purges missing rows as the
  deletion guard allows, and talks to systemd (READY, STATUS, WATCHDOG, STOPPING). It never opens
  a photo: that happens in the decoders;
* **watchdog observers** (:mod:`neardupd.watcher`) only filter and enqueue;
* an **apscheduler** job asks for a full reconciliation every ``daemon.reconcile_every`` seconds;
* **decoder processes** (:mod:`neardupd.workers`) read, decode and sign, with a memory limit and a timeout.

SIGTERM/SIGINT finish the files being decoded and exit 0; SIGHUP reloads the config file (an
invalid one is refused and the running config kept); SIGUSR1 writes every thread's stack to the
log. A database that is full, damaged, deleted or replaced is one log line and a prompt exit
(75: systemd restarts it; 65 for a damaged one), never a hang.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler

from neardupd.analyse import Analysed
from neardupd.asking import answer, serve_queries
from neardupd.config import Config
from neardupd.errors import NeardupError, StoreError, StoreFullError
from neardupd.health import write_heartbeat
from neardupd.indexer import Indexer
from neardupd.ingest import Ingest
from neardupd.loading import Loading
from neardupd.notify import Notifier
from neardupd.reconcile import Changes, Walk
from neardupd.store import Store, open_store
from neardupd.watcher import Change, Watcher

log = logging.getLogger(__name__)

CHANGES_PER_TICK = 5000
WALK_BUDGET = 500
HEARTBEAT_SECONDS = 2.0
SHUTDOWN_GRACE = 20.0
EXIT_TEMPFAIL = 75
"""sysexits: try again later (systemd restarts the daemon): the database's disk is full, or the
database was deleted or replaced under it."""
EXIT_DATAERR = 65
EXIT_SOFTWARE = 70
T = TypeVar("T")


class DatabaseGone(StoreError):
    """The database file was deleted or replaced while the daemon had it open."""


class Daemon:
    def __init__(self, config: Config, config_file: str | os.PathLike | None = None,
                 load: Callable[[str | os.PathLike | None], Config] | None = None,
                 notifier: Notifier | None = None, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.config_file = config_file
        self.load = load
        self.notifier = notifier or Notifier()
        self.clock = clock
        self.changes: queue.Queue[Change] = queue.Queue()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._walk_wanted: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._walk: Walk | None = None
        self._last_work = self._last_beat = self._last_purge = 0.0
        self._checkpointed = True
        self._maybe_held = True  # rows may be held as missing: look when idle
        self._held_reported = 0

    # --- life ------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; the exit code (0 after SIGTERM)."""
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        faulthandler.register(signal.SIGUSR1)  # `kill -USR1`: every thread's stack to the log
        self._install_signals()
        try:
            self._open()
            self.notifier.ready(f"watching {len(self.roots)} folder(s); loading the index of"
                                f" {self.store.file_count():,} pictures")
            self.request_walk("start")
            while not self._stop.is_set():
                self.tick(self.clock())
            return 0
        except StoreFullError as err:
            log.error("%s; stopping (systemd restarts neardupd; free some space)", err)
            return EXIT_TEMPFAIL
        except DatabaseGone as err:
            log.error("%s", err)
            return EXIT_TEMPFAIL
        except StoreError as err:
            log.error("%s; stopping", err)
            return EXIT_DATAERR
        except Exception:
            log.exception("internal error; stopping (systemd restarts neardupd)")
            return EXIT_SOFTWARE
        finally:
            self._shutdown()

    def _open(self) -> None:
        """The database, the watchers and the query socket at once; the indexes load meanwhile
        (:meth:`_loaded`), and changes wait for them."""
        with self.notifier.start_extended("opening the index (an upgrade takes minutes)", stop=self._stop):
            self.store: Store = open_store(self.config.database)
        self.asked = serve_queries(self.config.database)  # first: it sets the umask for a moment
        self._loading = Loading(self.config.database, self.config.match, self.clock)
        self.watcher = self._start_watcher()
        self.scheduler = BackgroundScheduler(daemon=True)
        self.scheduler.add_job(lambda: self.request_walk("schedule"), "interval",
                               seconds=self.config.daemon.reconcile_every, id="reconcile")
        self.scheduler.start()
        self._beat("starting", self.clock())

    def _loaded(self, now: float) -> bool:
        """Whether the indexes are in (installed at the first turn after they are read); until
        then the loop only reports."""
        if hasattr(self, "indexer"):
            return True
        indexes = self._loading.result(timeout=0.2)
        if indexes is None:
            if now - self._last_beat >= HEARTBEAT_SECONDS:
                self._check_database()
                self._beat("loading", now)
            return False
        self.indexer = Indexer(self.store, self.config, indexes=indexes)
        self.indexer.roots = self.roots
        self.ingest = Ingest(self.indexer, self.config)
        self.applier = Changes(self.indexer, self.config)
        log.info("index of %d pictures loaded in %.1f s", len(indexes.neighbours), self.clock() - self._loading.started)
        self._beat("running", now)
        return True

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
        """Stop everything that was started, whatever went wrong: each step on its own."""
        ingest = getattr(self, "ingest", None)
        busy = ingest.busy if ingest else 0
        self.notifier.stopping(f"stopping: finishing {busy} file(s)")
        healthy_store = hasattr(self, "store") and self.store.still_in_place()
        if ingest and healthy_store:
            self._quietly("finish the files being decoded", lambda: ingest.finish(self.clock, SHUTDOWN_GRACE))
        steps: list[tuple[str, Callable[[], object]]] = []
        if hasattr(self, "scheduler"):
            steps.append(("stop the scheduler", lambda: self.scheduler.shutdown(wait=False)))
        if hasattr(self, "watcher"):
            steps.append(("stop the watcher", self.watcher.stop))
        if ingest:
            steps.append(("stop the decoders", ingest.stop))
        if hasattr(self, "indexer"):
            steps.append(("stop the indexer", self.indexer.close))
        if getattr(self, "asked", None):
            steps.append(("close the query socket", self.asked.close))
        for what, step in steps:
            self._quietly(what, step)
        if not hasattr(self, "store"):
            return
        if healthy_store:
            self._quietly("write the last heartbeat", lambda: self._beat("stopped", self.clock()))
            self._quietly("checkpoint the WAL", self.store.checkpoint)
            left = self._quietly("count the pending files", self.store.pending_count)
            log.info("stopped; %s file(s) left pending for the next start", left if left is not None else "?")
        self.store.close()

    @staticmethod
    def _quietly(what: str, step: Callable[[], T]) -> T | None:
        try:
            return step()
        except Exception as err:  # noqa: BLE001 - shutting down: say it, go on with the rest
            log.warning("while stopping, could not %s (%s)", what, err)
            return None

    # --- one turn of the loop ------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """One turn of the main loop at time ``now``."""
        if not self._loaded(now):
            return
        if self._reload.is_set():
            self._reload.clear()
            self._reload_config()
        busy = self._apply_changes(now)
        busy |= self._step_walk(now)
        busy |= self.ingest.dispatch(now)
        busy |= self.ingest.collect(0.05 if self.ingest.busy else 0.0, now)
        busy |= self._answer_questions()
        if busy:
            self._last_work, self._checkpointed = now, False
        else:
            self._idle(now)
        if now - self._last_beat >= HEARTBEAT_SECONDS:
            self._check_database()
            self._mend()
            self._beat("running", now)

    def _idle(self, now: float) -> None:
        if self._maybe_held and now - self._last_purge > 2.0 and self._walk is None and not self.ingest.busy \
                and self.store.next_due() is None:
            self._last_purge = now
            self._purge(now)
        if not self._checkpointed and now - self._last_work > self.config.daemon.idle_checkpoint:
            self.store.checkpoint()
            self._checkpointed = True
            log.debug("idle: WAL checkpointed")
        with contextlib.suppress(queue.Empty):  # sleep until a change arrives, at most a moment
            self.changes.put(self.changes.get(timeout=0.2))

    def _purge(self, now: float) -> None:
        """Delete the missing rows the deletion guard allows, judging each root afresh."""
        removed = held = 0
        for root in self.roots:
            with self.indexer.writing():
                verdict = self.indexer.purge_missing(root, now)
            removed, held = removed + len(verdict.delete), held + verdict.held
        self.ingest.counters.removed += removed
        if held and held != self._held_reported:  # said once per change, not at every look
            log.info("%d indexed file(s) held as missing: their root is unhealthy, or too many went at once "
                     "(deleted after %gs with the root healthy)", held, self.config.daemon.missing_grace)
        self._held_reported = held
        self._maybe_held = held > 0

    def _answer_questions(self) -> bool:
        questions = _drain(self.asked.questions) if self.asked else []
        for question in questions:
            question.answer.put(self._answer(question.item))
        return bool(questions)

    def _answer(self, item: Analysed) -> dict:
        try:
            found = self.indexer.matches_of(item)
            return answer([(self.store.path_of(match.other), match) for match in found if match.other is not None])
        except StoreError:
            raise
        except Exception as err:  # noqa: BLE001 - one client's picture must not stop the daemon
            log.exception("query of %s failed", os.fsdecode(item.path))
            return {"error": f"matching failed: {err}"}

    def _apply_changes(self, now: float) -> bool:
        batch = _drain(self.changes, CHANGES_PER_TICK)
        if not batch:
            return False
        with self.indexer.writing():
            folders = [folder for change in batch if (folder := self.applier.apply(change, now))]
        for folder in folders:
            with self.indexer.writing():
                self.applier.queue_folder(folder, self.patterns, now)
        self.ingest.counters.moved += self.applier.take_moved()
        self._maybe_held = True
        return True

    def _step_walk(self, now: float) -> bool:
        if self._walk is None:
            reasons = _drain(self._walk_wanted)
            if not reasons:
                return False
            log.info("reconciling %d folder(s) (%s)", len(self.roots), ", ".join(sorted(set(reasons))))
            self._walk = Walk(self.indexer, self.roots, self.patterns, self.config, ", ".join(reasons))
        if self._walk.step(now, WALK_BUDGET):
            walk, self._walk = self._walk, None
            self._maybe_held = True
            log.info("reconciliation done: %d files on disk, %d queued, %d newly missing",
                     walk.seen, walk.queued, walk.missing)
        return True

    # --- health, status, reload ------------------------------------------------------------------

    def healthy(self) -> bool:
        ingest = getattr(self, "ingest", None)
        return self.watcher.alive() and (self._loading.alive() if ingest is None else ingest.pool.alive())

    def _check_database(self) -> None:
        if not self.store.still_in_place():
            raise DatabaseGone(self.store.path, "the database file was deleted or replaced while the daemon ran; "
                               "stopping so that a restart opens it afresh (what it wrote since is lost)")

    def _beat(self, state: str, now: float) -> None:
        """Report: the heartbeat in the database, STATUS (and WATCHDOG while healthy) to systemd."""
        self._last_beat = now
        walk, ingest = self._walk, getattr(self, "ingest", None)
        if ingest is None:  # the indexes are still being read
            waited = f"reading the index ({self.clock() - self._loading.started:.0f} s)"
            status = f"{state}: {waited}; changes wait" if state != "stopped" else f"stopped while {waited}"
        else:
            status = (f"{state}: {ingest.counters.text()}"
                      + (f"; reconciling ({walk.seen} files walked, {walk.queued} queued)" if walk else "")
                      + ("; work pending" if self.store.next_due() is not None else ""))
        write_heartbeat(self.store, state, status, now)
        self.notifier.status(status)
        if state in ("running", "loading") and self.healthy():
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
        self.ingest.pool.revive()

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
        old, self.config = self.config, fresh
        self.indexer.reconfigure(fresh)
        self.indexer.roots = self.roots
        self.applier.config = fresh
        if (fresh.daemon.roots, fresh.daemon.poll, fresh.daemon.exclude) != (old.daemon.roots, old.daemon.poll,
                                                                              old.daemon.exclude):
            self.watcher.stop()
            self.watcher = self._start_watcher()
        self.scheduler.reschedule_job("reconcile", trigger="interval", seconds=fresh.daemon.reconcile_every)
        self.ingest.reconfigure(fresh, self.clock, SHUTDOWN_GRACE)
        log.info("config reloaded from %s", self.config_file)
        self.notifier.ready("config reloaded")
        self.request_walk("config reloaded")


def _drain(source: queue.Queue[T] | queue.SimpleQueue[T], limit: int = 1 << 30) -> list[T]:
    """Up to ``limit`` items already waiting in ``source``, without blocking."""
    items: list[T] = []
    while len(items) < limit:
        try:
            items.append(source.get_nowait())
        except queue.Empty:
            break
    return items


def run(config: Config, config_file: str | os.PathLike | None = None,
        load: Callable[[str | os.PathLike | None], Config] | None = None) -> int:
    """Run the daemon in the foreground until SIGTERM; return the exit code."""
    if not config.daemon.roots:
        raise NeardupError(config_file, "no folders to watch: set daemon.roots in the config, or pass --root")
    for root in config.daemon.roots:
        if not Path(root).expanduser().is_dir():
            log.warning("%s is not a folder now; it is held, and looked at again at each reconciliation", root)
    return Daemon(config, config_file, load).run()
