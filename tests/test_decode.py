"""Every file in shared/data decodes correctly or fails with a classified error."""

from __future__ import annotations

import os
import shutil
import sqlite3

import numpy as np
import pytest
from PIL import Image

from neardupd.decode import decode_file, read_metadata
from neardupd.errors import DecodeError
from neardupd.files import looks_like_image
from neardupd.metadata import Metadata

EXPECTED_ERRORS = {
    "hostile/empty.jpg": "empty",
    "hostile/random-bytes.jpg": "unsupported",
    "hostile/eps-named.jpg": "unsupported",
    "hostile/notes.png": "unsupported",
    "hostile/bomb-20000x20000.png": "too_large",
    "hostile/truncated-12mp.jpg": "truncated",
}


def _images(data):
    return sorted(p for p in data.rglob("*") if p.is_file() and p.suffix.lower() != ".md")


def test_every_file_decodes_or_fails_as_classified(data):
    seen_errors = {}
    for path in _images(data):
        name = path.relative_to(data).as_posix()
        try:
            decoded = decode_file(path)
        except DecodeError as err:
            seen_errors[name] = err.kind
            assert err.reason and str(path) in str(err)
            continue
        assert decoded.pixels.dtype == np.uint8 and decoded.pixels.ndim == 3 and decoded.pixels.shape[2] == 3
        assert max(decoded.pixels.shape[:2]) <= 256
        assert decoded.width >= 1 and decoded.height >= 1
    assert seen_errors == EXPECTED_ERRORS


def test_orientation_makes_portraits_upright(data):
    for n in range(1, 9):
        decoded = decode_file(data / f"orientation/portrait_{n}.jpg")
        assert (decoded.width, decoded.height) == (450, 600)
        assert decoded.pixels.shape[0] > decoded.pixels.shape[1]


def test_camera_rotations_come_out_upright(data):
    sizes = {n: decode_file(data / f"camera/exif-rotn-{n}.jpg") for n in (1, 3, 6, 8)}
    assert (sizes[1].width, sizes[1].height) == (4032, 3024)
    assert (sizes[3].width, sizes[3].height) == (4032, 3024)
    assert (sizes[6].width, sizes[6].height) == (3024, 4032)
    assert (sizes[8].width, sizes[8].height) == (3024, 4032)


def test_sixteen_bit_gradient_is_scaled_not_clipped(data):
    gray = decode_file(data / "hostile/gradient-16bit.png").pixels[:, :, 0]
    assert gray.min() < 10 and gray.max() > 245
    assert 100 < gray.mean() < 155


def test_modes_all_look_like_the_original(data):
    original = decode_file(data / "modes/original.jpg").pixels.astype(float)
    for path in sorted((data / "modes").glob("*")):
        if path.suffix == ".md" or path.name.startswith("1."):
            continue
        pixels = decode_file(path).pixels.astype(float)
        gray_error = np.abs(pixels.mean(axis=2) - original.mean(axis=2)).mean()
        assert gray_error < 12, path.name


def test_truncated_jpeg_is_never_grey_filled(data):
    with pytest.raises(DecodeError) as caught:
        decode_file(data / "hostile/truncated-12mp.jpg")
    assert caught.value.kind == "truncated"


def test_pixel_cap_is_configurable(data):
    with pytest.raises(DecodeError) as caught:
        decode_file(data / "camera/jolla.jpg", max_pixels=1_000_000)
    assert caught.value.kind == "too_large"
    assert "max_pixels" in caught.value.reason


def test_sniffing_recognises_content_not_names(data):
    assert looks_like_image((data / "formats/ukbench09380.svg").read_bytes()[:16])
    assert looks_like_image((data / "heic/IMG_5195.HEIC").read_bytes()[:16])
    assert not looks_like_image((data / "hostile/notes.png").read_bytes()[:16])


def test_camera_rotations_agree_upright_with_each_other(data):
    """exif-rotn-1/3 and -6/8 are framed almost alike: upright, they align without any turn."""
    from neardupd import confirm, signature

    def thumb(n):
        return signature.compute(decode_file(data / f"camera/exif-rotn-{n}.jpg").pixels).thumb

    for first, second in ((1, 3), (6, 8)):
        assert confirm.confirm(thumb(first), thumb(second)).transform_name == "none"


def test_exif_tags_and_capture_time_are_read_with_the_pixels_and_kept_in_the_index(data, tmp_path, cli):
    """A plan reads them from the index (schema 7) instead of opening thousands of photos."""
    camera = data / "camera/exif-rotn-1.jpg"
    decoded = decode_file(camera)
    assert decoded.metadata.tags > 20 and decoded.metadata == read_metadata(bytes(camera))
    assert decoded.metadata.captured == 1510092855.0  # 2017:11:07 22:14:15, the camera's clock read as UTC
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(camera, folder / "shot.jpg")
    Image.open(camera).save(folder / "screen.png")  # no EXIF at all
    db = tmp_path / "index.sqlite"
    cli("scan", "--db", str(db), str(folder))
    with sqlite3.connect(db) as connection:
        stored = dict((os.path.basename(path), (tags, captured)) for path, tags, captured in connection.execute(
            "SELECT path, exif_tags, captured FROM files"))
    assert stored == {"shot.jpg": (decoded.metadata.tags, 1510092855.0), "screen.png": (0, None)}
    fifo = tmp_path / "not-a-photo.jpg"
    os.mkfifo(fifo)
    assert read_metadata(bytes(fifo)) == Metadata()  # never opened: a FIFO would block a reader
