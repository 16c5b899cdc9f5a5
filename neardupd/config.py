"""Configuration: frozen dataclasses with every default, loaded from TOML.

Example file (every key optional; README.md, "Configuration", lists them all)::

    database = "/var/lib/neardupd/index.sqlite"

    [decode]
    max_pixels = 200_000_000

    [match]
    threshold = 0.65

    [daemon]
    roots = ["/srv/photos"]
    quiet_period = 10.0
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neardupd.errors import ConfigError

DATABASE_ENV = "NEARDUPD_DB"


def default_database() -> Path:
    """``$NEARDUPD_DB``, else ``$XDG_DATA_HOME/neardupd/index.sqlite`` (~/.local/share/...)."""
    if os.environ.get(DATABASE_ENV):
        return Path(os.environ[DATABASE_ENV])
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "neardupd" / "index.sqlite"


@dataclass(frozen=True)
class DecodeSettings:
    work_size: int = 256
    """Long side, in pixels, of the array every signature is computed from."""
    max_pixels: int = 200_000_000
    """Pictures with more pixels are refused as ``too_large`` (decompression bombs)."""


@dataclass(frozen=True)
class MatchSettings:
    radius: int = 16
    """Largest Hamming distance (of 64 bits) at which a stored hash is a candidate."""
    candidates: int = 3
    """The nearest this many candidates are confirmed per new picture... (3 rather than 5: the same
    figures on bench-dev, augly_unseen and the frames set, no copy crossing the threshold either way,
    in 5 % less indexing time: the fourth and fifth nearest hashes are chance neighbours.)"""
    overlap_radius: int = 12
    """Radius for window-to-window pairs (two crops of one picture): each picture pair has 1,332
    of them, so at the full radius strangers would crowd the candidates of a large index."""
    always_within: int = 8
    """...and every candidate at this distance or closer, however many (large copy groups)."""
    large_library: int = 50_000
    """From this many pictures on, hashes are searched only as far as ``large_radius`` and
    ``large_overlap_radius``: the nearest few beyond are strangers by chance. With uniform 64-bit
    hashes at 50,000 pictures a new picture's dihedral forms already meet ~650 stored windows within
    16 bits by chance, its windows ~15 stored windows within 12; copies further than these radii are
    left to the keypoint candidates. Nor are the stored pictures' windows indexed from then on
    (:func:`neardupd.rules.indexed_variants_from`): 720 of 1,021 B of memory a picture at a million."""
    large_radius: int = 8
    """Radius of the content relations in a large library (expected strangers within it at a million
    pictures: 0.04 for all of a new picture's probes, real pHashes being up to ~50x likelier to meet;
    0.08 for forms against windows alone, when windows were indexed)."""
    large_overlap_radius: int = 5
    """Radius between two rotated views in a large library, whose windows are not indexed (expected
    strangers at a million pictures: 0.00002 at 5 bits, 0.01 at 8; window to window it was 0.0006 and
    0.36); it keeps the search to its first two steps of lookups."""
    floor: float = 0.35
    """Pairs scoring below this are not stored at all."""
    threshold: float = 0.65
    """Pairs at or above this are reported as copies (the views and ``dupes`` default)."""
    min_contrast: float = 4.0
    """Flatter pictures (grey-level std. dev. of the thumb) only match exactly or by pixels."""
    min_side: int = 16
    """Smaller pictures (in pixels) only match exactly or by pixels."""
    min_inliers: int = 20
    """Keypoint pairs a fitted homography needs before its alignment counts (strangers: 0-15)."""
    min_agreement: float = 0.4
    """Share of aligned photo cells that must agree; an alignment agreeing less is a shared frame,
    caption or background, and vetoes the thumbs' score."""
    textured_keypoints: int = 128
    """Two pictures with this many keypoints each that no homography aligns are different photos:
    their thumbs' score is capped at ``unaligned_cap``."""
    unaligned_cap: float = 0.6
    min_aligned: float = 0.5
    """Blurred thumbs compared where the keypoints aligned them must correlate this well on average
    over every block (two photos under the same caption or big text share keypoints, not pictures:
    0.04-0.28 on augly_unseen's text_big strangers; copies 0.75-0.99, a photo in a screenshot 0.24-0.86)."""
    feature_candidates: int = 4
    """Stored pictures sharing the most keypoints with a new one that are confirmed too..."""
    framed_feature_candidates: int = 8
    """...and with a new picture of several photo regions (a screenshot, a collage): other screenshots
    of the same app share its ad's and avatars' keypoints, which agree perfectly and crowd out the
    photo's original (augly_unseen: ranked 5th to 7th behind them for 8 screenshots)."""
    min_votes: int = 3
    """New keypoints that must meet one of a stored picture's for it to be a candidate (the candidates
    are ranked by how well their matches agree on one scale and turn, so 3 is enough: augly_unseen's
    keypoint candidates 703 of 885 copies at 3, 686 at 4)."""


