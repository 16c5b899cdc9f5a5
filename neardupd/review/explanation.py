"""What was done to an original to make its copy, in words: the text of a pair's ``details``.

The details of a pair (see README.md, "What changed") are measured from ``a`` to ``b``, whichever was
stored first. A person reads a copy against its original, so the words are written from the
original's side (``likely_original``, or the side a caller names): a 1,600-pixel original and its
800-pixel turned copy read "turned 90° counter-clockwise; half the size" whichever came first.

The canvas figures are corrected for what explains them: a crop, a photo pasted into a larger
picture, added borders and the corners a turn adds all change the picture's size, aspect and mean
brightness without scaling, stretching or brightening the photo. So a plain crop is not "stretched
x0.81", a 12° turn is not "brightness -13", a padded copy is not "brightness -34".

>>> phrase({"transform": "rot270", "scale": 0.5, "likely_original": "a"})
'turned 90° counter-clockwise; half the size'
>>> phrase({"transform": "rot270", "scale": 0.5, "likely_original": "b"})
'turned 90° clockwise; twice the size'
>>> phrase({"crop": [0.1, 0.15, 0.8, 0.9], "scale": 0.72, "aspect_change": 0.933, "brightness": -9})
'cropped to the part 0.10,0.15,0.80,0.90 of the original'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from neardupd.original import GROWN_TOLERANCE, border_area, grown_aspect, grown_canvas

QUARTER_TURNS = {"none": 0, "rot90": 1, "rot180": 2, "rot270": 3}
"""Counter-clockwise quarter turns by which ``b`` is turned to look like ``a`` (``transform``)."""
SCALE_FROM = 0.05
STRETCH_FROM = 0.08
"""A stretch under 8 % is not told: a crop box found on the thumbs is a few pixels off (a crop of
70 x 75 % read 66 x 75 %, an apparent stretch of 6 %)."""
BRIGHTNESS_FROM = 8.0
CONTRAST_FROM = 0.05
COLOUR_FROM = 8.0
"""Grey levels (0..255) of a mean change, a relative change of the grey-level spread, and grey levels
of one channel's change beyond the brightness change, below which nothing is said."""
CHANNELS = ("red", "green", "blue")
SATURATION_FROM = 0.2
SHARPNESS_FROM = 0.15
"""Relative changes of colourfulness and of sharpness below which nothing is said (blur-a-little,
measured 0.90, is not told; blur-a-lot, 0.59, is)."""
RESAVED_QUALITY = 60
"""A JPEG quality at or under which a copy is called re-saved (cameras save 85-98)..."""
RESAVED_DROP = 15
"""...when it is also this much under its original's."""
GREY_LEFT = 0.1
"""A copy keeping under a tenth of its original's colourfulness was turned black and white."""


def original_side(details: Mapping) -> str:
    """``"a"`` or ``"b"``: the side the details name as the likely original (``a`` if unsaid)."""
    return "b" if details.get("likely_original") == "b" else "a"


def phrase(details: Mapping, original: str | None = None) -> str:
    """What was done to the original (``original``: ``"a"`` or ``"b"``, default the likely original)
    to make the other picture, as a phrase; "no change measured" if nothing."""
    edit = _from_original(details, original or original_side(details))
    parts = [*_turns(edit), *_framing(edit), *_size(edit), *_quality(edit), *_tones(edit), *_region(edit)]
    return "; ".join(parts) or "no change measured"


