"""What the benchmarks on a labelled folder share: a folder in bench-dev's layout (``images/`` and
``truth.json``, each file's group and role), its truth, and an index of it: the one given with
``--db``, or a scan made for the run in a temporary folder."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from neardupd.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments every such benchmark takes: the folder (default bench-dev) and ``--db``."""
    made = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    made.add_argument("bench", nargs="?", default=str(REPO.parent / "shared" / "bench-dev"))
    made.add_argument("--db", help="an index of the folder's images (made there if missing; default: a temporary one)")
    return made


@contextlib.contextmanager
def index_path(bench: str, db: str | None) -> Iterator[str]:
    """The path of the folder's index: ``db``, scanned there if missing, or a scan made for the run."""
    with tempfile.TemporaryDirectory() as tmp:
        path = db or os.path.join(tmp, "labelled.sqlite")
        if not os.path.exists(path):
            subprocess.run([sys.executable, "-m", "neardupd.cli", "scan", "--db", path, str(Path(bench) / "images")],
                           check=True, capture_output=True)
        yield path


@contextlib.contextmanager
def indexed(bench: str, db: str | None) -> Iterator[tuple[dict, Store]]:
    """The folder's truth and its index, open read-only."""
    truth = json.loads((Path(bench) / "truth.json").read_text())
    with index_path(bench, db) as path, open_store(path, readonly=True) as store:
        yield truth, store


def role(truth: dict, path: bytes) -> dict:
    """A file's entry in the truth, by its indexed path."""
    return truth[os.path.basename(os.fsdecode(path))]
