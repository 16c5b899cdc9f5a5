"""Shared fixtures: the real test images in ../shared/data and one index of all of them."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from neardupd.config import Config
from neardupd.indexer import Indexer
from neardupd.store import Store, load_migrations, open_store

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"test images not found at {DATA} (the shared/ folder beside the repository)")
    return DATA


@pytest.fixture(scope="session")
def data_index(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with every file of shared/data indexed, built once for the session."""
    db = tmp_path_factory.mktemp("index") / "all.sqlite"
    with open_store(db) as store:
        indexer = Indexer(store, Config(database=db))
        indexer.scan([data])
        indexer.close()
    return db


@pytest.fixture(autouse=True)
def nothing_left_behind():
    """Fail a test that leaves neardupd threads (hashing, reading) or child processes running."""
    threads = set(threading.enumerate())
    children = set(multiprocessing.active_children())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        left = [t.name for t in threading.enumerate() if t not in threads and t.name.startswith("neardupd-")]
        left += [p.name for p in multiprocessing.active_children() if p not in children]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"left running after the test: {left}"


@pytest.fixture
def old_index(tmp_path: Path) -> Callable[[int], Path]:
    """An empty index made by the migrations up to a version: ``old_index(7)`` (a database an older
    neardupd wrote, to read as it is or to upgrade)."""
    def made(version: int) -> Path:
        path = tmp_path / f"v{version}.sqlite"
        with sqlite3.connect(path) as connection:
            for number, sql in load_migrations():
                if number <= version:
                    connection.executescript(sql)
        return path
    return made


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with open_store(tmp_path / "index.sqlite") as opened:
        yield opened


@pytest.fixture(scope="session")
def cli():
    """The real command line in a subprocess: ``cli("scan", "--db", db, folder)``."""
    return run_cli


def run_cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run([sys.executable, "-m", "neardupd.cli", *args], capture_output=True, text=True,
                            env=full_env, cwd=REPO)
    if check and result.returncode != 0:
        raise AssertionError(f"neardupd {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture()
def edited_library(tmp_path, data):
    """A folder with a shared photo, a crop of it and a half-size copy, indexed: (folder, database)."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    photo = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    photo.save(folder / "orig.jpg", quality=95)
    width, height = photo.size
    photo.crop((int(width * 0.1), int(height * 0.15), int(width * 0.8), int(height * 0.9))).save(folder / "crop.jpg")
    photo.resize((width // 2, height // 2)).save(folder / "half.jpg")
    db = tmp_path / "index.sqlite"
    run_cli("scan", "--db", str(db), str(folder))
    return folder, db
