"""Local features: copies found wherever the photo went, explained from the fitted homography, and
a shared frame or another shot of one scene never taken for a copy (real photos, real files)."""

from __future__ import annotations

import math
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from neardupd import feature_blob, features, geometry, homography
from neardupd.analyse import Analyser
from neardupd.bench.frames import FRAMES
from neardupd.config import Config
from neardupd.indexer import Indexer
from neardupd.report import describe
from neardupd.rules import compare, judge
from neardupd.store import open_store

THRESHOLD = Config().match.threshold
BOX = (0.30, 0.20, 0.75, 0.70)  # where the photo is pasted into the screenshot
MEMES = Path(__file__).parent / "data" / "meme-strangers"
PORTRAIT = Path(__file__).parent / "data" / "portrait-screenshot"


@pytest.fixture(scope="module")
def photo(data) -> Image.Image:
    return Image.open(data / "camera/iphone_hdr_NO.jpg").convert("RGB").resize((800, 600))


@pytest.fixture(scope="module")
def other(data) -> Image.Image:
    return Image.open(data / "camera/jolla.jpg").convert("RGB").resize((800, 600))


@pytest.fixture
def analyse(tmp_path):
    folder = tmp_path
    analyser = Analyser(Config())

    def run(image: Image.Image, name: str):
        path = folder / f"{name}.jpg"
        image.save(path, quality=90)
        return analyser.analyse(bytes(path))

    yield run
    analyser.close()


@pytest.fixture
def analyse_file():
    analyser = Analyser(Config())
    yield lambda path: analyser.analyse(bytes(path))
    analyser.close()


def _screenshot(photo: Image.Image, background: Image.Image) -> Image.Image:
    """The photo pasted at BOX onto a busy picture of another scene (a screenshot, a collage)."""
    canvas = background.resize((1000, 1000))
    left, top, right, bottom = (round(v * 1000) for v in BOX)
    canvas.paste(photo.resize((right - left, bottom - top)), (left, top))
    return canvas


def _turned(photo: Image.Image, degrees: float) -> Image.Image:
    rgb = np.asarray(photo)
    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(width * cos + height * sin), int(width * sin + height * cos))
    matrix[0, 2] += size[0] / 2 - width / 2
    matrix[1, 2] += size[1] / 2 - height / 2
    return Image.fromarray(cv2.warpAffine(rgb, matrix, size, borderValue=(0, 0, 0)))


def test_photo_inside_a_screenshot_is_found_with_its_box(analyse, photo, other):
    found = compare(analyse(photo, "orig"), analyse(_screenshot(photo, other), "shot"), Config())
    assert found.score >= THRESHOLD and found.kind == "modified"
    assert found.details["aligned_by"] == "keypoints"
    assert found.details["contained_in"] == pytest.approx(list(BOX), abs=0.03)
    box = ",".join(f"{v:.2f}" for v in found.details["contained_in"])
    assert found.details["likely_original"] == "a"
    assert f"pasted into a larger picture, at {box} of it" in describe(found.transform, found.details)
    reverse = compare(analyse(_screenshot(photo, other), "shot"), analyse(photo, "orig"), Config())
    assert reverse.score >= THRESHOLD and reverse.details["likely_original"] == "b", reverse.details  # either order


def test_a_35_degree_turn_is_found_with_its_angle(analyse, photo):
    found = compare(analyse(photo, "orig"), analyse(_turned(photo, 35), "turned"), Config())
    assert found.score >= THRESHOLD
    assert abs(abs(found.details["rotation"]) - 35) <= 2, found.details
    text = describe(found.transform, found.details)  # cv2 turns positive angles counter-clockwise
    assert found.details["likely_original"] == "a", found.details  # the copy's canvas grew for the corners
    assert re.search(r"turned 3[3-7]° counter-clockwise", text) and "brightness" not in text, text
    assert "size" not in text and "stretched" not in text, text


def _turned_and_cut(photo: Image.Image, degrees: float) -> Image.Image:
    """Turned, then cut to the largest upright rectangle of picture (as AugLy's rotate does)."""
    turned = photo.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
    width, height = photo.size
    sin, cos = abs(math.sin(math.radians(degrees))), abs(math.cos(math.radians(degrees)))
    if min(width, height) <= 2 * sin * cos * max(width, height):
        half = min(width, height) / 2
        cut_w, cut_h = (half / sin, half / cos) if width >= height else (half / cos, half / sin)
    else:
        cos2 = cos * cos - sin * sin
        cut_w, cut_h = (width * cos - height * sin) / cos2, (height * cos - width * sin) / cos2
    x, y = turned.width / 2, turned.height / 2
    return turned.crop((int(x - cut_w / 2), int(y - cut_h / 2), int(x + cut_w / 2), int(y + cut_h / 2)))


