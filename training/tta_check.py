"""Test-time augmentation on the dev crops: does averaging a model's fake logit over the mirrored
crop, or over small shifts of the crop, rank the dev sets better than the crop alone?

    python tta_check.py work/device4/mobilenet_v2-epoch7.pt

Scores the model as shipped (float16 weights) on every dev set (`dev.py`) under each variant and
prints the per-set AUCs and the mean that selects models, plus what each variant costs in network
runs per face. Shifts move the crop by whole pixels with the edge repeated (the product would
re-crop from the photo instead; this is the cheap first check).
"""
import argparse

import numpy as np

from facetell_train import dev
from facetell_train.model import as_shipped, load_checkpoint


def shifted(images, dx, dy):
    """The crops [N,S,S,3] moved by (dx, dy) pixels, edges repeated."""
    s = images.shape[1]
    pad = max(abs(dx), abs(dy))
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    return np.ascontiguousarray(padded[:, pad - dy:pad - dy + s, pad - dx:pad - dx + s])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ckpt")
    p.add_argument("--dev", default="work/crops_dev")
    p.add_argument("--shift", type=int, default=4, help="pixels for the shifted variants")
    a = p.parse_args()
    sets = dev.load(a.dev)
    size = next(iter(sets.values()))[0].shape[1]
    model = as_shipped(load_checkpoint(a.ckpt)[0], size)
    s = a.shift
    views = {
        "crop": lambda x: x,
        "mirror": lambda x: x[:, :, ::-1].copy(),
        **{f"shift {dx:+d},{dy:+d}": (lambda x, dx=dx, dy=dy: shifted(x, dx, dy))
           for dx, dy in ((s, 0), (-s, 0), (0, s), (0, -s))},
    }
    logits = {v: {name: dev.scores(model, f(images)) for name, (images, _, _) in sets.items()}
              for v, f in views.items()}
    shifts = [v for v in views if v.startswith("shift")]
    variants = {
        "crop alone (1 run)": ["crop"],
        "crop + mirror (2 runs)": ["crop", "mirror"],
        f"crop + 4 shifts of {s} px (5 runs)": ["crop", *shifts],
        "crop + mirror + 4 shifts (6 runs)": ["crop", "mirror", *shifts],
    }
    dev.print_table((name, dev.metrics({k: np.mean([logits[v][k] for v in vs], axis=0) for k in sets}, sets))
                    for name, vs in variants.items())


if __name__ == "__main__":
    main()
