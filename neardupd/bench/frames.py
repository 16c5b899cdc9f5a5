"""``neardupd bench make SRC OUT --frames``: a labelled folder where every original sits in the same frames.

The photos under SRC are shuffled; a share become **distractors** (no copies), the others
**originals**, each put into the same four frames drawn here: a phone ``screenshot``, a ``meme``
caption bar, a polaroid-like ``card`` and a big diagonal ``watermark``. Two different photos in
one frame share a lot of pixels but are strangers (the bench protocol scores pairs across groups
as negatives), so the folder measures strict precision against shared frames. Files are saved
as :mod:`neardupd.bench.make` saves them; ``truth.json`` says which is which. SRC is only read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from neardupd.bench.make import MadeBench, MakeSettings, _save, start_bench, write_truth

log = logging.getLogger(__name__)

SCREEN = (540, 1170)
PHOTO_BOX = (0, 120, 540, 720)
"""Where the screenshot shows the photo (left, top, right, bottom); all else is the same for every photo."""
GREY, DARK, BLUE = (142, 142, 147), (28, 28, 30), (0, 122, 255)


def make_frames(source: str | os.PathLike, out: str | os.PathLike,
                settings: MakeSettings = MakeSettings(),  # noqa: B008 - frozen, so shared safely
                progress: Callable[[int, int], None] | None = None) -> MadeBench:
    """Write OUT/images/ and OUT/truth.json: originals, their four framed copies, distractors."""
    start = start_bench(source, out, settings, minimum=2, what="a frames set")
    folder, images, rng, root, photos = start.folder, start.images, start.rng, start.root, start.photos
    kept_apart = round(len(photos) * settings.distractors)
    truth: dict[str, dict] = {}
    names: set[str] = set()
    for group, (path, photo) in enumerate(photos):
        role = "distractor" if group < kept_apart else "original"
        name = _save(photo, images, rng, names, original=True)
        truth[name] = {"group": group, "role": role, "source": os.fsdecode(os.path.relpath(path, root))}
        if role == "original":
            for frame, draw in FRAMES.items():
                truth[_save(draw(photo), images, rng, names)] = {
                    "group": group, "role": "copy", "transform": frame, "families": ["frame"]}
        if progress:
            progress(group + 1, len(photos))
    write_truth(folder, truth)
    originals = len(photos) - kept_apart
    return MadeBench(folder, originals, originals * len(FRAMES), kept_apart, 0, len(start.paths) - len(photos))


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _heart(draw: ImageDraw.ImageDraw, x: int, y: int, r: int, fill=None, outline=DARK) -> None:
    """A heart in the box (x, y, x + 2r, y + 2r): two lobes and a triangle."""
    draw.ellipse((x, y, x + r, y + r), fill=fill or outline)
    draw.ellipse((x + r, y, x + 2 * r, y + r), fill=fill or outline)
    draw.polygon([(x + 1, y + r * 2 // 3), (x + 2 * r - 1, y + r * 2 // 3), (x + r, y + 2 * r)], fill=fill or outline)


def _screenshot(photo: Image.Image) -> Image.Image:
    """A phone screenshot of a photo app: status bar, header, the photo, actions, caption, tab bar."""
    canvas = Image.new("RGB", SCREEN, "#f5f5f7")
    draw = ImageDraw.Draw(canvas)
    width, height = SCREEN
    # status bar: time, signal bars, battery
    draw.text((30, 12), "9:41", fill=DARK, font=_font(22), stroke_width=1, stroke_fill=DARK)
    for bar in range(4):
        draw.rectangle((410 + bar * 9, 30 - bar * 5, 415 + bar * 9, 34), fill=DARK)
    draw.rounded_rectangle((462, 14, 502, 34), radius=5, outline=DARK, width=2)
    draw.rectangle((466, 18, 490, 30), fill=DARK)
    draw.rectangle((504, 20, 507, 28), fill=DARK)
    # app header: title and a round avatar with initials
    draw.rectangle((0, 48, width, 112), fill="white")
    draw.line((0, 112, width, 112), fill=(216, 216, 220), width=2)
    draw.text((24, 60), "Photos", fill=DARK, font=_font(34), stroke_width=1, stroke_fill=DARK)
    draw.ellipse((466, 56, 514, 104), fill=(88, 86, 214))
    draw.text((490, 80), "JD", fill="white", font=_font(20), anchor="mm")
    # the photo, fitted into its box and centred
    left, top, right, bottom = PHOTO_BOX
    scale = min((right - left) / photo.width, (bottom - top) / photo.height)
    fitted = photo.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))),
                          Image.Resampling.LANCZOS)
    draw.rectangle(PHOTO_BOX, fill="black")
    canvas.paste(fitted, (left + (right - left - fitted.width) // 2, top + (bottom - top - fitted.height) // 2))
    # actions: like, comment, share, bookmark
    _heart(draw, 24, 742, 15, fill=(255, 59, 48))
    draw.ellipse((76, 740, 110, 772), outline=DARK, width=3)
    draw.polygon([(80, 764), (76, 780), (92, 770)], fill=DARK)
    draw.polygon([(128, 756), (162, 740), (150, 776), (144, 760)], outline=DARK, width=3)
    draw.polygon([(496, 740), (520, 740), (520, 780), (508, 768), (496, 780)], outline=DARK, width=3)
    # caption and comments, fixed text
    draw.text((24, 796), "1,284 likes", fill=DARK, font=_font(20), stroke_width=1, stroke_fill=DARK)
    for row, line in enumerate(("jane.doe  Golden hour never disappoints. Took this on",
                                "the way home and could not stop smiling. #nofilter",
                                "#weekend #photography #sunset #lovethisplace")):
        draw.text((24, 830 + row * 28), line, fill=GREY, font=_font(19))
    draw.text((24, 918), "View all 48 comments", fill=(174, 174, 178), font=_font(19))
    draw.text((24, 948), "2 HOURS AGO", fill=(174, 174, 178), font=_font(14))
    # tab bar: home, search, add, likes, profile; and the home indicator
    draw.rectangle((0, 1070, width, height), fill="white")
    draw.line((0, 1070, width, 1070), fill=(216, 216, 220), width=2)
    centres = [54 + 108 * i for i in range(5)]
    x = centres[0]
    draw.polygon([(x - 16, 1100), (x, 1084), (x + 16, 1100), (x + 12, 1100), (x + 12, 1118), (x - 12, 1118),
                  (x - 12, 1100)], fill=DARK)
    x = centres[1]
    draw.ellipse((x - 14, 1084, x + 8, 1106), outline=DARK, width=3)
    draw.line((x + 5, 1103, x + 15, 1115), fill=DARK, width=4)
    x = centres[2]
    draw.rounded_rectangle((x - 16, 1084, x + 16, 1116), radius=8, outline=DARK, width=3)
    draw.line((x, 1091, x, 1109), fill=DARK, width=3)
    draw.line((x - 9, 1100, x + 9, 1100), fill=DARK, width=3)
    _heart(draw, centres[3] - 15, 1086, 15)
    x = centres[4]
    draw.ellipse((x - 16, 1084, x + 16, 1116), fill=(88, 86, 214))
    draw.rounded_rectangle((190, 1152, 350, 1158), radius=3, fill=DARK)
    return canvas


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float) -> list[str]:
    """Greedy word wrap to lines at most ``width`` pixels long (a too-long word keeps its own line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _meme(photo: Image.Image) -> Image.Image:
    """A white bar on top (30 % of the photo's height) with a bold caption, the photo below."""
    bar = max(24, round(photo.height * 0.3))
    canvas = Image.new("RGB", (photo.width, photo.height + bar), "white")
    canvas.paste(photo, (0, bar))
    size = max(8, bar // 4)
    while True:  # the font shrinks until the wrapped caption fits the bar
        font = _font(size)
        lines = _wrap("WHEN THE WEEKEND FINALLY ARRIVES", font, photo.width * 0.92)
        step = round(size * 1.2)
        if (step * len(lines) <= bar * 0.9 and all(font.getlength(line) <= photo.width * 0.96 for line in lines)) \
                or size <= 8:
            break
        size -= 1
    draw = ImageDraw.Draw(canvas)
    top = (bar - step * len(lines)) / 2 + step / 2
    for row, line in enumerate(lines):
        draw.text((photo.width / 2, top + row * step), line, fill="black", font=font, anchor="mm",
                  stroke_width=max(1, size // 18), stroke_fill="black")
    return canvas


def _card(photo: Image.Image) -> Image.Image:
    """A cream card: borders of 8 % of the long side (25 % below), a thin line, a tilted label."""
    long = max(photo.size)
    side, below = round(long * 0.08), round(long * 0.25)
    canvas = Image.new("RGB", (photo.width + 2 * side, photo.height + side + below), "#f3eee2")
    canvas.paste(photo, (side, side))
    line = max(1, long // 400)
    ImageDraw.Draw(canvas).rectangle((side - line, side - line, side + photo.width + line - 1,
                                      side + photo.height + line - 1), outline=(40, 40, 40), width=line)
    font = _font(round(below * 0.3))
    label = Image.new("RGBA", (round(font.getlength("Summer memories")) + 20, round(below * 0.5)), (0, 0, 0, 0))
    ImageDraw.Draw(label).text((label.width / 2, label.height / 2), "Summer memories", fill=(52, 56, 110, 255),
                               font=font, anchor="mm")
    label = label.rotate(4, resample=Image.Resampling.BICUBIC, expand=True)  # a hand rarely writes level
    canvas.paste(label, ((canvas.width - label.width) // 2,
                         side + photo.height + (below - label.height) // 2), label)
    return canvas


def _watermark(photo: Image.Image) -> Image.Image:
    """The photo under a big half-transparent white "© SAMPLE PHOTO" with a dark outline, 30° up."""
    text = "© SAMPLE PHOTO"

    def layer(size: int) -> Image.Image:
        font, stroke = _font(size), max(2, size // 16)
        left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
        drawn = Image.new("RGBA", (right - left + 8, bottom - top + 8), (0, 0, 0, 0))
        ImageDraw.Draw(drawn).text((4 - left, 4 - top), text, font=font, fill=(255, 255, 255, 128),
                                   stroke_width=stroke, stroke_fill=(20, 20, 20, 128))
        return drawn.rotate(30, resample=Image.Resampling.BICUBIC, expand=True)

    size = max(8, round(photo.height * 0.18))
    mark = layer(size)
    fit = min(0.95 * photo.width / mark.width, 0.95 * photo.height / mark.height)
    if fit < 1:  # a tall photo: the text shrinks to stay inside it
        mark = layer(max(8, int(size * fit)))
    over = Image.new("RGBA", photo.size, (0, 0, 0, 0))
    over.paste(mark, ((photo.width - mark.width) // 2, (photo.height - mark.height) // 2))
    return Image.alpha_composite(photo.convert("RGBA"), over).convert("RGB")


FRAMES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "screenshot": _screenshot, "meme": _meme, "card": _card, "watermark": _watermark}
"""The four frames, the same for every photo, by the name truth.json gives as the copy's transform."""
