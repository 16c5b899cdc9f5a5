"""Hashes: golden values, imagehash equality, perceptual properties."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import pytest
from PIL import Image

from neardupd import signature
from neardupd.decode import decode_file, decode_stream
from neardupd.signature import Box, hamming

GOLDEN = {
    "edits/aaa-orig.jpg": 0xACA29C1C33DC23D7,
    "camera/jolla.jpg": 0xC86A53D0FC59B11B,
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_phash_golden_values(data, name):
    assert signature.compute(decode_file(data / name).pixels).phash == GOLDEN[name]


@pytest.mark.parametrize("name", ["edits/aaa-orig.jpg", "camera/iphone_hdr_YES.jpg", "formats/baboon.pgm",
                                  "hostile/flat-white.png", "hostile/gradient-16bit.png"])
def test_phash_equals_imagehash_on_the_decoded_picture(data, name):
    pixels = decode_file(data / name).pixels
    expected = int(str(imagehash.phash(Image.fromarray(pixels))), 16)
    assert signature.phash(signature.grayscale(pixels)) == expected


def test_dihedral_hashes_equal_hashes_of_rotated_pixels(data):
    gray = signature.grayscale(decode_file(data / "camera/jolla.jpg").pixels)
    gray32 = np.asarray(Image.fromarray(gray).resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    from_one_dct = signature.dct_hashes(gray32)
    one_by_one = [signature.dct_hashes(form)[0] for form in signature.dihedral(gray32)]
    assert list(from_one_dct) == one_by_one
    assert len(set(from_one_dct)) == 8


def _reencoded(path, quality=None, scale=1.0):
    image = Image.open(path).convert("RGB")
    if scale != 1.0:
        image = image.resize((int(image.width * scale), int(image.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality or 90)
    buffer.seek(0)
    return signature.compute(decode_stream(buffer, "memory").pixels)


def test_reencoding_and_resizing_stay_close_and_a_stranger_does_not(data):
    original = signature.compute(decode_file(data / "edits/aaa-orig.jpg").pixels)
    recompressed = _reencoded(data / "edits/aaa-orig.jpg", quality=30)
    resized = _reencoded(data / "edits/aaa-orig.jpg", scale=0.3)
    stranger = signature.compute(decode_file(data / "camera/jolla.jpg").pixels)
    assert hamming(original.phash, recompressed.phash) <= 6
    assert hamming(original.phash, resized.phash) <= 6
    assert hamming(original.phash, stranger.phash) > 16  # the default search radius


def test_content_box_finds_added_borders(data):
    pixels = decode_file(data / "edits/aaa-orig.jpg").pixels
    height, width = pixels.shape[:2]
    padded = np.full((height + 40, width + 100, 3), 20, dtype=np.uint8)
    padded[10:10 + height, 60:60 + width] = pixels
    box = signature.content_box(signature.grayscale(padded))
    assert box.left == pytest.approx(60 / (width + 100), abs=0.01)
    assert box.top == pytest.approx(10 / (height + 40), abs=0.01)
    assert box.right == pytest.approx((60 + width) / (width + 100), abs=0.01)
    assert signature.content_box(signature.grayscale(pixels)) == Box()


def test_signed_storage_round_trip():
    for value in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1):
        stored = signature.to_signed(value)
        assert -(1 << 63) <= stored < (1 << 63)
        assert signature.to_unsigned(stored) == value
