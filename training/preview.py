"""Writes a grid of generated samples (top: image, bottom: boundary target) to inspect the generator."""
import argparse

import cv2
import numpy as np

from facetell_train.data import PseudoFakeGenerator, load_crops, pose_neighbours

p = argparse.ArgumentParser()
p.add_argument("--crops", default="work/crops_train")
p.add_argument("--out", default="work/preview.png")
p.add_argument("--n", type=int, default=12)
a = p.parse_args()
images, lms, _ = load_crops(a.crops, limit=2000)
gen = PseudoFakeGenerator(images, lms, 16, pose_neighbours(lms), p_fake=0.75)
rows = []
for i in range(a.n):
    img, label, target = gen.sample(i * 37 % len(images), seed=i)
    t = cv2.resize((target * 255).astype(np.uint8), img.shape[:2][::-1], interpolation=cv2.INTER_NEAREST)
    col = np.concatenate([img, np.stack([t] * 3, -1)], 0)
    cv2.putText(col, "F" if label else "R", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 0, 0), 1)
    rows.append(col)
cv2.imwrite(a.out, np.concatenate(rows, 1)[..., ::-1])