def _from_original(details: Mapping, original: str) -> dict:
    """The details as measured from the original to the copy (they are from ``a`` to ``b``)."""
    transform = str(details.get("transform", "none"))
    turned, mirrored = transform.removesuffix("+mirror"), transform.endswith("+mirror") or transform == "mirror"
    quarters = QUARTER_TURNS.get("none" if turned == "mirror" else turned, 0)
    edit = {"mirrored": mirrored, "rotation": float(details.get("rotation", 0) or 0),
            "perspective": bool(details.get("perspective")), "region": details.get("differing_region"),
            "region_of": "original" if original == "a" else "copy"}
    sizes = (details.get("size_a"), details.get("size_b"))
    edit["sizes"] = (sizes if original == "a" else sizes[::-1]) if all(sizes) else None
    qualities = (details.get("quality_a"), details.get("quality_b"))
    edit["qualities"] = qualities if original == "a" else qualities[::-1]
    if original == "a":
        # b turned by `quarters` gives a: the copy is the original turned back (a mirror is its own inverse)
        edit["quarters"] = quarters if mirrored else -quarters % 4
        edit |= {"scale": float(details.get("scale", 1) or 1), "aspect": float(details.get("aspect_change", 1) or 1),
                 "crop": details.get("crop"), "extended": details.get("crop_of_b"),
                 "pasted": details.get("contained_in"), "borders_original": details.get("borders_a"),
                 "borders_copy": details.get("borders_b"), "brightness": float(details.get("brightness", 0) or 0),
                 "contrast": float(details.get("contrast_ratio", 1) or 1),
                 "colour": [float(v) for v in details.get("colour_shift") or (0, 0, 0)],
                 "colourfulness": details.get("colourfulness_change"), "sharpness": details.get("sharpness_change")}
        return edit
    edit["quarters"] = quarters
    edit["rotation"] = -edit["rotation"]
    edit |= {"scale": 1 / max(float(details.get("scale", 1) or 1), 1e-6),
             "aspect": 1 / max(float(details.get("aspect_change", 1) or 1), 1e-6),
             "crop": details.get("crop_of_b"), "extended": details.get("crop"), "pasted": None,
             "cut_from": details.get("contained_in"), "borders_original": details.get("borders_b"),
             "borders_copy": details.get("borders_a"), "brightness": -float(details.get("brightness", 0) or 0),
             "contrast": 1 / max(float(details.get("contrast_ratio", 1) or 1), 1e-6),
             "colour": [-float(v) for v in details.get("colour_shift") or (0, 0, 0)],
             "colourfulness": _inverse(details.get("colourfulness_change")),
             "sharpness": _inverse(details.get("sharpness_change"))}
    return edit


def _quality(edit: Mapping) -> list[str]:
    """A re-save at a low JPEG quality (a messenger's, a web page's): the copy's quality is low and
    well under the original's (or the original is no JPEG)."""
    original, copy = edit["qualities"]
    if copy is None or copy > RESAVED_QUALITY or (original is not None and copy > original - RESAVED_DROP):
        return []
    return [f"re-saved as a JPEG of quality {copy}" + (f" (the original: {original})" if original else "")]


def _inverse(ratio: float | None) -> float | None:
    return None if ratio is None else 1 / max(float(ratio), 1e-3)


def _turns(edit: Mapping) -> list[str]:
    parts = []
    quarters = edit["quarters"]
    if quarters == 2:
        parts.append("turned upside down")
    elif quarters:
        parts.append("turned 90° " + ("counter-clockwise" if quarters == 1 else "clockwise"))
    if edit["mirrored"]:
        parts.append("mirrored")
    if abs(edit["rotation"]) >= 1:
        parts.append(f"turned {abs(edit['rotation']):.0f}° " + ("counter-clockwise" if edit["rotation"] > 0
                                                                 else "clockwise"))
    if edit["perspective"]:
        parts.append("seen in perspective")
    return parts


def _framing(edit: Mapping) -> list[str]:
    parts = []
    if edit["pasted"] or edit.get("cut_from"):  # the keypoints' box says it exactly: the thumbs' crop is the same
        edit = {**edit, "crop": None, "extended": None}
    if edit["crop"]:
        parts.append(f"cropped to the part {_box(edit['crop'])} of the original")
    if edit["extended"]:
        parts.append(f"shows more around it (the original is its part {_box(edit['extended'])})")
    if edit["pasted"]:
        parts.append(f"pasted into a larger picture, at {_box(edit['pasted'])} of it")
    if edit.get("cut_from"):
        parts.append(f"cut out of a larger picture (it was at {_box(edit['cut_from'])} of the original)")
    if edit["borders_copy"] and not edit["borders_original"]:
        parts.append("borders added " + _sides(edit["borders_copy"]))
    if edit["borders_original"] and not edit["borders_copy"]:
        parts.append("borders removed")
    return parts


