"""Scores from the boundary map on the dev crops: does a face's map (Face X-ray's score) rank the
dev sets better than the classifier's fake logit?

    python map_check.py work/v15_onnx.pt

Scores the model as shipped (float16 weights) on every dev set (`dev.py`) by its logit, by
statistics of its map logits (max, mean of the top 1% and 10% of cells, mean) and by the logit and
map max each z-scored on the dev reals and added, and prints the per-set AUCs and the mean that
selects models.
"""
import argparse

import numpy as np
from facetell_train import dev
from facetell_train.model import as_shipped, load_checkpoint


def top_mean(maps, share):
    k = max(1, round(maps.shape[1] * share))
    return np.sort(maps, 1)[:, -k:].mean(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ckpt")
    p.add_argument("--dev", default="work/crops_dev")
    a = p.parse_args()
    sets = dev.load(a.dev)
    size = next(iter(sets.values()))[0].shape[1]
    model = as_shipped(load_checkpoint(a.ckpt)[0], size).eval()
    out = {name: (*dev.scores(model, images, maps=True), labels) for name, (images, labels, _) in sets.items()}
    real_logit = np.concatenate([l[y == 0] for l, _, y in out.values()])
    real_max = np.concatenate([m.max(1)[y == 0] for _, m, y in out.values()])

    def z(v, ref):
        return (v - ref.mean()) / ref.std()

    variants = {
        "fake logit (as shipped)": lambda l, m: l,
        "map max (logit space)": lambda l, m: m.max(1),
        "mean of the map's top 1%": lambda l, m: top_mean(m, 0.01),
        "mean of the map's top 10%": lambda l, m: top_mean(m, 0.10),
        "map mean": lambda l, m: m.mean(1),
        "logit + map max, each z-scored on the dev reals": lambda l, m: z(l, real_logit) + z(m.max(1), real_max),
    }
    dev.print_table(((name, dev.metrics({k: f(l, mp) for k, (l, mp, _) in out.items()}, sets))
                     for name, f in variants.items()), first="score")


if __name__ == "__main__":
    main()
