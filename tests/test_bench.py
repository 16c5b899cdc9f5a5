"""`neardupd bench`: the scoring protocol, the baselines, the edit suite and both subcommands."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pytest
from PIL import Image

from neardupd.bench import baselines
from neardupd.bench.edits import EDITS, apply_edits, family_of
from neardupd.bench.protocol import Truth, score, score_matrix

# Unrelated photos of shared/data, each once: the sources of a small bench.
SOURCES = ("camera/jolla.jpg", "camera/HMD_Nokia_8.3_5G.jpg", "camera/iphone_hdr_NO.jpg", "edits/aaa-orig.jpg",
           "formats/baboon.pgm", "formats/ukbench09380.jpeg", "orientation/landscape_1.jpg",
           "orientation/portrait_1.jpg", "camera/exif-rotn-1.jpg")


@pytest.fixture(scope="module")
def sources(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sources")
    for name in SOURCES:
        (folder / name.replace("/", "-")).symlink_to(data / name)
    return folder


@pytest.fixture(scope="module")
def made(sources: Path, tmp_path_factory: pytest.TempPathFactory, cli) -> Path:
    out = tmp_path_factory.mktemp("made") / "bench"
    cli("bench", "make", str(sources), str(out), "--seed", "3", "--distractors", "0.25")
    return out


def test_score_matrix_agrees_with_scoring_every_pair():
    rng = np.random.default_rng(5)
    entries = {}
    for group in range(12):
        entries[f"o{group}"] = {"group": group, "role": "original"}
        for copy in range(3):
            entries[f"c{group}-{copy}"] = {"group": group, "role": "copy", "transform": f"t{copy}"}
    entries["d"] = {"group": 99, "role": "distractor"}
    names = sorted(entries)
    truth = Truth(entries)
    scores = np.round(rng.random((len(names), len(names))), 2)
    scores = np.maximum(scores, scores.T)
    for i, a in enumerate(names):  # make positives score higher, as a finder would
        for j, b in enumerate(names):
            if truth.label(a, b) == 1:
                scores[i, j] = scores[j, i] = min(1.0, scores[i, j] + 0.5)
    pairs = [(a, b, float(scores[i, j])) for i, a in enumerate(names) for j, b in enumerate(names) if i < j]
    assert score_matrix(truth, names, scores) == score(truth, pairs)


def test_phash_baseline_is_imagehash(data):
    pictures = [Image.open(data / name).convert("RGB") for name in SOURCES[:3]]
    scores = baselines.phash_scores(pictures)
    expected = 1 - (imagehash.phash(pictures[0]) - imagehash.phash(pictures[1])) / 64
    assert scores[0, 1] == pytest.approx(expected)
    assert scores[0, 0] == 1.0


def test_blur_template_baseline_is_close_to_opencv_at_full_size(data):
    photo = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    pictures = [photo, photo.crop((0, 0, photo.width, photo.height * 3 // 4)),
                Image.open(data / "camera/jolla.jpg").convert("RGB")]
    scores = baselines.blur_template_scores(pictures)

    def full_size(image: Image.Image) -> np.ndarray:
        gray = np.asarray(image.convert("L"))
        height = round(gray.shape[0] * 350 / gray.shape[1])
        scaled = cv2.resize(gray, (350, height), interpolation=cv2.INTER_AREA).astype(np.float32)
        return cv2.GaussianBlur(scaled, (43, 43), 21)

    for i, j in ((0, 1), (0, 2), (1, 2)):
        a, b = full_size(pictures[i]), full_size(pictures[j])
        short, tall = (a, b) if a.shape[0] <= b.shape[0] else (b, a)
        exact = float(cv2.matchTemplate(tall, short, cv2.TM_CCOEFF_NORMED).max())
        assert scores[i, j] == pytest.approx(exact, abs=0.03)
    assert scores[0, 1] > 0.95 > scores[0, 2]


def test_every_edit_changes_the_picture_and_is_repeatable(data):
    photo = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    donor = Image.open(data / "camera/jolla.jpg").convert("RGB").reduce(8)
    for name in EDITS:
        first = apply_edits(photo, [name], np.random.default_rng(1), donor)
        again = apply_edits(photo, [name], np.random.default_rng(1), donor)
        assert first.mode == "RGB" and np.array_equal(np.asarray(first), np.asarray(again)), name
        same_size = first.size == photo.size
        assert not same_size or not np.array_equal(np.asarray(first), np.asarray(photo)), name


def test_bench_make_writes_a_labelled_folder(made, sources):
    truth = json.loads((made / "truth.json").read_text())
    images = sorted(p.name for p in (made / "images").iterdir())
    assert sorted(truth) == images
    roles = Counter(entry["role"] for entry in truth.values())
    # 9 photos: 1 set aside to paste as a logo; of 8, 2 distractors, 6 originals with 3 copies each
    assert roles == {"original": 6, "copy": 18, "distractor": 2}
    for name, entry in truth.items():
        with Image.open(made / "images" / name) as image:
            image.load()
        if entry["role"] == "copy":
            edits = entry["transform"].split("+")
            assert all(edit in EDITS for edit in edits)
            assert entry["families"] == sorted({family_of(edit) for edit in edits})
        else:
            assert (sources / entry["source"]).exists()
    assert len({e["source"] for e in truth.values() if e["role"] != "copy"}) == 8  # each photo once


def test_bench_make_is_repeatable_and_refuses_a_full_folder(made, sources, tmp_path, cli):
    again = tmp_path / "again"
    cli("bench", "make", str(sources), str(again), "--seed", "3", "--distractors", "0.25")

    def digests(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (folder / "images").iterdir()}

    assert digests(again) == digests(made)
    refused = cli("bench", "make", str(sources), str(again), check=False)
    assert refused.returncode == 65 and "not empty" in refused.stderr


def test_bench_scores_neardupd_and_the_baselines(made, cli):
    figures = json.loads(cli("bench", "run", str(made), "--json").stdout)
    finders = figures["finders"]
    assert set(finders) == {"neardupd", *baselines.BASELINES}
    assert figures["positives"] == 18 and figures["images"] == 26
    assert 0.0 <= figures["candidate_recall"] <= 1.0
    mine = finders["neardupd"]
    assert sum(hit for hit, _ in mine["per_transform"].values()) == round(mine["strict_r_at_p99"] * 18)
    for name in baselines.BASELINES:
        assert mine["average_precision"] > finders[name]["average_precision"], name
    text = cli("bench", str(made), "--no-baselines").stdout  # the shorthand for `bench run`
    assert "strict R@P99" in text and "candidate recall" in text and "phash" not in text


@pytest.mark.parametrize("args", [("run", "{}"), ("{}",), ("--json", "{}")], ids=["run", "shorthand", "option-first"])
def test_bench_on_a_folder_without_truth_says_what_is_missing(tmp_path, cli, args):
    (tmp_path / "images").mkdir()
    result = cli("bench", *(arg.format(tmp_path) for arg in args), check=False)
    assert result.returncode == 65
    assert "truth.json" in result.stderr and "bench make" in result.stderr


def test_bench_help_lists_the_subcommands_and_make_wants_both_folders(tmp_path, cli):
    text = cli("bench", "--help").stdout
    assert "run " in text and "make " in text and "short for `neardupd bench run BENCH_DIR`" in text
    missing = cli("bench", "make", str(tmp_path), check=False)
    assert missing.returncode == 64 and "Missing argument 'OUT'" in missing.stderr


def test_only_the_bench_commands_import_the_bench_package():
    """Loading the command line loads the bench commands' module only (a docstring and two click
    commands), never the edit suite, the baselines or imagehash."""
    code = ("import sys, neardupd.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('neardupd.bench', 'imagehash'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).parents[1]).stdout
    assert loaded.strip() == "['neardupd.bench', 'neardupd.bench.commands']"
