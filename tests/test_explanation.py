"""Explanations in words, from the original's side, agreeing with the JSON details on real edits
of a shared photo (crops, turns, pads, quarter turns with shrinking), whichever file came first."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from neardupd.analyse import Analyser
from neardupd.config import Config
from neardupd.review.explanation import phrase
from neardupd.rules import compare


def _crop(photo: Image.Image) -> Image.Image:
    width, height = photo.size
    return photo.crop((int(width * 0.1), int(height * 0.15), int(width * 0.8), int(height * 0.9)))


EDITS = {  # name: (the edit, what the words must say, what they must not)
    "crop": (_crop, r"^cropped to the part 0\.1\d,0\.1\d,0\.[78]\d,0\.9\d of the original$",
             "stretched|size|brighter|darker"),
    "turn-grown": (lambda p: p.rotate(12, expand=True), r"^turned 1[1-3]° counter-clockwise$", "size|stretched|darker"),
    "turn-same": (lambda p: p.rotate(-12), r"^turned 1[1-3]° clockwise$", "size|stretched|darker"),
    "pad": (lambda p: ImageOps.pad(p, (int(p.width * 1.3), p.height), color=(0, 0, 0)),
            r"^borders added \(left and right\)$", "size|darker"),
    "quarter-half": (lambda p: p.transpose(Image.Transpose.ROTATE_90).resize((p.height // 2, p.width // 2)),
                     r"^turned 90° counter-clockwise; half the size$", "mirrored"),
    "mirror": (lambda p: p.transpose(Image.Transpose.FLIP_LEFT_RIGHT), r"^mirrored$", "turned"),
    "darker": (lambda p: p.point(lambda v: max(v - 30, 0)), r"darker by (2\d|3\d) grey levels", "size|cropped"),
    "blurred": (lambda p: p.filter(ImageFilter.GaussianBlur(4)), r"^blurred$", "size|saturated"),
    "black-and-white": (lambda p: p.convert("L").convert("RGB"), r"turned black and white", "size|blurred"),
    "saturated": (lambda p: ImageEnhance.Color(p).enhance(1.8), r"more saturated", "size|blurred|black"),
}


SAME_SIZE = {"mirror", "turn-same", "darker", "blurred", "saturated"}


@pytest.fixture(scope="module")
def signed(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("edits")
    original = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    with Analyser(Config()) as analyser:
        def sign(image: Image.Image, name: str):
            path = folder / f"{name}.jpg"
            image.save(path, quality=92)
            return analyser.analyse(bytes(path))
        yield sign(original, "original"), {name: sign(edit(original), name) for name, (edit, *_) in EDITS.items()}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_the_words_say_what_was_done_to_the_original_in_either_order(signed, name):
    original, copies = signed
    _, says, never = EDITS[name]
    forward = compare(original, copies[name], Config())
    backward = compare(copies[name], original, Config())
    for found, side in ((forward, "a"), (backward, "b")):
        words = phrase({**found.details, "transform": found.transform}, side)
        assert re.search(says, words) and not re.search(never, words), (words, found.details)


@pytest.mark.parametrize("name", sorted(name for name in EDITS if name not in SAME_SIZE))
def test_the_likely_original_is_the_original_where_the_pixels_tell(signed, name):
    """A crop, a turn's grown canvas, added borders, fewer pixels: the copy shows it. (A mirror image,
    a turn within the canvas or a darker copy has its original's size: that is for file facts.)"""
    original, copies = signed
    assert compare(original, copies[name], Config()).details["likely_original"] == "a"
    assert compare(copies[name], original, Config()).details["likely_original"] == "b"


def test_the_words_follow_the_original_named(signed):
    """Read from the copy's side, a crop is the original shown around it, a shrink an enlargement."""
    original, copies = signed
    found = compare(original, copies["quarter-half"], Config())
    assert phrase({**found.details, "transform": found.transform}, "b") == "turned 90° clockwise; twice the size"
    found = compare(original, copies["crop"], Config())
    assert phrase(found.details, "b").startswith("shows more around it (the original is its part 0.1")


def test_dupes_heads_a_group_with_the_likely_original(tmp_path, data, cli):
    """A 1,600-pixel original stored after its 800-pixel turned copy still heads the group."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    turned = photo.transpose(Image.Transpose.ROTATE_270)
    turned.resize((photo.height // 2, photo.width // 2)).save(folder / "a-copy.jpg")
    photo.save(folder / "z-orig.jpg", quality=95)
    db = tmp_path / "index.sqlite"
    cli("scan", "--db", str(db), str(folder))
    lines = cli("dupes", "--db", str(db)).stdout.splitlines()
    assert lines[1].split()[-1].endswith("z-orig.jpg") and "likely original" in lines[1], lines
    assert lines[2].rstrip().endswith("(turned 90° clockwise; half the size)") and "a-copy.jpg" in lines[2], lines
    pair = json.loads(cli("dupes", "--db", str(db), "--json").stdout.splitlines()[0])
    original = pair["a"] if pair["likely_original"] == "a" else pair["b"]
    assert original.endswith("z-orig.jpg")


def test_compare_says_not_a_copy_and_needs_two_images(data, cli):
    stranger = cli("compare", str(data / "edits/aaa-orig.jpg"), str(data / "camera/jolla.jpg")).stdout
    assert stranger.split()[1:] == ["not", "a", "copy"], stranger
    one = cli("compare", str(data / "edits/aaa-orig.jpg"), check=False)
    assert one.returncode == 64 and "two or more images" in one.stderr


def test_a_pasted_photo_has_a_seam_round_it_and_a_crop_has_none(data):
    """Told apart on the bigger picture's thumb: a crop's photo continues across the box's edges."""
    from neardupd.original import pasted_seam
    from neardupd.signature import make_thumb

    grey = np.asarray(Image.open(data / "camera/iphone_hdr_NO.jpg").convert("L").resize((640, 480)))
    box = (0.25, 0.25, 0.75, 0.70)
    assert not pasted_seam(make_thumb(grey), box)  # the box is a crop of this photo
    screen = np.full_like(grey, 236)  # a feed's flat background, the photo pasted into it
    top, bottom, left, right = (round(box[1] * 480), round(box[3] * 480), round(box[0] * 640), round(box[2] * 640))
    screen[top:bottom, left:right] = np.asarray(Image.fromarray(grey).resize((right - left, bottom - top)))
    assert pasted_seam(make_thumb(screen), box)


def test_a_low_quality_re_save_is_told_with_both_qualities(data, tmp_path):
    """A messenger's re-save: the JPEG quality read from each file's quantisation table."""
    photo = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    photo.save(tmp_path / "camera.jpg", quality=92)
    photo.save(tmp_path / "messenger.jpg", quality=30)
    photo.save(tmp_path / "saved-again.jpg", quality=85)
    with Analyser(Config()) as analyser:
        camera, messenger, again = (analyser.analyse(bytes(tmp_path / name))
                                    for name in ("camera.jpg", "messenger.jpg", "saved-again.jpg"))
    assert (camera.picture.quality, messenger.picture.quality) == (92, 30)
    found = compare(camera, messenger, Config())
    assert (found.details["quality_a"], found.details["quality_b"]) == (92, 30)
    assert "re-saved as a JPEG of quality 30 (the original: 92)" in phrase(found.details, "a")
    assert "re-saved" not in phrase(compare(camera, again, Config()).details, "a")  # 85: a camera's own
