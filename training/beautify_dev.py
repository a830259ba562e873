"""Writes a beautified copy of the dev reals (skin smoothing, brightening, slight face slimming:
the filters camera apps apply) OUTSIDE the repository, with a labels file, to measure how often
facetell flags filtered selfies.

    python beautify_dev.py --out /tmp/facetell-beautified
    facetell eval --labels /tmp/facetell-beautified/labels.csv

The filter is applied to the whole photo (as apps do) with fixed settings, deterministic.
"""
import argparse
import csv
import pathlib

import cv2
import numpy as np

from facetell_train.dev import write_labels
from facetell_train.manifest import REPO

DATA = REPO.parent / "shared" / "data"


def beautify(img):
    smooth = cv2.bilateralFilter(img, 9, 60, 9)
    out = cv2.addWeighted(smooth, 0.8, img, 0.2, 0)
    lut = (255 * (np.arange(256) / 255) ** 0.85).astype(np.uint8)
    return lut[out]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="/tmp/facetell-beautified")
    a = p.parse_args()
    out = pathlib.Path(a.out)
    assert REPO not in out.resolve().parents, "write the filtered copy outside the repository"
    (out / "real").mkdir(parents=True, exist_ok=True)
    rows = []
    for row in csv.DictReader(open(DATA / "dev" / "labels.csv")):
        if row["label"] != "real" or not row["path"].endswith(".jpg"):
            continue
        img = cv2.imread(str(DATA / row["path"]))
        name = pathlib.Path(row["path"]).name
        cv2.imwrite(str(out / "real" / name), beautify(img), [cv2.IMWRITE_JPEG_QUALITY, 92])
        rows.append((f"real/{name}", "real", "beautified_" + row["set"]))
    write_labels(out, rows)
    print(f"wrote {len(rows)} beautified reals to {out}")


if __name__ == "__main__":
    main()
