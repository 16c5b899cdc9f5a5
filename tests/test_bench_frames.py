"""``neardupd bench make --frames``: every original in the same four frames."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
from PIL import Image

from neardupd.bench.frames import FRAMES, PHOTO_BOX, SCREEN

# Six unrelated photos of shared/data (the camera folder repeats a few, rotated or in HDR).
SOURCES = ("camera/jolla.jpg", "camera/HMD_Nokia_8.3_5G.jpg", "camera/iphone_hdr_NO.jpg", "edits/aaa-orig.jpg",
           "orientation/landscape_1.jpg", "orientation/portrait_1.jpg")


def test_bench_make_frames_puts_every_original_in_the_same_four_frames(data, tmp_path, cli):
    sources = tmp_path / "sources"
    sources.mkdir()
    for name in SOURCES:
        (sources / name.replace("/", "-")).symlink_to(data / name)
    out = tmp_path / "frames"
    made = cli("bench", "make", str(sources), str(out), "--frames", "--distractors", "0", "--limit", "6",
               "--max-side", "512", "--seed", "5")
    assert "6 originals, 24 framed copies (4 frames each), 0 distractors" in made.stdout

    truth = json.loads((out / "truth.json").read_text())
    assert sorted(truth) == sorted(p.name for p in (out / "images").iterdir())
    originals = {entry["group"]: name for name, entry in truth.items() if entry["role"] == "original"}
    copies = [(name, entry) for name, entry in truth.items() if entry["role"] == "copy"]
    assert len(originals) == 6 and len(truth) == 6 * 5
    assert Counter(entry["group"] for _, entry in copies) == {group: 4 for group in originals}
    for group in originals:  # each original once in each frame
        assert sorted(e["transform"] for _, e in copies if e["group"] == group) == sorted(FRAMES)
    assert all(entry["families"] == ["frame"] for _, entry in copies)

    def pixels(name: str) -> np.ndarray:
        with Image.open(out / "images" / name) as image:
            return np.asarray(image.convert("RGB"), dtype=np.float32)

    shots = [pixels(name) for name, entry in copies if entry["transform"] == "screenshot"]
    assert all(shot.shape == (SCREEN[1], SCREEN[0], 3) for shot in shots)
    left, top, right, bottom = PHOTO_BOX
    first, other = shots[0], shots[1]
    assert top >= 120
    assert np.abs(first[:120] - other[:120]).mean() < 3  # the frame: the same whatever the photo
    assert np.abs(first[top:bottom, left:right] - other[top:bottom, left:right]).mean() > 10  # the photos differ