def test_a_turned_copy_cut_to_its_picture_is_a_copy_not_another_shot(analyse, photo):
    """Enlarged to its view, it fits loosely from resampling alone; its left-out matches are scattered
    (SHOT_SECOND), unlike another shot's."""
    found = compare(analyse(photo, "orig"), analyse(_turned_and_cut(photo, 38), "turned-cut"), Config())
    assert found.score >= THRESHOLD and found.kind == "modified", found
    assert abs(abs(found.details["rotation"]) - 38) <= 2, found.details


def test_a_mirrored_crop_is_found_mirrored(analyse, photo):
    crop = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop((100, 60, 700, 540))
    found = compare(analyse(photo, "orig"), analyse(crop, "mirrored-crop"), Config())
    assert found.score >= THRESHOLD
    assert "mirror" in found.transform
    assert found.details["crop"] == pytest.approx([100 / 800, 60 / 600, 700 / 800, 540 / 600], abs=0.04)
    text = describe(found.transform, found.details)
    assert found.details["likely_original"] == "a"
    assert text.startswith("mirrored") and "cropped to the part " in text and "stretched" not in text, text


def test_a_perspective_view_is_found_and_said_so(analyse, photo):
    rgb = np.asarray(photo)
    corners = np.float32([[0, 0], [800, 0], [800, 600], [0, 600]])
    seen = np.float32([[90, 40], [760, 0], [800, 600], [0, 520]])
    view = cv2.warpPerspective(rgb, cv2.getPerspectiveTransform(corners, seen), (800, 600))
    found = compare(analyse(photo, "orig"), analyse(Image.fromarray(view), "perspective"), Config())
    assert found.score >= THRESHOLD
    assert found.details["perspective"] is True
    assert "seen in perspective" in describe(found.transform, found.details)


@pytest.mark.parametrize("frame", sorted(FRAMES))
def test_two_photos_in_one_frame_are_not_a_copy(analyse, photo, other, frame):
    framed = FRAMES[frame]
    found = compare(analyse(framed(photo), f"{frame}-a"), analyse(framed(other), f"{frame}-b"), Config())
    assert found.score < THRESHOLD, found


def test_big_text_that_took_the_keypoints_is_an_overlay_on_a_copy(analyse, other):
    """Big yellow text over a leaf takes most of the copy's keypoints, so few of the photo's find
    partners; the thumbs, alike but for the text's band and alike where the keypoints aligned
    them, make it a copy (it was vetoed as two photos sharing a frame: 0.43)."""
    texted = other.copy()
    ImageDraw.Draw(texted).text((40, 200), "WEEKEND", font=ImageFont.load_default(size=170), fill=(255, 255, 0),
                                stroke_width=3, stroke_fill=(255, 255, 0))
    found = compare(analyse(other, "leaf"), analyse(texted, "texted"), Config())
    assert found.score >= THRESHOLD, found
    _, top, _, bottom = found.details["differing_region"]
    assert 0.3 <= top < bottom <= 0.65, found.details  # within the text's band (0.33-0.62)


@pytest.mark.parametrize("pair", [("koala", "waterfall"), ("waterfall", "koala"), ("cardinal", "angler"),
                                  ("angler", "cardinal")])
def test_a_caption_fitted_as_no_camera_could_see_it_is_no_copy(analyse_file, pair):
    """Two photos under one meme caption whose letters fit a fold through the horizon, or a view
    with one side 5 times farther than the other: no alignment, not a copy, whichever came first."""
    first, second = (analyse_file(MEMES / f"{name}.jpg") for name in pair)
    alignment = geometry.align(first.picture.features, second.picture.features, second.mirrored)
    assert alignment is None or alignment.perspective < homography.MAX_DEPTH_RATIO - 1, alignment
    found = compare(first, second, Config())
    assert found.score < THRESHOLD, found


@pytest.fixture(scope="module")
def backdrop(data) -> Image.Image:
    return Image.open(data / "camera/HMD_Nokia_8.3_5G.jpg").convert("RGB").resize((1200, 900))


def _pasted(photo: Image.Image, backdrop: Image.Image) -> Image.Image:
    """The photo pasted over a third of a backdrop photo, as AugLy's overlay onto a background."""
    canvas = backdrop.copy()
    canvas.paste(photo.resize((560, 420)), (520, 380))
    return canvas