def _size(edit: Mapping) -> list[str]:
    """The photo's own scale and stretch: the canvas figures with the framing taken out."""
    scale, aspect = edit["scale"], edit["aspect"]
    boxes = ((edit["pasted"], True), (edit.get("cut_from"), False)) if edit["pasted"] or edit.get("cut_from") \
        else ((edit["crop"], False), (edit["extended"], True))
    for box, inside in boxes:
        if box:
            width, height = max(box[2] - box[0], 1e-3), max(box[3] - box[1], 1e-3)
            scale = scale * math.sqrt(width * height) if inside else scale / math.sqrt(width * height)
            aspect = aspect * width / height if inside else aspect * height / width
    scale *= math.sqrt(_area(edit["borders_copy"]) / _area(edit["borders_original"]))
    if abs(edit["rotation"]) >= 1 and (edit["pasted"] or edit.get("cut_from")):
        # the box is the turned photo's upright bounding box: larger than the photo, and of another shape
        shape = edit["sizes"][0][0] / max(edit["sizes"][0][1], 1) if edit["sizes"] else 1.0
        scale, aspect = scale / grown_canvas(shape, edit["rotation"]), 1.0
    elif abs(edit["rotation"]) >= 1:
        scale, aspect = _without_turned_canvas(scale, aspect, edit["rotation"], edit["sizes"])
    parts = []
    if abs(aspect - 1) > STRETCH_FROM:
        parts.append(f"stretched {'wider' if aspect > 1 else 'taller'} (aspect x{aspect:.2f})")
    if abs(scale - 1) > SCALE_FROM:
        parts.append(_scale_words(scale))
    return parts


def _without_turned_canvas(scale: float, aspect: float, degrees: float,
                           sizes: tuple[Sequence[int], Sequence[int]] | None = None) -> tuple[float, float]:
    """Scale and aspect of a turned copy without the canvas a turn grows to hold the corners, when
    its aspect says it grew. A picture of aspect r turned by t in a grown canvas has aspect
    (r cos t + sin t) / (r sin t + cos t): solved for r, the canvas grew by the square root of
    (r cos t + sin t)(r sin t + cos t) / r. A turn within the same canvas keeps the aspect: kept."""
    if abs(math.log(aspect)) < 0.03 or abs(math.sin(math.radians(degrees))) < 1e-3:
        return scale, aspect
    if sizes is not None:  # which canvas grew is known: the one whose aspect a turn of the other gives
        original, copy = (width / max(height, 1) for width, height in sizes)
        if abs(math.log(copy / grown_aspect(original, degrees))) < GROWN_TOLERANCE:
            return scale / grown_canvas(original, degrees), 1.0
        if abs(math.log(original / grown_aspect(copy, degrees))) < GROWN_TOLERANCE:
            return scale * grown_canvas(copy, degrees), 1.0
        return scale, aspect
    grown = _grown_by(aspect, degrees)
    if grown is not None:
        return scale / grown, 1.0
    grown = _grown_by(1 / aspect, degrees)  # the original is the turned one (a copy made from a copy)
    return (scale * grown, 1.0) if grown is not None else (scale, aspect)


def _grown_by(aspect: float, degrees: float) -> float | None:
    """How much a turned picture's canvas grew (linear), if ``aspect`` is that of a grown canvas."""
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    # aspect * r * (r sin + cos) = r cos + sin  ->  aspect sin r^2 + (aspect - 1) cos r - sin = 0
    a, b, c = aspect * sin, (aspect - 1) * cos, -sin
    ratio = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    if not 0.2 < ratio < 5:
        return None
    grown = grown_canvas(ratio, degrees)
    return grown if grown > 1.001 else None


