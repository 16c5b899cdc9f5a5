"""A real ``neardupd run`` subprocess for tests: config file, sd_notify socket, helpers to wait on it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def wait_until(predicate: Callable[[], object], timeout: float = 60.0, every: float = 0.1, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")


def mount_tmpfs(path: Path, size: str | None = None) -> bool:
    """Mount a fresh tmpfs on ``path`` (of ``size``, e.g. "600k"); False where mounting is not allowed."""
    if shutil.which("mount") is None:
        return False
    options = ["-o", f"size={size}"] if size else []
    return subprocess.run(["mount", "-t", "tmpfs", *options, "neardupd-test", str(path)],
                          capture_output=True).returncode == 0


def distinct_picture(seed: int, size: int = 96) -> Image.Image:
    """A picture unlike any other seed's: coloured noise, coarse enough to survive the thumb."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)
    return Image.fromarray(cells).resize((size, size), Image.Resampling.NEAREST)


class DaemonProcess:
    """``neardupd run`` on ``roots`` with a fresh database under ``home``."""

    def __init__(self, home: Path, roots: list[Path], *, quiet: float = 0.3, extra: str = "",
                 env: dict[str, str] | None = None) -> None:
        self.home = home
        self.database = home / "index.sqlite"
        self.config = home / "neardupd.toml"
        self.log = home / "daemon.log"
        self.write_config(roots, quiet=quiet, extra=extra)
        self.env = env or {}
        self.process: subprocess.Popen | None = None
        self.messages: list[str] = []
        self.socket_path = str(home / "notify.sock")
        self.socket: socket.socket | None = None
        self.seen_decoders: set[int] = set()

    def write_config(self, roots: list[Path], *, quiet: float = 0.3, workers: int = 2, extra: str = "") -> None:
        root_list = ", ".join(f'"{root}"' for root in roots)
        self.config.write_text(f'database = "{self.database}"\n\n[daemon]\nroots = [{root_list}]\n'
                               f"quiet_period = {quiet}\nworkers = {workers}\nidle_checkpoint = 1.0\n{extra}\n")

    def start(self, *, wait_ready: bool = True) -> DaemonProcess:
        if self.socket is None:
            self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            if os.path.exists(self.socket_path):
                os.unlink(self.socket_path)
            self.socket.bind(self.socket_path)
            self.socket.settimeout(0.2)
            self._listening = True
            threading.Thread(target=self._listen, daemon=True).start()
        self.messages.clear()  # a READY=1 of an earlier run must not count for this one
        env = {**os.environ, "NOTIFY_SOCKET": self.socket_path, "WATCHDOG_USEC": "2000000", **self.env}
        env.pop("WATCHDOG_PID", None)
        self.process = subprocess.Popen([sys.executable, "-m", "neardupd.cli", "run", "--config", str(self.config)],
                                        cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                        stderr=open(self.log, "ab"))  # noqa: SIM115 - kept for the process
        if wait_ready:
            wait_until(lambda: any(m.startswith("READY=1") for m in self.read_messages()), 60, what="READY=1")
            self.decoders()
        return self

    def _listen(self) -> None:
        """Drain the notify socket as systemd does, so the daemon's messages are never dropped."""
        while self._listening and self.socket is not None:
            try:
                self.messages.append(self.socket.recv(65536).decode())
            except (TimeoutError, OSError):
                continue

    def read_messages(self) -> list[str]:
        return list(self.messages)

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """A read-only query, as another program would make it."""
        if not self.database.exists():
            return []
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute(sql, params).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return []
            raise
        finally:
            connection.close()

    def indexed(self) -> set[str]:
        return {os.fsdecode(row[0]) for row in self.query("SELECT path_bytes FROM files WHERE missing_since IS NULL")}

    def setting(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def idle(self) -> bool:
        """Nothing pending and nothing being decoded."""
        status = self.setting("daemon_status") or ""
        return not self.query("SELECT 1 FROM pending LIMIT 1") and "work pending" not in status \
            and "reconciling" not in status and "reading the index" not in status

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        if self.socket is not None:
            self._listening = False
            time.sleep(0.3)
            self.socket.close()
            self.socket = None

    def decoders(self) -> list[int]:
        """Process ids of the daemon's decoder processes (its children, bar multiprocessing's helper)."""
        assert self.process is not None
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout.split()
        found = [int(pid) for pid in children if "spawn_main" in _cmdline(int(pid))]
        self.seen_decoders.update(found)
        return found

    def decoders_left(self, within: float = 5.0) -> list[int]:
        """Decoder processes seen so far that still run ``within`` seconds from now (none should,
        once the daemon is gone)."""
        deadline = time.monotonic() + within
        while True:
            left = [pid for pid in self.seen_decoders if "spawn_main" in _cmdline(pid) and not _zombie(pid)]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.1)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True
