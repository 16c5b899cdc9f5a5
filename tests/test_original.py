"""Which copy is the original, from what the pixels show: the group's median picture (pure: thumbs
in, distances out)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from neardupd.original import consensus, departure, same_borders
from neardupd.signature import Picture, compute, dihedral, make_thumb


def test_the_original_stands_nearest_the_median_of_copies_edited_in_different_places(data):
    """A mirror image and two copies each with a patch pasted elsewhere, aligned through their pairs'
    dihedral forms: the untouched photo is nearest the pixel-wise median (with its mirror image: what
    tells those two apart is that a turn is an edit, in the pairs' departures)."""
    grey = np.asarray(Image.open(data / "edits/aaa-orig.jpg").convert("L"))
    thumb = make_thumb(grey)
    left, right = thumb.copy(), thumb.copy()
    left[4:24, 4:24] = 255  # a caption box top left
    right[36:60, 30:60] = 0  # a black patch bottom right
    mirror = dihedral(thumb)[1]  # mirrored left-right: form 1 turns it back
    thumbs = {b"a-left": left, b"b-mirror": mirror, b"c-right": right, b"z-photo": thumb}
    forms = {(b"z-photo", b"a-left"): 0, (b"z-photo", b"b-mirror"): 1, (b"a-left", b"c-right"): 0}
    distances = consensus(thumbs, forms)
    assert distances[b"z-photo"] == min(distances.values()) < distances[b"a-left"] < distances[b"c-right"], distances
    assert distances[b"b-mirror"] == distances[b"z-photo"]  # a mirror changes no pixel once turned back
    # a quarter-turned copy of the mirror, met only through it, the pair stored either way round
    turned = dihedral(mirror)[2]  # turned 90 degrees counter-clockwise: form 6 turns it back
    for pair in ({(b"b-mirror", b"d-turned"): 6}, {(b"d-turned", b"b-mirror"): 2}):
        chained = consensus({**thumbs, b"d-turned": turned}, {**forms, **pair})
        assert chained[b"d-turned"] == chained[b"z-photo"] == min(chained.values()), (pair, chained)
    alone = consensus({b"x": thumb, b"y": left}, {(b"x", b"y"): 0})
    assert alone == {b"x": None, b"y": None}  # two pictures have no median to stand near


def _picture(rgb: np.ndarray) -> Picture:
    return Picture.from_signature(compute(rgb), rgb.shape[1], rgb.shape[0])


def test_a_padded_copys_bars_count_in_no_tone_of_its_departure(data):
    """Black bars darken a padded copy's whole-picture mean but change no tone of the photo: its
    departure counts no brightness, while a copy made darker at the same extent does."""
    rgb = np.asarray(Image.open(data / "edits/aaa-orig.jpg").convert("RGB"))
    padded = np.pad(rgb, ((rgb.shape[0] // 4,) * 2, (0, 0), (0, 0)))  # letterboxed: a third of it black
    darker = (rgb * 0.8).astype(np.uint8)
    photo = _picture(rgb)
    bars = {"transform": "none", "borders_a": None, "borders_b": [0.0, 0.25 / 1.5, 0.0, 0.25 / 1.5]}
    assert not same_borders(bars) and same_borders({"borders_a": None, "borders_b": None})
    whole = {"transform": "none", "borders_a": None, "borders_b": None}
    assert departure(photo, _picture(padded), bars, 1.0) < 0.05  # the same photo once the bars are left out
    assert departure(photo, _picture(darker), whole, 1.0) > 0.1  # about 25 grey levels darker
