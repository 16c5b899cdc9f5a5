"""Finding files: which paths below the roots may be images, and opening only what is safe to open.

The library is read-only to neardupd and only regular files under the roots are ever opened:

* :func:`walk_images` yields the paths below a root that are not excluded by name (it says, in
  the log, which folders it cannot enter);
* :func:`look` tells, from ``lstat``/``stat`` alone (nothing is opened), whether a path may be
  opened (its ``stat``) or why not: not a regular file (a FIFO, a device, a socket: reading one
  can block for ever or never end), or a symlink whose target lies outside the roots;
* :func:`open_regular` opens without blocking (``O_NONBLOCK``), and refuses after ``fstat`` what
  is not a regular file, so a file swapped for a FIFO between the look and the open cannot freeze
  the reader either.

>>> is_excluded(b".DS_Store"), is_excluded(b"IMG_1.jpg.part"), is_excluded(b"IMG_1.jpg")
(True, True, False)
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from neardupd.config import DEFAULT_EXCLUDE

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    b".jpg .jpeg .jpe .jfif .png .webp .gif .tif .tiff .bmp .dib .ppm .pgm .pbm .pnm .heic .heif .hif .avif".split())
EXCLUDED_NAMES = tuple(os.fsencode(pattern) for pattern in DEFAULT_EXCLUDE)
"""Temporary and system names never indexed (dot files cover .DS_Store and rsync's .name.XXXXXX)."""

NOT_REGULAR, OUTSIDE_ROOTS = "not_regular", "outside_roots"
"""The ``errors.kind`` of a path that is never opened."""


@dataclass(frozen=True)
class Refusal:
    """Why a path is not opened, with the path's own ``lstat`` (never its target's)."""

    kind: str
    reason: str
    size: int
    mtime_ns: int


class NotRegularFile(OSError):
    """Raised by :func:`open_regular` for a FIFO, device, socket or folder."""


def is_excluded(name: bytes, patterns: Iterable[bytes] = EXCLUDED_NAMES) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def has_image_extension(path: bytes) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def walk_images(root: bytes, patterns: Iterable[bytes] = EXCLUDED_NAMES) -> Iterator[bytes]:
    """Every path below ``root`` whose name is not excluded, sorted, as bytes. Nothing is opened or
    stat-ed here (callers ask :func:`look`); folders that cannot be read are logged and skipped."""
    patterns = tuple(patterns)
    if not os.path.isdir(root):
        if os.path.lexists(root):
            yield root
        return

    def unreadable(err: OSError) -> None:
        log.warning("%s: cannot list this folder (%s); its files are not indexed: check its permissions",
                    os.fsdecode(err.filename) if err.filename else "?", err.strerror)

    for folder, dirs, files in os.walk(root, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not is_excluded(d, patterns))
        for name in sorted(files):
            if not is_excluded(name, patterns):
                yield os.path.join(folder, name)


def inside(real: bytes, roots: Sequence[bytes]) -> bool:
    """Whether the resolved path ``real`` is one of ``roots`` or below one (roots resolved too)."""
    for root in roots:
        base = os.path.realpath(root)
        if real == base or real.startswith(base.rstrip(b"/") + b"/"):
            return True
    return False


def look(path: bytes, roots: Sequence[bytes], follow_symlinks: bool = False) -> Refusal | os.stat_result:
    """The ``stat`` of ``path`` when it is a regular file that may be read, else why it must not be
    opened. Raises OSError (FileNotFoundError when it is gone) if it cannot even be looked at."""
    own = os.lstat(path)
    target = os.stat(path) if stat.S_ISLNK(own.st_mode) else own
    if stat.S_ISLNK(own.st_mode) and not follow_symlinks and roots and not inside(os.path.realpath(path), roots):
        return Refusal(OUTSIDE_ROOTS, "a symlink to a file outside the watched folders: not followed "
                       "(files.follow_symlinks = true in the config allows it)", own.st_size, own.st_mtime_ns)
    if not stat.S_ISREG(target.st_mode):
        return Refusal(NOT_REGULAR, f"not a regular file ({_file_type(target.st_mode)}): never opened",
                       own.st_size, own.st_mtime_ns)
    return target


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a plain file"


def open_regular(path: bytes) -> BinaryIO:
    """Open ``path`` for reading without ever blocking on it: ``O_NONBLOCK`` (a FIFO opens at once
    instead of waiting for a writer), then ``fstat`` refuses anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{os.fsdecode(path)} is {_file_type(mode)}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+", b"BM",
          b"P1", b"P2", b"P3", b"P4", b"P5", b"P6")
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")
SNIFF_BYTES = 16


def looks_like_image(head: bytes) -> bool:
    """Whether the first bytes of a file look like a format neardupd reads (a cheap sniff).

    >>> looks_like_image(b"\\x89PNG\\r\\n\\x1a\\n"), looks_like_image(b"%!PS-Adobe-3.0 EPSF")
    (True, False)
    """
    if head.startswith(_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def may_be_image(path: bytes) -> bool:
    """Whether ``path`` is worth decoding: an image extension, or an image signature in its first
    bytes (a JPEG named ``.svg`` is still a JPEG). Opens the file (only a regular file) to sniff."""
    if has_image_extension(path):
        return True
    try:
        with open_regular(path) as handle:
            return looks_like_image(handle.read(SNIFF_BYTES))
    except OSError:
        return False
