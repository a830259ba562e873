"""Builds crowd pictures for detector recall checks: 1920x1080 JPEGs, each with 14 LFW portraits
shrunk so their faces measure about 30-120 px, scattered over a blurred backdrop (seeded, so the
same pictures every run). Faces land everywhere, across the tile cuts of the 1280 px pass too.

    python benches/crowd.py OUT_DIR [COUNT]

Needs Pillow and numpy (training/.venv has both). Reads ../shared/data/train/lfw.
"""
import pathlib
import random
import sys

from PIL import Image, ImageFilter

DATA = pathlib.Path(__file__).resolve().parents[1] / "../shared/data/train/lfw"


def crowd(rng, portraits):
    backdrop = Image.open(rng.choice(portraits)).convert("RGB").resize((1920, 1080))
    picture = backdrop.filter(ImageFilter.GaussianBlur(12))
    placed = []
    while len(placed) < 14:
        # An LFW portrait is 250 px with a face of about 100 px: tiles of 75-300 px.
        side = rng.randint(75, 300)
        x, y = rng.randint(0, 1920 - side), rng.randint(0, 1080 - side)
        if any(x < px + ps and px < x + side and y < py + ps and py < y + side for px, py, ps in placed):
            continue
        face = Image.open(rng.choice(portraits)).convert("RGB").resize((side, side), Image.LANCZOS)
        picture.paste(face, (x, y))
        placed.append((x, y, side))
    return picture


def main():
    out = pathlib.Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    out.mkdir(parents=True, exist_ok=True)
    portraits = sorted(DATA.glob("*.jpg"))
    rng = random.Random(7)
    for i in range(count):
        crowd(rng, portraits).save(out / f"crowd_{i:02d}.jpg", quality=90)


if __name__ == "__main__":
    main()
