"""Keep-best rules: the first rule in the configured order that tells a group's files apart chooses
the one kept, and is named; `act --plan` shows it on a real library and moves nothing."""

from __future__ import annotations

import json
import shutil

import pytest

from neardupd.review.keep import Choice, Member, keeper


def _member(name: str, **facts) -> Member:
    base = {"size": 100_000, "width": 800, "height": 600, "format": "JPEG", "mtime_ns": 0, "departure": 1.0}
    return Member(name.encode(), **{**base, **facts})


def test_each_rule_decides_when_the_ones_before_it_tie():
    plain, other = _member("a.jpg"), _member("b.jpg")
    cases = [
        ({"decision": "keep"}, "decided"),
        ({"protected": True}, "protected"),
        ({"evidence": 2}, "likely_original"),
        ({"departure": 0.5}, "likely_original"),
        ({"format": "PNG"}, "lossless"),
        ({"width": 1600, "height": 1200}, "pixels"),
        ({"size": 200_000}, "less_compressed"),
        ({"metadata": 40}, "metadata"),
        ({"captured": -100.0}, "earlier_capture"),
    ]
    for facts, rule in cases:
        better = _member("z.jpg", **facts)  # last in path order: only the rule can choose it
        choice = keeper([plain, better, other])
        assert (choice.keeper.path, choice.rule) == (b"z.jpg", rule), (facts, choice)


def test_a_copy_like_name_is_kept_last_and_the_order_is_configurable():
    named = [_member("IMG_1234 (1).jpg"), _member("IMG_1234.jpg"), _member("IMG_1234 copy.jpg")]
    assert keeper(named).keeper.path == b"IMG_1234.jpg" and keeper(named).rule == "plain_name"
    big_copy = _member("copy.jpg", width=1600, height=1200, decision="discard")
    assert keeper([big_copy, _member("orig.jpg")]).keeper.path == b"orig.jpg"  # a person's word first
    assert keeper([big_copy, _member("orig.jpg")], ["pixels", "decided"]).keeper.path == b"copy.jpg"


def test_a_camera_shape_outweighs_a_small_departure_but_not_a_large_one():
    stretched = _member("a-stretched.jpg", width=870, height=552)  # 1.58:1, no camera's; more pixels
    photo = _member("z-photo.jpg", departure=1.2)  # 4:3
    assert keeper([stretched, photo]) == Choice(photo, "likely_original")
    assert keeper([stretched, _member("z-photo.jpg", departure=2.0)]).keeper == stretched


def test_bytes_per_pixel_only_compare_within_one_format():
    png, jpeg = _member("a.png", format="PNG", size=900_000), _member("b.jpg", size=100_000)
    assert keeper([png, jpeg], ["less_compressed"]).rule == "path order"


@pytest.fixture()
def library(edited_library, cli):
    folder, db = edited_library
    shutil.copy(folder / "orig.jpg", folder / "orig (1).jpg")  # an exact copy with a copy's name
    cli("scan", "--db", str(db), str(folder))
    return folder, db


