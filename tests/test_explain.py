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
    db = folder / "index.sqlite"
    with open_store(db) as store:
        Indexer(store, Config(database=db)).scan([folder])
        rows = store.pairs(float(store.setting("match_threshold")))
        return {(row["a"].decode().rsplit("/", 1)[1], row["b"].decode().rsplit("/", 1)[1]):
                {"kind": row["kind"], "transform": row["transform"], **json.loads(row["details"])} for row in rows}


def test_a_crop_reports_its_box_within_five_percent(explained):
    details = explained[("a-original.jpg", "b-crop.jpg")]
    assert details["kind"] == "modified"
    assert details["crop"] is not None
    assert all(abs(found - true) <= 0.05 for found, true in zip(details["crop"], CROP, strict=True))
    assert details["likely_original"] == "a"


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
