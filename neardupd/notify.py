"""sd_notify without libsystemd: datagrams to ``$NOTIFY_SOCKET`` (READY, STATUS, WATCHDOG, STOPPING).

>>> Notifier({}).send("READY=1")  # no socket (not under systemd): nothing to do
False
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_seconds = int(usec) / 1e6 if usec.isdigit() and mine else None
        """systemd's WatchdogSec, when it asks this process for pings."""

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram; False when there is no socket or it fails.
        Never blocks: a message the listener has no room for is dropped (the next one follows soon)."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto("\n".join(fields).encode(), self.address)
            return True
        except BlockingIOError:
            log.debug("systemd's notify socket is full; dropped %s", fields)
            return False
        except OSError as err:
            log.warning("cannot notify systemd at %s (%s)", self.address.replace("\0", "@"), err)
            return False

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    @contextmanager
    def start_extended(self, status: str, every: float = 10.0,
                       stop: threading.Event | None = None) -> Iterator[None]:
        """While a start-up step of unknown length runs, ask systemd every ``every`` seconds for
        3 x ``every`` more (EXTEND_TIMEOUT_USEC), so TimeoutStartSec does not stop it half done: an
        upgrade of a million pictures' index takes minutes, and would start again after each restart.
        Not once ``stop`` is set: asked to stop, the process gets TimeoutStopSec, no more."""
        done = threading.Event()

        def extend() -> None:
            while not (stop and stop.is_set()):
                self.send(f"EXTEND_TIMEOUT_USEC={round(3 * every * 1e6)}", f"STATUS={status}")
                if done.wait(every):
                    return

        beating = threading.Thread(target=extend, name="start-extended", daemon=True)
        beating.start()
        try:
            yield
        finally:
            done.set()
            beating.join()

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def reloading(self) -> None:
        self.send("RELOADING=1")

    def stopping(self, status: str = "stopping") -> None:
        self.send("STOPPING=1", f"STATUS={status}")
