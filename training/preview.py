"""Writes a grid of generated pairs to look at the generator: per column the real, its fake, and
the fake's boundary target.

    python preview.py --crops work/crops_train --out work/preview.png
"""
import argparse

import cv2
import numpy as np

from facetell_train.data import PseudoFakeGenerator, load_crops, pose_neighbours

p = argparse.ArgumentParser()
p.add_argument("--crops", default="work/crops_train")
p.add_argument("--out", default="work/preview.png")
p.add_argument("--n", type=int, default=10)
p.add_argument("--fill-padding", action="store_true", help="as train.py --fill-padding")
a = p.parse_args()
images, lms, _, lm68 = load_crops(a.crops, limit=2000, lm68=True, fill=a.fill_padding)
size = images.shape[1]
gen = PseudoFakeGenerator(images, lms, lm68, size // 8, pose_neighbours(lms))
cols = []
for i in range(a.n):
    real, fake, target = gen.pair(i * 37 % len(images), seed=i)
    t = cv2.resize((target * 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)
    cols.append(np.concatenate([real, fake, np.stack([t] * 3, -1)], 0))
cv2.imwrite(a.out, np.concatenate(cols, 1)[..., ::-1])
print("wrote", a.out)