@dataclass(frozen=True)
class FileSettings:
    follow_symlinks: bool = False
    """Open symlinks whose target lies outside the roots (by default they are recorded as
    ``outside_roots`` and never opened: a link to /etc/shadow or to another user's photos stays out)."""


DEFAULT_EXCLUDE = (".*", "*.part", "*.tmp", "*.crdownload", "@eaDir", "#recycle", "Thumbs.db", "._*")
"""Temporary and system names never indexed (``.*`` covers .DS_Store and rsync's .name.XXXXXX)."""


@dataclass(frozen=True)
class DaemonSettings:
    roots: tuple[str, ...] = ()
    """Folders to watch (``neardupd run --root`` adds more)."""
    poll: tuple[str, ...] = ()
    """Roots to scan at intervals instead of inotify, even when local (network mounts are found
    from the mount table: NFS, CIFS/SMB, FUSE, ...)."""
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    """Name patterns (fnmatch) never indexed, on any part of a path."""
    quiet_period: float = 10.0
    """Seconds a file's size and mtime must stay the same before it is decoded (it may be copying)."""
    reconcile_every: float = 6 * 3600.0
    """Seconds between full walks comparing the disk with the database."""
    poll_interval: float = 300.0
    """Seconds between scans of polled roots."""
    workers: int = 2
    """Decoder processes."""
    worker_memory_mb: int = 2048
    """Address-space limit of each decoder process."""
    decode_timeout: float = 120.0
    """Seconds one file may take in a decoder before it is killed and the file quarantined."""
    missing_share: float = 0.05
    """Removals above this share of a root's files..."""
    missing_min: int = 20
    """...and above this many files are held as missing (in a folder of 3 photos, deleting one is
    not an accident)..."""
    missing_grace: float = 3600.0
    """...until this many seconds pass with the root healthy."""
    truncated_retries: int = 3
    """A file that decodes as truncated is retried this many times (it may still be copying) before it is
    recorded as truncated."""
    idle_checkpoint: float = 30.0
    """Seconds without work after which the WAL is checkpointed."""


RULES = ("decided", "protected", "likely_original", "lossless", "pixels", "less_compressed", "metadata",
         "earlier_capture", "plain_name")
"""The keep-best rules by name (what each does: neardupd/review/keep.py)."""


@dataclass(frozen=True)
class KeepSettings:
    order: tuple[str, ...] = RULES
    """The keep-best rules, best first: the first that tells a group's files apart chooses the one kept
    (see neardupd/review/keep.py and README.md, "Review and clean-up")."""
    protected: tuple[str, ...] = ()
    """Folders whose files are kept before any other (and never moved)."""
    quarantine: Path = Path()
    """Where ``neardupd act --apply`` moves the copies (default: ``quarantine/`` beside the database)."""


