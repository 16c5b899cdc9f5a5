"""The candidate indexes read on a thread of their own, so that the daemon is ready, watching and
queueing changes, while a large library's indexes load (a minute at a million pictures)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from neardupd.config import MatchSettings
from neardupd.matcher import Indexes, load_indexes
from neardupd.store import open_store


class Loading:
    """:func:`~neardupd.matcher.load_indexes` on a thread of its own, with a read-only connection of its own."""

    def __init__(self, database: Path, settings: MatchSettings, clock: Callable[[], float] = time.time) -> None:
        self.started = clock()
        self._indexes: Indexes | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._load, args=(database, settings), name="index-loading", daemon=True)
        self._thread.start()

    def _load(self, database: Path, settings: MatchSettings) -> None:
        try:
            with open_store(database, readonly=True) as store:
                self._indexes = load_indexes(store, settings)
        except BaseException as err:  # noqa: BLE001 - handed to the thread that waits for the indexes
            self._error = err
        finally:
            self._done.set()

    def alive(self) -> bool:
        return self._thread.is_alive() or self._done.is_set()

    def result(self, timeout: float = 0.0) -> Indexes | None:
        """The indexes once read, else None after waiting ``timeout`` seconds; what reading them
        raised is raised here."""
        if not self._done.wait(timeout):
            return None
        if self._error is not None:
            raise self._error
        return self._indexes
