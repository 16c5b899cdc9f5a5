"""A check on edits never tuned on: copies of bench-dev's photos made with AugLy edits that bench-dev
does not use (meme captions, screenshots, pasting onto a background, blending with another photo,
perspective, skew, pixelisation, 25-45 degree turns, mirror + crop, strong colour, heavy noise,
tiny + low quality JPEG, large text). Backgrounds come from ../shared/data/camera, not from the set.

AugLy 1.0 needs an older numpy and Pillow, so it runs in a venv of its own:

    python3 -m venv /tmp/augly && /tmp/augly/bin/pip install augly==1.0.0 "numpy<1.24" "Pillow<10"
    /tmp/augly/bin/python benchmarks/augly_unseen.py /tmp/unseen
    neardupd bench /tmp/unseen --keep-db /tmp/unseen.sqlite
    python benchmarks/family_recall.py /tmp/unseen /tmp/unseen.sqlite

Some of these edits share content across groups (every screenshot has the same frame, backgrounds are
crops of the same eight camera photos). Two copies of different photos sharing only a frame or a
background are negatives, as a user would judge them: strict R@P99 is the figure that counts (ref R@P99
and `family_recall.py` leave copy-copy pairs out).
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import augly.image as augly
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO.parent / "shared" / "bench-dev"
CAMERA = sorted((REPO.parent / "shared" / "data" / "camera").glob("*.jpg"))
CAPTIONS = ("LOL", "when the photo is good", "me irl", "SO TRUE")


def background(rng: random.Random) -> Image.Image:
    """A 600x450 piece of one of the camera photos (none of them is in the set)."""
    photo = Image.open(rng.choice(CAMERA)).convert("RGB")
    photo.thumbnail((1600, 1600))
    width, height = photo.size
    crop_w, crop_h = int(width * rng.uniform(0.3, 0.6)), int(height * rng.uniform(0.3, 0.6))
    left, top = rng.randrange(width - crop_w), rng.randrange(height - crop_h)
    return photo.crop((left, top, left + crop_w, top + crop_h)).resize((600, 450))


def mirrored_crop(flip: Callable[[Image.Image], Image.Image], margin: float) -> Callable:
    def edit(image: Image.Image, rng: random.Random) -> Image.Image:
        return augly.crop(flip(image), x1=rng.uniform(0, margin), y1=rng.uniform(0, margin),
                          x2=rng.uniform(1 - margin, 1), y2=rng.uniform(1 - margin, 1))
    return edit


FAMILIES: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "meme": lambda image, rng: augly.meme_format(image, text=rng.choice(CAPTIONS)),
    "screenshot": lambda image, rng: augly.overlay_onto_screenshot(image),
    "perspective": lambda image, rng: augly.perspective_transform(image, sigma=rng.uniform(20, 50),
                                                                  seed=rng.randrange(10**6)),
    "skew": lambda image, rng: augly.skew(image, skew_factor=rng.uniform(-0.5, 0.5)),
    "pixelize": lambda image, rng: augly.pixelization(image, ratio=rng.uniform(0.2, 0.5)),
    "on_background": lambda image, rng: augly.overlay_onto_background_image(
        image, background_image=background(rng), overlay_size=rng.uniform(0.5, 0.9),
        x_pos=rng.uniform(0, 0.3), y_pos=rng.uniform(0, 0.3)),
    "rotate_big": lambda image, rng: augly.rotate(image, degrees=rng.choice([-1, 1]) * rng.uniform(25, 45)),
    "vflip_crop": mirrored_crop(augly.vflip, 0.2),
    "hflip_crop": mirrored_crop(augly.hflip, 0.25),
    "text_big": lambda image, rng: augly.overlay_text(image, font_size=rng.uniform(0.15, 0.3), opacity=1.0,
                                                      color=(255, 255, 0), x_pos=0.05, y_pos=rng.uniform(0, 0.6)),
    "colour_strong": lambda image, rng: augly.color_jitter(image, brightness_factor=rng.uniform(0.6, 1.5),
                                                           contrast_factor=rng.uniform(0.5, 1.6),
                                                           saturation_factor=rng.uniform(0, 2.5)),
    "noise_heavy": lambda image, rng: augly.random_noise(image, var=rng.uniform(0.02, 0.06),
                                                         seed=rng.randrange(10**6)),
    "scale_jpeg": lambda image, rng: augly.encoding_quality(augly.scale(image, factor=rng.uniform(0.15, 0.3)),
                                                            quality=rng.randint(10, 30)),
    "opacity_bg": lambda image, rng: augly.overlay_image(background(rng), image, opacity=rng.uniform(0.5, 0.8),
                                                         overlay_size=1.0),
}


def main() -> None:
    out = Path(sys.argv[1])
    (out / "images").mkdir(parents=True)
    truth = json.loads((BENCH / "truth.json").read_text())
    rng = random.Random(11)
    families = list(FAMILIES)
    made: dict[str, dict] = {}

    def save(image: Image.Image, group: int, family: str) -> None:
        name = f"{rng.getrandbits(64):016x}" + rng.choice([".jpg", ".jpg", ".png", ".webp"])
        options = {"quality": rng.randint(70, 95)} if not name.endswith(".png") else {}
        image.convert("RGB").save(out / "images" / name, **options)
        made[name] = {"group": group, "role": "copy", "transform": family}

    turn = 0
    for name, entry in truth.items():
        if entry["role"] not in ("original", "distractor"):
            continue
        shutil.copy(BENCH / "images" / name, out / "images" / name)
        made[name] = entry | {"transform": ""}
        if entry["role"] != "original":
            continue
        photo = Image.open(BENCH / "images" / name).convert("RGB")
        for _ in range(3):
            family = families[turn % len(families)]
            turn += 1
            save(FAMILIES[family](photo, rng), entry["group"], family)
    (out / "truth.json").write_text(json.dumps(made, indent=1))
    print(f"{len(made)} images in {out}")


if __name__ == "__main__":
    main()
