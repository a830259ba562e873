"""Two views of each face: the crop, and a tighter crop of the inner face cut from the photo at
higher resolution. Does averaging a network on each view rank the dev sets better than the crop
alone?

    python views_check.py work/v15_onnx.pt work/inner21/epoch4.pt

Scores the first model on the outer dev crops (`--dev`) and the second on the inner ones
(`--inner-dev`, the same sources cut by the zoomed template), both as shipped (float16 weights),
and prints the per-set AUCs of the outer view alone, the inner view alone and their logits
averaged (`--weight` on the inner view), then the average against the outer view alone: per set,
the difference and its 95% paired interval on the items selection uses (`compare_dev.py`'s rule).
A frame or photo whose inner crop is missing (the detector's faces are the same; this only guards)
keeps its outer logit.
"""
import argparse

import numpy as np

from facetell_train import dev
from facetell_train.model import as_shipped, load_checkpoint


def view_logits(ckpt, sets):
    size = next(iter(sets.values()))[0].shape[1]
    model = as_shipped(load_checkpoint(ckpt)[0], size)
    return {name: dev.scores(model, images) for name, (images, _, _) in sets.items()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outer", help="checkpoint for the outer crop")
    p.add_argument("inner", help="checkpoint for the inner crop")
    p.add_argument("--dev", default="work/crops_dev")
    p.add_argument("--inner-dev", default="work/crops_inner_dev")
    p.add_argument("--weight", type=float, default=0.5, help="the inner view's share of the logit")
    a = p.parse_args()
    outer_sets, inner_sets = dev.load(a.dev), dev.load(a.inner_dev)
    outer, inner_own = view_logits(a.outer, outer_sets), view_logits(a.inner, inner_sets)
    inner = {}
    for name, (_, _, sources) in outer_sets.items():
        by_source = dict(zip(inner_sets[name][2], inner_own[name]))
        inner[name] = np.array([by_source.get(s, o) for s, o in zip(sources, outer[name])])
    both = {name: (1 - a.weight) * outer[name] + a.weight * inner[name] for name in outer}
    dev.print_table([("outer view", dev.metrics(outer, outer_sets)),
                     ("inner view", dev.metrics(inner, outer_sets)),
                     (f"both (inner weight {a.weight})", dev.metrics(both, outer_sets))])
    print()
    print("| set | both - outer (95% interval) |")
    print("|---|---|")
    for name in outer_sets:
        labels, so = dev.selection_items(name, outer[name], outer_sets)
        _, sb = dev.selection_items(name, both[name], outer_sets)
        d, lo, hi = dev.paired_difference(labels, so, sb)
        print(f"| {name} | {d:+.3f} ({lo:+.3f} to {hi:+.3f}) |")


if __name__ == "__main__":
    main()
