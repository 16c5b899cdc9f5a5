"""neardupd's own edit suite: the modified copies ``neardupd bench make`` makes of a user's photos.

Written for this project with Pillow, NumPy and OpenCV (not the AugLy library bench-dev was made
with), in the same families, so that a user can measure neardupd on their own library:

* mild: ``jpeg_q`` ``downscale`` ``brightness`` ``contrast`` ``saturation`` ``grayscale`` ``blur``
  ``sharpen`` ``noise`` ``color_jitter``
* geometric: ``hflip`` ``vflip`` ``rot90`` ``rotate_small`` ``crop`` ``pad`` ``aspect`` ``pad_square``
* overlay: ``text`` ``sticker`` ``stripes`` ``logo`` (another of the photos pasted on)

Every edit is a pure function ``(picture, rng, donor) -> picture``; the randomness comes only from
``rng``, so a seed gives the same folder again.
"""

from __future__ import annotations

import io
import string
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from neardupd.signature import valid_size

Edit = Callable[[Image.Image, np.random.Generator, Image.Image], Image.Image]


def _either(rng: np.random.Generator, low: tuple[float, float], high: tuple[float, float]) -> float:
    """A factor clearly below or clearly above 1."""
    return float(rng.uniform(*(low if rng.random() < 0.5 else high)))