def test_act_plan_keeps_the_original_and_moves_nothing(library, cli, tmp_path):
    folder, db = library
    before = sorted((path.name, path.stat().st_mtime_ns) for path in folder.iterdir())
    plans = [json.loads(line) for line in cli("act", "--plan", "--json", "--db", str(db)).stdout.splitlines()]
    assert len(plans) == 1 and plans[0]["keep"].endswith("/orig.jpg"), plans
    assert sorted(path.rsplit("/", 1)[-1] for path in plans[0]["move"]) == ["crop.jpg", "half.jpg", "orig (1).jpg"]
    assert plans[0]["bytes_freed"] == sum((folder / name).stat().st_size
                                          for name in ("crop.jpg", "half.jpg", "orig (1).jpg"))
    changes = dict(zip((path.rsplit("/", 1)[-1] for path in plans[0]["move"]), plans[0]["changes"], strict=True))
    assert changes["orig (1).jpg"] == "the same bytes: an exact copy"
    assert changes["half.jpg"] == "half the size" and changes["crop.jpg"].startswith("cropped to the part"), changes
    text = cli("act", "--plan", "--db", str(db)).stdout
    assert "keep " in text and "(chosen by " in text and "nothing was moved" in text
    assert "half.jpg  (half the size)" in text
    assert sorted((path.name, path.stat().st_mtime_ns) for path in folder.iterdir()) == before
    config = tmp_path / "keep.toml"  # a protected folder's file is kept first, and never moved
    config.write_text(f'[keep]\nprotected = ["{folder / "half.jpg"}"]\n')
    protected = json.loads(cli("--config", str(config), "act", "--plan", "--json", "--db", str(db)).stdout)
    assert protected["keep"].endswith("/half.jpg") and protected["rule"] == "protected"
    config.write_text('[keep]\norder = ["pixels", "sharpest"]\n')
    refused = cli("--config", str(config), "act", "--plan", "--db", str(db), check=False)
    assert refused.returncode == 78 and "sharpest" in refused.stderr


def test_same_size_copies_keep_the_photo_they_departed_from(tmp_path, data, cli):
    """A mirror, a darker copy and a captioned copy of one photo: the same pixels, format and kind of
    name, and the copies saved with more bytes. Only what was changed tells them apart: each copy is
    further from the others than from the photo it was made from."""
    from PIL import Image, ImageDraw, ImageEnhance

    folder = tmp_path / "same-size"
    folder.mkdir()
    photo = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    photo.save(folder / "z-photo.jpg", quality=85)  # last in path order, fewest bytes
    photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "a-mirror.jpg", quality=95)
    ImageEnhance.Brightness(photo).enhance(0.75).save(folder / "b-darker.jpg", quality=95)
    captioned = photo.copy()
    draw = ImageDraw.Draw(captioned)
    width, height = captioned.size
    draw.rectangle((0, int(height * 0.8), width, height), fill=(250, 250, 250))
    draw.text((width * 0.05, height * 0.83), "SUMMER 2019  " * 4, fill=(10, 10, 10), font_size=height // 12)
    captioned.save(folder / "c-caption.jpg", quality=95)
    db = tmp_path / "index.sqlite"
    cli("scan", "--db", str(db), str(folder))
    plans = [json.loads(line) for line in cli("act", "--plan", "--json", "--db", str(db)).stdout.splitlines()]
    assert len(plans) == 1 and len(plans[0]["move"]) == 3, plans
    assert plans[0]["keep"].endswith("/z-photo.jpg") and plans[0]["rule"] == "likely_original", plans


def test_two_exact_copies_of_one_edited_copy_do_not_outvote_its_original(tmp_path, data, cli):
    """A sticker copy saved twice byte for byte is one picture in the group's median, not two."""
    from PIL import Image, ImageDraw, ImageEnhance

    folder = tmp_path / "stickers"
    folder.mkdir()
    photo = Image.open(data / "edits/aaa-orig.jpg").convert("RGB")
    photo.save(folder / "z-photo.jpg", quality=85)
    sticker = photo.copy()
    width, height = sticker.size
    ImageDraw.Draw(sticker).ellipse((width * 0.6, height * 0.1, width * 0.85, height * 0.45), fill=(250, 200, 40))
    sticker.save(folder / "a-sticker.jpg", quality=95)
    shutil.copy(folder / "a-sticker.jpg", folder / "b-sticker.jpg")
    ImageEnhance.Brightness(photo).enhance(0.8).save(folder / "c-darker.jpg", quality=95)
    db = tmp_path / "index.sqlite"
    cli("scan", "--db", str(db), str(folder))
    plans = [json.loads(line) for line in cli("act", "--plan", "--json", "--db", str(db)).stdout.splitlines()]
    assert len(plans) == 1 and plans[0]["keep"].endswith("/z-photo.jpg"), plans
