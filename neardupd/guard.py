"""Root health and the deletion guard, shared by ``neardupd scan`` and the daemon.

An indexed file found gone is first marked *missing* (its row and matches are kept). Its row is
deleted only when that is safe:

* never while its root is unhealthy: vanished, empty, or on another device (an unmounted share
  looks exactly like a folder whose photos were all deleted);
* when many of a root's files went at once (more than ``missing_share`` of them *and* more than
  ``missing_min``), only after ``missing_grace`` seconds with the root healthy;
* otherwise at once (a few photos deleted by hand).

Everything takes the time as ``now`` (Unix seconds), so the rules are tested without waiting.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from neardupd.config import DaemonSettings
from neardupd.store import Store, iso_time

log = logging.getLogger(__name__)

HEALTHY, VANISHED, EMPTY, OTHER_DEVICE = "healthy", "vanished", "empty", "other_device"


def root_health(root: bytes, recorded_device: int | None) -> tuple[str, int | None]:
    """(state, device) of a root now."""
    try:
        info = os.stat(root)
    except OSError:
        return VANISHED, None
    if not stat.S_ISDIR(info.st_mode):
        return VANISHED, None
    try:
        with os.scandir(root) as entries:
            empty = next(entries, None) is None
    except OSError:
        return VANISHED, info.st_dev
    if empty:
        return EMPTY, info.st_dev
    if recorded_device is not None and info.st_dev != recorded_device:
        return OTHER_DEVICE, info.st_dev
    return HEALTHY, info.st_dev


def seconds_since(iso: str | None, now: float) -> float:
    """Seconds from an ISO 8601 time recorded in the store to ``now`` (0 when none is recorded)."""
    return now - datetime.fromisoformat(iso).timestamp() if iso else 0.0


def judge_root(store: Store, root: bytes, settings: DaemonSettings, now: float) -> str:
    """Look at a root, record its state (call inside a transaction) and return it. A root found on
    another device is accepted there (healthy) after ``missing_grace`` seconds in that state."""
    recorded = store.root(root)
    device, previous, since = (recorded.device, recorded.state, recorded.since) if recorded else (None, "", None)
    state, now_device = root_health(root, device)
    if state == OTHER_DEVICE and previous == OTHER_DEVICE and seconds_since(since, now) >= settings.missing_grace:
        log.warning("%s: now on device %s for %gs; accepting it", os.fsdecode(root), now_device,
                    settings.missing_grace)
        state, device, previous = HEALTHY, now_device, ""
    if device is None:
        device = now_device
    store.set_root(root, device, state, since if state == previous else iso_time(now), iso_time(now))
    if state != previous and state != HEALTHY:
        log.warning("%s is %s: its indexed files are held as missing, none is deleted",
                    os.fsdecode(root), state.replace("_", " "))
    return state


def too_many_gone(gone: int, total: int, settings: DaemonSettings) -> bool:
    """Whether ``gone`` of a root's ``total`` files going at once looks like an accident (a share,
    a disk, a sync gone wrong) rather than photos deleted by hand.

    >>> settings = DaemonSettings()  # 5 % and 20 files
    >>> too_many_gone(1, 3, settings), too_many_gone(21, 100, settings), too_many_gone(21, 1000, settings)
    (False, True, False)
    """
    return gone > settings.missing_share * total and gone > settings.missing_min


@dataclass
class Verdict:
    """What may happen to a root's missing rows now."""

    delete: list[int] = field(default_factory=list)
    back: list[int] = field(default_factory=list)
    """Rows whose file is there again."""
    held: int = 0


def missing_verdict(store: Store, root: bytes, settings: DaemonSettings, now: float,
                    state: str | None = None) -> Verdict:
    """Say which of the root's missing rows may go, judging its health afresh unless ``state`` was
    just judged (a share unmounted since the last walk holds its rows); call inside a transaction
    (the root's state is recorded)."""
    rows = store.files_under(root)
    missing = [row for row in rows if row.missing_since is not None]
    verdict = Verdict()
    if not missing:
        return verdict
    if (state or judge_root(store, root, settings, now)) != HEALTHY:
        verdict.held = len(missing)
        return verdict
    at_once = too_many_gone(len(missing), len(rows), settings)
    root_settled = seconds_since(store.root(root).since, now) >= settings.missing_grace
    for row in missing:
        if os.path.lexists(row.path):
            verdict.back.append(row.id)
        elif not at_once or (root_settled and seconds_since(row.missing_since, now) >= settings.missing_grace):
            verdict.delete.append(row.id)
        else:
            verdict.held += 1
    if at_once and not verdict.delete:
        log.debug("%s: %d of %d files gone at once; held as missing for %gs with the root healthy",
                  os.fsdecode(root), len(missing), len(rows), settings.missing_grace)
    return verdict


def mark_gone(store: Store, root: bytes, present: Sequence[bytes] | set[bytes], now: float) -> int:
    """Mark the rows below ``root`` whose file is not in ``present`` and not on disk as missing;
    return how many were newly marked (call inside a transaction)."""
    marked = 0
    for row in store.files_under(root):
        if row.path not in present and row.missing_since is None and not os.path.lexists(row.path):
            store.mark_missing(row.id, iso_time(now))
            marked += 1
    return marked


def forget_gone_paths(store: Store, root: bytes, present: Sequence[bytes] | set[bytes] = ()) -> None:
    """Forget the pending, failed and quarantined paths below ``root`` that are not in ``present``
    and not on disk (call inside a transaction)."""
    for table in ("pending", "errors", "quarantine"):
        for path in store.paths_under(table, root):
            if path not in present and not os.path.lexists(path):
                store.forget_path(table, path)


def hold_all(store: Store, root: bytes, now: float) -> int:
    """Mark every row below an unhealthy root as missing (held, not deleted); return how many were
    newly marked (call inside a transaction)."""
    marked = 0
    for row in store.files_under(root):
        if row.missing_since is None:
            store.mark_missing(row.id, iso_time(now))
            marked += 1
    return marked
