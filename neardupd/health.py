"""The daemon's health: its heartbeat and counters (written), ``neardupd status`` and ``neardupd check``
(read-only looks at an index and its daemon)."""

from __future__ import annotations

import hashlib
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from neardupd import signature
from neardupd.config import Config, decoded_pixel_limit
from neardupd.decode import decode_file
from neardupd.errors import DecodeError
from neardupd.files import open_regular
from neardupd.store import Store, display_path

STALE_HEARTBEAT = 30.0
"""Seconds without a heartbeat after which a daemon counts as not running."""


@dataclass
class Counters:
    """What the daemon did since it started (shown in STATUS and ``neardupd status``)."""

    decoded: int = 0
    """Files handed back by a decoder (each decode, retries included)."""
    indexed: int = 0
    failed: int = 0
    quarantined: int = 0
    moved: int = 0
    removed: int = 0

    def text(self) -> str:
        return ", ".join(f"{value} {name}" for name, value in asdict(self).items()) + " since start"


def write_counters(store: Store, counters: Counters) -> None:
    """Record the counters (inside the transaction that made them change, so a reader never sees a
    stored result without its count)."""
    store.set_setting("daemon_decoded", str(counters.decoded))


def write_heartbeat(store: Store, state: str, status: str, now: float) -> None:
    """The daemon is alive (its pid, the time, its state and status line), in one transaction."""
    with store.transaction():
        store.set_setting("daemon_pid", str(os.getpid()))
        store.set_setting("daemon_heartbeat", f"{now:.3f}")
        store.set_setting("daemon_state", state)
        store.set_setting("daemon_status", status)


def daemon_status(store: Store, now: float | None = None) -> dict:
    counts = store.status_counts(time.time() if now is None else now)
    pid = int(store.setting("daemon_pid", "0") or 0)
    beat = float(store.setting("daemon_heartbeat", "0") or 0)
    state = store.setting("daemon_state", "never run") or ""
    alive = pid > 0 and _process_exists(pid)
    age = time.time() - beat if beat else None
    running = alive and state not in ("stopped", "never run") and age is not None and age < STALE_HEARTBEAT
    return {"counts": counts,
            "daemon": {"running": running, "pid": pid or None, "state": state,
                       "heartbeat_age": round(age, 1) if age is not None else None,
                       "status": store.setting("daemon_status", "") or ""}}


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status_text(state: dict, database: Path) -> str:
    counts, daemon = state["counts"], state["daemon"]
    if daemon["running"]:
        health = f"running (pid {daemon['pid']}, heartbeat {daemon['heartbeat_age']} s ago)"
    elif daemon["pid"] and daemon["state"] not in ("stopped",):
        health = f"NOT RUNNING (last state {daemon['state']!r}, heartbeat {daemon['heartbeat_age']} s ago)"
    else:
        health = "not running"
    lines = [f"index     {database}",
             f"daemon    {health}"]
    if daemon["status"]:
        lines.append(f"          {daemon['status']}")
    lines += [f"indexed   {counts['files']} files ({counts.get('missing', 0)} held as missing)",
              f"pending   {counts.get('pending', 0)} ({counts.get('due', 0)} due now)",
              f"failed    {counts['errors']} (files that cannot be indexed: `neardupd failed` lists them)",
              f"quarantined {counts.get('quarantined', 0)} (decoder crashed or hung)",
              f"copies    {counts['pairs']} pairs"]
    return "\n".join(lines)


def check(store: Store, config: Config, sample: int, seed: int | None = None) -> tuple[list[str], list[str]]:
    """(problems, notes): SQLite integrity and foreign keys (a damaged page is a problem, not a
    crash), then ``sample`` random indexed files that are unchanged on disk re-read: their SHA-256
    must equal the stored digest and their pHash the stored one."""
    problems = store.integrity_problems()
    if problems:
        return problems, ["the database is damaged: files were not re-read"]
    rows = store.sample_files()
    notes = [f"integrity ok, no foreign key violation; {len(rows)} files indexed"]
    checked = skipped = 0
    for path, size, mtime_ns, digest, phash in random.Random(seed).sample(rows, min(sample, len(rows))):
        problem = _recheck(path, size, mtime_ns, digest, phash, config)
        if problem is None:
            skipped += 1
        elif problem:
            problems.append(f"{display_path(path)}: {problem}")
        else:
            checked += 1
    notes.append(f"re-read {checked} sample file(s) against their stored digest and pHash "
                 f"({skipped} skipped: gone or changed since indexed)")
    return problems, notes


def _recheck(path: bytes, size: int, mtime_ns: int, digest: bytes, phash: int, config: Config) -> str | None:
    """'' when the file still has its digest and pHash, a problem, or None when it changed or went."""
    try:
        info = os.stat(path)
        if (info.st_size, info.st_mtime_ns) != (size, mtime_ns):
            return None  # changed since indexing: the daemon will see to it
        with open_regular(path) as handle:
            if hashlib.file_digest(handle, "sha256").digest() != digest:
                return "its bytes no longer match the stored digest"
    except OSError:
        return None
    try:
        decoded = decode_file(path, work_size=config.decode.work_size, max_pixels=config.decode.max_pixels,
                              max_decoded_pixels=decoded_pixel_limit(config))
    except DecodeError as err:
        return f"indexed, but does not decode now ({err.reason})"
    if signature.compute(decoded.pixels).phash != signature.to_unsigned(phash):
        return "its pHash differs from the stored one"
    return ""