def _feed(photo: Image.Image, ad: Image.Image, avatar: Image.Image, height: int = 300) -> Image.Image:
    """A social feed screenshot drawn here: grey chrome, a row of avatars, a sponsored photo on the
    right and the post's photo (``height`` pixels high) letterboxed in a black box (separate photo
    regions around it)."""
    canvas = Image.new("RGB", (1200, 740), (240, 242, 245))
    for slot in range(6):
        canvas.paste(avatar.resize((56, 56)), (260 + slot * 70, 60))
    canvas.paste(ad.resize((240, 170)), (900, 80))
    canvas.paste(Image.new("RGB", (560, height), (0, 0, 0)), (250, 400))
    canvas.paste(photo.resize((height * 4 // 3, height)), (530 - height * 2 // 3, 400))
    return canvas


def test_two_photos_on_one_background_are_not_a_copy_but_each_is_found_on_it(analyse, photo, other, backdrop):
    """The shared part is a whole photo, bigger than the pasted ones: it agrees, the pasted photos do not."""
    mine, theirs = analyse(_pasted(photo, backdrop), "mine"), analyse(_pasted(other, backdrop), "theirs")
    assert compare(mine, theirs, Config()).score < THRESHOLD
    found = compare(analyse(photo, "orig"), mine, Config())
    assert found.score >= THRESHOLD and found.kind == "modified"
    assert found.details["contained_in"] == pytest.approx([520 / 1200, 380 / 900, 1080 / 1200, 800 / 900], abs=0.03)


def test_two_photos_in_one_feed_are_not_a_copy_but_each_is_found_in_it(analyse, photo, other, backdrop):
    """The ads and avatars agree, the post's photos do not; the largest photo region is what counts."""
    ad, avatar = backdrop.crop((0, 0, 600, 420)), backdrop.crop((700, 300, 900, 500))
    mine, theirs = analyse(_feed(photo, ad, avatar), "mine"), analyse(_feed(other, ad, avatar), "theirs")
    assert compare(mine, theirs, Config()).score < THRESHOLD
    assert compare(analyse(photo, "orig"), mine, Config()).score >= THRESHOLD


def test_a_small_photo_in_a_screenshot_is_found_whichever_was_stored_first(analyse, photo, backdrop):
    """The aligned thumbs are judged on the photo's grid, where it fills the view: on the feed's it
    covers two blocks, too few to judge (the screenshot stored first lost its original)."""
    ad, avatar = backdrop.crop((0, 0, 600, 420)), backdrop.crop((700, 300, 900, 500))
    feed, original = analyse(_feed(photo, ad, avatar, height=210), "feed"), analyse(photo, "orig")
    for first, second in ((original, feed), (feed, original)):
        found = judge(first.picture, second.picture, Config(), None, second.mirrored)
        assert found is not None and found.score >= THRESHOLD, (first.path, found)
        assert found.details["aligned_by"] == "keypoints"


def test_a_portrait_in_a_feed_no_bigger_than_its_ad_is_found(analyse_file):
    """Both the post's photo and the ad are enlarged for keypoints when neither is twice the other."""
    original, feed = analyse_file(PORTRAIT / "castle.jpg"), analyse_file(PORTRAIT / "castle-feed.webp")
    assert feed.features.regions > 1
    for first, second in ((original, feed), (feed, original)):
        found = judge(first.picture, second.picture, Config(), None, second.mirrored)
        assert found is not None and found.score >= THRESHOLD, found
        assert found.details["aligned_by"] == "keypoints"


def test_a_small_photo_in_a_big_screenshot_is_seen_at_more_pixels(tmp_path, analyse, photo, backdrop):
    """The post's photo is a third of the feed's width: its keypoints are found on it enlarged, and a
    JPEG decoded at reduced size is decoded again for them (as many inliers as the PNG's)."""
    ad, avatar = backdrop.crop((0, 0, 600, 420)), backdrop.crop((700, 300, 900, 500))
    feed = _feed(photo, ad, avatar)
    original = analyse(photo, "orig").features
    as_jpeg = geometry.align(original, analyse(feed, "feed").features)
    feed.save(tmp_path / "feed.png")
    with Analyser(Config()) as analyser:
        as_png = geometry.align(original, analyser.analyse(bytes(tmp_path / "feed.png")).features)
    at_view_scale, _ = features.extract_both(features.View.of(features.shrunk(np.asarray(feed.convert("L")))))
    unzoomed = geometry.align(original, at_view_scale)
    assert as_jpeg is not None and as_png is not None and unzoomed is not None
    assert as_jpeg.inliers >= 1.5 * unzoomed.inliers, (as_jpeg.inliers, unzoomed.inliers)
    assert as_jpeg.inliers >= 0.8 * as_png.inliers, (as_jpeg.inliers, as_png.inliers)


def test_a_skewed_copy_is_aligned_though_the_keypoint_index_missed_it(analyse, photo):
    """Thumbs half alike are reason enough to try the keypoints (ALIGN_FROM)."""
    skewed = cv2.warpAffine(np.asarray(photo), np.float32([[1, 0.45, 0], [0, 1, 0]]), (1070, 600))
    original, copy = analyse(photo, "orig"), analyse(Image.fromarray(skewed), "skewed")
    found = judge(original.picture, copy.picture, Config(), None, copy.mirrored, keypoints=None)
    assert found is not None and found.score >= THRESHOLD
    assert found.details["aligned_by"] == "keypoints"


def test_another_shot_of_one_scene_is_no_copy(analyse, data):
    shots = [Image.open(data / f"camera/exif-rotn-{n}.jpg") for n in (6, 8)]
    upright = [analyse(shot.convert("RGB"), f"desk-{n}") for n, shot in zip((6, 8), shots, strict=True)]
    found = compare(upright[0], upright[1], Config())
    assert found.score < THRESHOLD
    assert found.kind == "similar"


def _parallax_shots(data) -> tuple[Image.Image, Image.Image]:
    """Two shots of one scene, the camera moved sideways between them: the far half (top) shifts 1 %
    of the width, the near half 5 %, a person in front 12 %; the light changed, the sensor noise too."""
    scene = Image.open(data / "camera/HMD_Nokia_8.3_5G.jpg").convert("RGB")
    scene.thumbnail((2000, 2000))
    person = Image.open(data / "camera/jolla.jpg").convert("RGB")
    person.thumbnail((500, 500))
    round_mask = Image.new("L", person.size, 0)
    ImageDraw.Draw(round_mask).ellipse((0, 0, *person.size), fill=255)
    width, height = scene.size
    view_width, view_height = int(width * 0.85), int(height * 0.95)

    def shot(far: int, near: int, person_x: int, light: float, seed: int) -> Image.Image:
        view = Image.new("RGB", (view_width, view_height))
        view.paste(scene.crop((far, 0, far + view_width, view_height // 2)), (0, 0))
        view.paste(scene.crop((near, view_height // 2, near + view_width, view_height)), (0, view_height // 2))
        view.paste(person, (person_x, view_height - person.size[1] - 40), round_mask)
        noisy = np.asarray(ImageEnhance.Brightness(view).enhance(light), np.float32)
        noisy += np.random.default_rng(seed).normal(0, 3, noisy.shape)
        return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))

    return shot(0, 0, 300, 1.0, 1), shot(int(width * 0.01), int(width * 0.05), 300 + int(width * 0.12), 1.08, 2)


def test_two_shots_with_parallax_are_no_copy(analyse, data):
    """The far half fits one homography exactly; the near half's matches fit another (SECOND_MOTION)."""
    first, second = _parallax_shots(data)
    found = compare(analyse(first, "shot-a"), analyse(second, "shot-b"), Config())
    assert found.score < THRESHOLD
    assert found.kind == "similar"


def test_features_round_trip_through_their_blob(analyse, photo):
    local = analyse(photo, "orig").features
    again = feature_blob.unpack(feature_blob.pack(local))
    assert np.array_equal(again.descriptors, local.descriptors)
    assert np.abs(again.points - local.points).max() < 1e-4
    assert np.array_equal(again.photo, local.photo) and again.aspect == pytest.approx(local.aspect)


def test_scan_adds_missing_features_to_an_older_index(tmp_path, photo):
    """An index from before schema 4 has no local features: a scan decodes those files once more."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo.save(folder / "a.jpg", quality=90)
    photo.resize((400, 300)).save(folder / "b.jpg", quality=80)
    db = tmp_path / "index.sqlite"
    with open_store(db) as store, Indexer(store, Config(database=db)) as indexer:
        indexer.scan([folder])
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM features")
    with open_store(db) as store, Indexer(store, Config(database=db)) as indexer:
        summary = indexer.scan([folder])
    assert summary.counts.get("indexed") == 2
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM features").fetchone()[0] == 2
        assert connection.execute("SELECT count(*) FROM files").fetchone()[0] == 2
        assert connection.execute("SELECT count(*) FROM matches").fetchone()[0] == 1


def test_other_shots_stay_out_of_dupes_unless_asked(tmp_path, data):
    """The desk shots are not reported by scan + dupes, at any --min-score, unless --kind similar."""
    folder = tmp_path / "desk"
    folder.mkdir()
    for n in (1, 3, 6, 8):
        shutil.copy(data / f"camera/exif-rotn-{n}.jpg", folder)
    db = str(tmp_path / "index.sqlite")

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "neardupd.cli", *args, "--db", db], check=True,
                              capture_output=True, text=True).stdout

    cli("scan", str(folder))
    assert "exif-rotn" not in cli("dupes")
    assert "similar" not in cli("dupes", "--min-score", "0.4")
    assert "similar" in cli("dupes", "--min-score", "0.4", "--kind", "similar")
    assert cli("dupes", "--kind", "similar").count("exif-rotn") >= 3  # other shots are scored under the threshold
