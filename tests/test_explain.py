"""What changed: known edits of a real photo are explained (crop box, mirror, pasted logo)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from neardupd.config import Config
from neardupd.indexer import Indexer
from neardupd.store import open_store

CROP = (0.05, 0.10, 0.85, 0.975)  # keeps 70 % of the picture
LOGO = (0.55, 0.10, 0.90, 0.45)


@pytest.fixture(scope="module")
def explained(data, tmp_path_factory):
    """Index an original and three edits of it; return {(a_name, b_name): details}."""
    folder = tmp_path_factory.mktemp("edits")
    source = Image.open(data / "camera/iphone_hdr_NO.jpg").convert("RGB").resize((1200, 900))
    width, height = source.size
    source.save(folder / "a-original.jpg", quality=92)
    source.crop((int(CROP[0] * width), int(CROP[1] * height), int(CROP[2] * width), int(CROP[3] * height))).save(
        folder / "b-crop.jpg", quality=90)
    source.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "c-mirror.jpg", quality=90)
    logo = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    logo = logo.resize((int((LOGO[2] - LOGO[0]) * width), int((LOGO[3] - LOGO[1]) * height)))
    pasted = source.copy()
    pasted.paste(logo, (int(LOGO[0] * width), int(LOGO[1] * height)))
    pasted.save(folder / "d-logo.jpg", quality=90)
    cropped_logo = pasted.crop((int(CROP[0] * width), int(CROP[1] * height), int(CROP[2] * width),
                                int(CROP[3] * height)))
    # named to be indexed before the original: the stored picture (a) is the crop, and it is in b
    cropped_logo.save(folder / "0-crop-logo.jpg", quality=90)
    cropped_logo.save(folder / "e-crop-logo.jpg", quality=80)
    db = folder / "index.sqlite"
    with open_store(db) as store:
        with Indexer(store, Config(database=db)) as indexer:
            indexer.scan([folder])
        rows = store.pairs(float(store.setting("match_threshold")))
        return {(row.a.decode().rsplit("/", 1)[1], row.b.decode().rsplit("/", 1)[1]):
                {"kind": row.kind, "transform": row.transform, **json.loads(row.details)} for row in rows}


def test_a_crop_reports_its_box_within_five_percent(explained):
    details = explained[("a-original.jpg", "b-crop.jpg")]
    assert details["kind"] == "modified"
    assert details["crop"] is not None
    assert all(abs(found - true) <= 0.05 for found, true in zip(details["crop"], CROP, strict=True))
    assert details["likely_original"] == "a"
    assert details["differing_region"] is None  # a clean crop: nothing was pasted on


def test_a_mirror_reports_the_mirror(explained):
    details = explained[("a-original.jpg", "c-mirror.jpg")]
    assert details["kind"] == "modified" and details["transform"] == "mirror"
    assert details["crop"] is None and details["differing_region"] is None


def test_a_pasted_logo_is_located(explained):
    details = explained[("a-original.jpg", "d-logo.jpg")]
    assert details["kind"] == "modified" and details["transform"] == "none"
    left, top, right, bottom = details["differing_region"]
    assert left < LOGO[2] and right > LOGO[0] and top < LOGO[3] and bottom > LOGO[1]
    assert (right - left) * (bottom - top) < 0.5  # a region, not the whole picture


def _overlaps(region: list[float], box: tuple[float, float, float, float]) -> bool:
    left, top, right, bottom = region
    return left < box[2] and right > box[0] and top < box[3] and bottom > box[1]


def _in_crop(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """``box`` (fractions of the original) in the frame of the CROP."""
    width, height = CROP[2] - CROP[0], CROP[3] - CROP[1]
    return ((box[0] - CROP[0]) / width, (box[1] - CROP[1]) / height,
            (box[2] - CROP[0]) / width, (box[3] - CROP[1]) / height)


def test_a_logo_on_a_crop_is_located_in_the_original(explained):
    details = explained[("a-original.jpg", "e-crop-logo.jpg")]
    assert all(abs(found - true) <= 0.05 for found, true in zip(details["crop"], CROP, strict=True))
    region = details["differing_region"]
    assert _overlaps(region, LOGO)
    assert CROP[0] - 0.05 <= region[0] and region[2] <= CROP[2] + 0.05  # within the crop, in a's frame
    assert (region[2] - region[0]) * (region[3] - region[1]) < 0.25  # the logo, not the whole crop


def test_a_logo_is_located_in_a_crop_stored_before_its_original(explained):
    details = explained[("0-crop-logo.jpg", "a-original.jpg")]
    assert details["crop_of_b"] is not None and details["crop"] is None
    region = details["differing_region"]  # in the frame of a: the crop
    assert _overlaps(region, _in_crop(LOGO))
    assert (region[2] - region[0]) * (region[3] - region[1]) < 0.3


def _emoji(picture: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """A yellow face drawn over ``box`` (left, top, right, bottom), as emoji overlays are."""
    from PIL import ImageDraw

    marked = picture.copy()
    draw = ImageDraw.Draw(marked)
    left, top, right, bottom = box
    size = right - left
    draw.ellipse(box, fill=(250, 200, 40))
    for eye in (0.25, 0.6):
        draw.ellipse((left + size * eye, top + size * 0.3, left + size * (eye + 0.15), top + size * 0.45),
                     fill=(230, 40, 60))
    draw.chord((left + size * 0.25, top + size * 0.45, right - size * 0.25, bottom - size * 0.2), 0, 180,
               fill=(90, 30, 20))
    return marked


def test_a_small_overlay_on_a_small_picture_is_located_and_plain_edits_have_none(data, tmp_path):
    """On a 480 x 320 picture the thumbs' block correlations miss an emoji; where the aligned thumbs
    differ far more than elsewhere finds it. A mirror or a darker copy has no such region."""
    from PIL import ImageEnhance

    from neardupd.analyse import Analyser
    from neardupd.rules import compare

    photo = Image.open(data / "camera/iphone_hdr_NO.jpg").convert("RGB").resize((480, 320))
    copies = {"emoji": _emoji(photo, (200, 120, 280, 200)), "mirror": photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
              "darker": ImageEnhance.Brightness(photo).enhance(0.8)}
    photo.save(tmp_path / "photo.jpg", quality=90)
    analyser = Analyser(Config())
    try:
        original = analyser.analyse(bytes(tmp_path / "photo.jpg"))
        found = {}
        for name, picture in copies.items():
            picture.save(tmp_path / f"{name}.jpg", quality=90)
            found[name] = compare(original, analyser.analyse(bytes(tmp_path / f"{name}.jpg")), Config())
    finally:
        analyser.close()
    region = found["emoji"].details["differing_region"]
    assert region is not None and _overlaps(region, (200 / 480, 120 / 320, 280 / 480, 200 / 320)), region
    assert (region[2] - region[0]) * (region[3] - region[1]) <= 0.1, region
    assert found["mirror"].details["differing_region"] is None
    assert found["darker"].details["differing_region"] is None