@dataclass(frozen=True)
class Config:
    database: Path = field(default_factory=default_database)
    decode: DecodeSettings = field(default_factory=DecodeSettings)
    match: MatchSettings = field(default_factory=MatchSettings)
    files: FileSettings = field(default_factory=FileSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    keep: KeepSettings = field(default_factory=KeepSettings)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


DECODER_BASE_MB = 640
"""Address space a decoder process takes before it decodes anything (Python, NumPy, OpenCV, Pillow,
libheif; measured 482 MB, with room for thread stacks)."""
BYTES_PER_DECODED_PIXEL = 16
"""Address space a decode needs per decoded pixel at its peak (measured 9 for PNG, 11-13 for HEIC;
RGBA and 16-bit pictures need more)."""


def decoded_pixel_limit(config: Config) -> int:
    """The most pixels a picture may have *as decoded* (a JPEG after ``draft()`` scaling): the
    smaller of ``decode.max_pixels`` and what ``daemon.worker_memory_mb`` can hold, so a picture
    the memory limit cannot decode is refused as ``too_large`` before it is tried, in a decoder
    process and in ``neardupd scan`` alike.

    >>> decoded_pixel_limit(Config()) // 1_000_000
    92
    """
    room = (config.daemon.worker_memory_mb - DECODER_BASE_MB) * 1024 * 1024
    return max(1, min(config.decode.max_pixels, room // BYTES_PER_DECODED_PIXEL))


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read a TOML config file; ``None`` gives the defaults. Unknown keys are errors."""
    if path is None:
        return Config()
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except OSError as err:
        raise ConfigError(path, f"cannot read the config file ({err.strerror})") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, f"not valid TOML: {err}") from err
    return check(_build(Config, raw, path, ""), path)


def check(config: Config, path: str | os.PathLike[str] | None = None) -> Config:
    """Refuse values that cannot work (negative times, no workers, shares outside 0..1)."""
    daemon = config.daemon
    checks = (("daemon.quiet_period", daemon.quiet_period < 0),
              ("daemon.reconcile_every", daemon.reconcile_every <= 0),
              ("daemon.poll_interval", daemon.poll_interval <= 0),
              ("daemon.workers", daemon.workers < 1),
              ("daemon.worker_memory_mb", daemon.worker_memory_mb < DECODER_BASE_MB + 64),
              ("daemon.decode_timeout", daemon.decode_timeout <= 0),
              ("daemon.missing_share", not 0 <= daemon.missing_share <= 1),
              ("daemon.missing_grace", daemon.missing_grace < 0),
              ("daemon.missing_min", daemon.missing_min < 0),
              ("daemon.truncated_retries", daemon.truncated_retries < 0),
              ("daemon.idle_checkpoint", daemon.idle_checkpoint <= 0),
              ("decode.work_size", config.decode.work_size < 32),
              ("decode.max_pixels", config.decode.max_pixels < 1),
              ("match.radius", not 0 <= config.match.radius <= 64),
              ("match.large_radius", not 0 <= config.match.large_radius <= 64),
              ("match.large_overlap_radius", not 0 <= config.match.large_overlap_radius <= 64),
              ("match.large_library", config.match.large_library < 0))
    problems = [name for name, bad in checks if bad]
    unknown = [rule for rule in config.keep.order if rule not in RULES]
    if unknown:
        raise ConfigError(path, f"keep.order: unknown rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}")
    if problems:
        raise ConfigError(path, f"out of range: {', '.join(problems)} (see README.md, Configuration)")
    return config


def _build(cls: type, raw: dict[str, Any], path: str | os.PathLike[str], prefix: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(path, f"unknown setting {prefix}{key!r}; known: {', '.join(sorted(known))}")
        default = known[key].default_factory() if known[key].default_factory is not dataclasses.MISSING \
            else known[key].default
        values[key] = _coerce(default, value, path, f"{prefix}{key}")
    return cls(**values)


def _coerce(default: Any, value: Any, path: str | os.PathLike[str], name: str) -> Any:
    if dataclasses.is_dataclass(default):
        if not isinstance(value, dict):
            raise ConfigError(path, f"[{name}] must be a table")
        return _build(type(default), value, path, f"{name}.")
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(path, f"{name} must be a list of strings, not {value!r}")
        return tuple(value)
    if isinstance(default, Path):
        if not isinstance(value, str):
            raise ConfigError(path, f"{name} must be a path string")
        return Path(value).expanduser()
    if isinstance(default, bool) or not isinstance(value, (int, float)) or isinstance(value, bool):
        if type(value) is not type(default):
            raise ConfigError(path, f"{name} must be {type(default).__name__}, not {value!r}")
        return value
    if isinstance(default, int) and not isinstance(value, int):
        raise ConfigError(path, f"{name} must be a whole number, not {value!r}")
    return type(default)(value)