def _tones(edit: Mapping) -> list[str]:
    """Brightness, contrast and colour: only where both pictures show the same extent (the means
    are of whole pictures: borders, a turn's corners, a crop or an overlay move them)."""
    if (edit["crop"] or edit["extended"] or edit["pasted"] or edit.get("cut_from") or edit["region"]
            or abs(edit["rotation"]) >= 1 or bool(edit["borders_copy"]) != bool(edit["borders_original"])):
        return []
    parts = []
    brightness = edit["brightness"]
    if abs(brightness) >= BRIGHTNESS_FROM:
        parts.append(f"{'brighter' if brightness > 0 else 'darker'} by {abs(brightness):.0f} grey levels")
    if abs(edit["contrast"] - 1) >= CONTRAST_FROM:
        parts.append(f"{'more' if edit['contrast'] > 1 else 'less'} contrast ({(edit['contrast'] - 1) * 100:+.0f} %)")
    parts += _saturation_and_sharpness(edit)
    shifts = [value - brightness for value in edit["colour"]]
    strongest = max(range(3), key=lambda channel: abs(shifts[channel]))
    if abs(shifts[strongest]) >= COLOUR_FROM:
        parts.append(f"colours shifted ({'more' if shifts[strongest] > 0 else 'less'} {CHANNELS[strongest]})")
    return parts


def _saturation_and_sharpness(edit: Mapping) -> list[str]:
    parts = []
    colourful = edit.get("colourfulness")
    if colourful is not None and colourful < GREY_LEFT:
        parts.append("turned black and white")
    elif colourful is not None and abs(colourful - 1) >= SATURATION_FROM:
        parts.append(f"{'more' if colourful > 1 else 'less'} saturated ({(colourful - 1) * 100:+.0f} %)")
    sharp = edit.get("sharpness")
    if sharp is not None and sharp <= 1 - SHARPNESS_FROM:
        parts.append("blurred")
    elif sharp is not None and sharp >= 1 + SHARPNESS_FROM:
        parts.append("sharpened")
    return parts


def _region(edit: Mapping) -> list[str]:
    if not edit["region"]:
        return []
    box = edit["region"]
    share = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
    return [f"something added or changed {_place(box)} ({share * 100:.0f} % of the {edit['region_of']}, "
            f"at {_box(box)})"]


def _place(box: Sequence[float]) -> str:
    """Where a box lies, in words: "at the top left", "in the middle", "on the right"..."""
    across, down = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    row = "top" if down < 1 / 3 else "bottom" if down > 2 / 3 else ""
    column = "left" if across < 1 / 3 else "right" if across > 2 / 3 else ""
    if row and column:
        return f"at the {row} {column}"
    if row:
        return f"at the {row}"
    return f"on the {column}" if column else "in the middle"


def _scale_words(scale: float) -> str:
    for value, words in ((0.5, "half the size"), (2.0, "twice the size")):
        if abs(scale / value - 1) <= SCALE_FROM:
            return words
    return f"{'shrunk' if scale < 1 else 'enlarged'} to {scale * 100:.0f} %"


def _sides(borders: Sequence[float]) -> str:
    names = [name for name, value in zip(("left", "top", "right", "bottom"), borders, strict=True) if value > 0.01]
    if sorted(names) == ["left", "right"]:
        return "(left and right)"
    if sorted(names) == ["bottom", "top"]:
        return "(top and bottom)"
    return "(" + ", ".join(names) + ")" if len(names) < 4 else "(all round)"


def _area(borders: Sequence[float] | None) -> float:
    """The share of a picture inside its uniform borders."""
    return max(1 - border_area(borders), 1e-3)


def _box(box: Sequence[float]) -> str:
    """left,top,right,bottom fractions as the JSON has them, to two places."""
    return ",".join(f"{v:.2f}" for v in box)