def jpeg_q(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(8, 36)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def downscale(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    factor = rng.uniform(0.2, 0.6)
    size = (max(16, round(image.width * factor)), max(16, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def brightness(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(_either(rng, (0.5, 0.8), (1.25, 1.7)))


def contrast(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    return ImageEnhance.Contrast(image).enhance(_either(rng, (0.4, 0.75), (1.3, 1.8)))


def saturation(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    return ImageEnhance.Color(image).enhance(_either(rng, (0.0, 0.5), (1.5, 2.5)))


def grayscale(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    return image.convert("L").convert("RGB")


def blur(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 4.0)))


def sharpen(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.UnsharpMask(radius=2, percent=int(rng.integers(150, 300)), threshold=2))


def noise(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32)
    noisy = pixels + rng.normal(0.0, rng.uniform(8.0, 25.0), pixels.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def color_jitter(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32)
    jittered = pixels * rng.uniform(0.75, 1.25, 3) + rng.uniform(-20.0, 20.0)
    return Image.fromarray(np.clip(jittered, 0, 255).astype(np.uint8))


def hflip(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def vflip(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def rot90(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    turns = (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)
    return image.transpose(turns[int(rng.integers(0, 3))])


def rotate_small(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    """Turned by 3-25 degrees either way and cropped to the area that is all picture."""
    degrees = float(rng.uniform(3.0, 25.0) * rng.choice((-1, 1)))
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
    width, height = valid_size(image.width, image.height, degrees)
    left, top = (turned.width - width) / 2, (turned.height - height) / 2
    return turned.crop((round(left + 1), round(top + 1), round(left + width - 1), round(top + height - 1)))


def crop(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    """45-90 % of the area, at a random place, the aspect changed a little."""
    area, stretch = rng.uniform(0.45, 0.9), rng.uniform(0.85, 1.18)
    width = min(1.0, np.sqrt(area) * stretch)
    height = min(1.0, area / width)
    left, top = rng.uniform(0, 1 - width), rng.uniform(0, 1 - height)
    return image.crop((round(left * image.width), round(top * image.height),
                       round((left + width) * image.width), round((top + height) * image.height)))


def pad(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    """Borders of one colour adding 5-40 % to each dimension, shared unevenly between the sides."""
    extra_x, extra_y = rng.uniform(0.05, 0.4, 2) * (image.width, image.height)
    share_x, share_y = rng.uniform(0.2, 0.8, 2)
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    padded = Image.new("RGB", (image.width + round(extra_x), image.height + round(extra_y)), colour)
    padded.paste(image, (round(extra_x * share_x), round(extra_y * share_y)))
    return padded


def aspect(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    factor = _either(rng, (0.5, 0.8), (1.25, 2.0))
    if rng.random() < 0.5:
        return image.resize((max(16, round(image.width * factor)), image.height), Image.Resampling.BICUBIC)
    return image.resize((image.width, max(16, round(image.height * factor))), Image.Resampling.BICUBIC)


def pad_square(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    side = max(image.size)
    colour = ((0, 0, 0), (255, 255, 255), tuple(int(v) for v in rng.integers(0, 256, 3)))[int(rng.integers(0, 3))]
    square = Image.new("RGB", (side, side), colour)
    square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return square


def text(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    """A line of random letters, 8-25 % of the height, somewhere on the picture."""
    size = max(8, round(image.height * rng.uniform(0.08, 0.25)))
    letters = "".join(rng.choice(list(string.ascii_letters + string.digits + " "), int(rng.integers(4, 14))))
    font = ImageFont.load_default(size=size)
    edited = image.copy()
    draw = ImageDraw.Draw(edited)
    box = draw.textbbox((0, 0), letters, font=font)
    x = rng.uniform(0, max(1, image.width - (box[2] - box[0])))
    y = rng.uniform(0, max(1, image.height - (box[3] - box[1])))
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    draw.text((x, y), letters, font=font, fill=fill, stroke_width=max(1, size // 15), stroke_fill=(0, 0, 0))
    return edited


def sticker(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    """An opaque cartoon-like shape (what an emoji sticker does), 10-40 % of the width."""
    edited = image.copy()
    draw = ImageDraw.Draw(edited)
    side = max(4, round(min(image.size) * rng.uniform(0.1, 0.4)))
    x, y = rng.uniform(0, image.width - side), rng.uniform(0, image.height - side)
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    draw.ellipse((x, y, x + side, y + side), fill=fill, outline=(0, 0, 0), width=max(1, side // 20))
    eye = side / 8
    for eye_x in (x + side * 0.33, x + side * 0.67):
        draw.ellipse((eye_x - eye, y + side * 0.35 - eye, eye_x + eye, y + side * 0.35 + eye), fill=(0, 0, 0))
    draw.arc((x + side * 0.25, y + side * 0.4, x + side * 0.75, y + side * 0.8), 20, 160, fill=(0, 0, 0),
             width=max(1, side // 15))
    return edited


def stripes(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    """5-20 semi-transparent straight lines of one colour."""
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    colour = (*(int(v) for v in rng.integers(0, 256, 3)), int(rng.integers(70, 180)))
    width = max(1, round(min(image.size) * rng.uniform(0.005, 0.03)))
    vertical = rng.random() < 0.5
    for position in rng.uniform(0, 1, int(rng.integers(5, 21))):
        if vertical:
            draw.line((position * image.width, 0, position * image.width, image.height), fill=colour, width=width)
        else:
            draw.line((0, position * image.height, image.width, position * image.height), fill=colour, width=width)
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def logo(image: Image.Image, rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    """Another photo, 15-40 % of the width, pasted somewhere."""
    width = max(4, round(image.width * rng.uniform(0.15, 0.4)))
    height = max(4, min(image.height, round(width * donor.height / donor.width)))
    pasted = donor.resize((width, height), Image.Resampling.BILINEAR)
    edited = image.copy()
    place = (int(rng.integers(0, image.width - width + 1)), int(rng.integers(0, image.height - height + 1)))
    edited.paste(pasted, place)
    return edited


MILD: dict[str, Edit] = {"jpeg_q": jpeg_q, "downscale": downscale, "brightness": brightness, "contrast": contrast,
                         "saturation": saturation, "grayscale": grayscale, "blur": blur, "sharpen": sharpen,
                         "noise": noise, "color_jitter": color_jitter}
GEOMETRIC: dict[str, Edit] = {"hflip": hflip, "vflip": vflip, "rot90": rot90, "rotate_small": rotate_small,
                              "crop": crop, "pad": pad, "aspect": aspect, "pad_square": pad_square}
OVERLAY: dict[str, Edit] = {"text": text, "sticker": sticker, "stripes": stripes, "logo": logo}
FAMILIES = {"mild": MILD, "geometric": GEOMETRIC, "overlay": OVERLAY}
EDITS: dict[str, Edit] = {**MILD, **GEOMETRIC, **OVERLAY}


def family_of(name: str) -> str:
    return next(family for family, edits in FAMILIES.items() if name in edits)


def pick_edits(copy_number: int, rng: np.random.Generator) -> list[str]:
    """Copy 0: one mild or geometric edit; copy 1: one overlay or geometric edit; copy 2 and
    later: a chain of 2-3 edits of any family (as bench-dev was made)."""
    if copy_number == 0:
        return [str(rng.choice([*MILD, *GEOMETRIC]))]
    if copy_number == 1:
        return [str(rng.choice([*OVERLAY, *GEOMETRIC]))]
    return [str(name) for name in rng.choice(list(EDITS), int(rng.integers(2, 4)))]


def apply_edits(image: Image.Image, names: list[str], rng: np.random.Generator, donor: Image.Image) -> Image.Image:
    for name in names:
        image = EDITS[name](image.convert("RGB"), rng, donor)
    return image.convert("RGB")
