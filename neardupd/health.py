"""``neardupd status`` and ``neardupd check``: read-only looks at an index and its daemon."""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

from neardupd import signature
from neardupd.config import Config
from neardupd.decode import decode_file
from neardupd.errors import DecodeError
from neardupd.store import Store, display_path, status_counts

STALE_HEARTBEAT = 30.0
"""Seconds without a heartbeat after which a daemon counts as not running."""


def daemon_status(store: Store) -> dict:
    counts = status_counts(store)
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
              f"failed    {counts['errors']} (decode errors, see `dupes` / the errors table)",
              f"quarantined {counts.get('quarantined', 0)} (decoder crashed or hung)",
              f"copies    {counts['pairs']} pairs"]
    return "\n".join(lines)


def check(store: Store, config: Config, sample: int, seed: int | None = None) -> tuple[list[str], list[str]]:
    """(problems, notes): SQLite integrity and foreign keys, then ``sample`` random indexed files
    that are unchanged on disk re-read: their SHA-256 must equal the stored digest and their pHash
    the stored one."""
    connection = store.connection
    problems, notes = [], []
    integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        problems += [f"integrity: {line}" for line in integrity]
    violations = connection.execute("PRAGMA foreign_key_check").fetchall()
    problems += [f"foreign key: {tuple(row)}" for row in violations]
    rows = connection.execute(
        "SELECT f.path_bytes, f.size, f.mtime_ns, f.file_digest, s.phash FROM files f "
        "JOIN signatures s ON s.file_id = f.id").fetchall()
    notes.append(f"integrity ok, {len(violations)} foreign key violation(s); {len(rows)} files indexed")
    checked = skipped = 0
    for path, size, mtime_ns, digest, phash in random.Random(seed).sample(rows, min(sample, len(rows))):
        try:
            info = os.stat(path)
        except OSError:
            skipped += 1
            continue
        if (info.st_size, info.st_mtime_ns) != (size, mtime_ns):
            skipped += 1  # changed since indexing: the daemon will see to it
            continue
        with open(path, "rb") as handle:
            if hashlib.file_digest(handle, "sha256").digest() != digest:
                problems.append(f"{display_path(path)}: its bytes no longer match the stored digest")
                continue
        try:
            decoded = decode_file(path, work_size=config.decode.work_size, max_pixels=config.decode.max_pixels)
        except DecodeError as err:
            problems.append(f"{display_path(path)}: indexed, but does not decode now ({err.reason})")
            continue
        if signature.compute(decoded.pixels).phash != signature.to_unsigned(phash):
            problems.append(f"{display_path(path)}: its pHash differs from the stored one")
        checked += 1
    notes.append(f"re-read {checked} sample file(s) against their stored digest and pHash "
                 f"({skipped} skipped: gone or changed since indexed)")
    return problems, notes
