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
keeps its outer logit. `--gate` applies the scanner's rule (`Detector::crop_inner`,
`Media`): the inner view only for faces of still images (not the video sets' frames) that its
crop does not enlarge (crop pixels per photo pixel at most 1), as the shipped manifest's
[crop.inner] is used.

    python views_check.py work/v15_onnx.pt work/innerutk23/epoch4.pt --gate --base-inner work/v15_onnx.pt
"""
import argparse
import json
import pathlib

import numpy as np

from facetell_train import dev
from facetell_train.model import as_shipped, load_checkpoint


def view_logits(ckpt, sets):
    size = next(iter(sets.values()))[0].shape[1]
    model = as_shipped(load_checkpoint(ckpt)[0], size)
    return {name: dev.scores(model, images) for name, (images, _, _) in sets.items()}


def inner_scale(crop_dir):
    """{source: crop pixels per photo pixel} of the inner crops (the five points' similarity fit
    scales every distance alike, so the eyes' distances give it)."""
    out = {}
    for r in map(json.loads, open(pathlib.Path(crop_dir) / "crops.jsonl")):
        (a, b), (c, d) = (np.array(r["crop_landmarks"][:2]), np.array(r["landmarks"][:2]))
        out[r["source"]] = float(np.linalg.norm(b - a) / np.linalg.norm(d - c))
    return out


def both_views(outer, inner_own, outer_sets, inner_sets, weight, gate_dir=None):
    """{set: logits} of the two views averaged, per face; with `gate_dir` (the inner dev crops)
    only faces of still images that the inner view does not enlarge get it, as in the scanner."""
    both = {}
    for name, (_, _, sources) in outer_sets.items():
        if gate_dir and name in dev.VIDEO_SETS:
            both[name] = outer[name]
            continue
        by_source = dict(zip(inner_sets[name][2], inner_own[name]))
        scale = inner_scale(pathlib.Path(gate_dir) / name) if gate_dir else {}
        both[name] = np.array([
            o if s not in by_source or (gate_dir and scale[s] > 1) else (1 - weight) * o + weight * by_source[s]
            for s, o in zip(sources, outer[name])])
    return both


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outer", help="checkpoint for the outer crop")
    p.add_argument("inner", help="checkpoint for the inner crop")
    p.add_argument("--dev", default="work/crops_dev")
    p.add_argument("--inner-dev", default="work/crops_inner_dev")
    p.add_argument("--weight", type=float, default=0.5, help="the inner view's share of the logit")
    p.add_argument("--gate", action="store_true", help="the inner view only where it does not enlarge the face")
    p.add_argument("--base-inner", help="compare against the outer model with this inner checkpoint "
                   "(the shipped two views) instead of the outer view alone")
    a = p.parse_args()
    outer_sets, inner_sets = dev.load(a.dev), dev.load(a.inner_dev)
    outer, inner_own = view_logits(a.outer, outer_sets), view_logits(a.inner, inner_sets)
    gate = a.inner_dev if a.gate else None
    inner = both_views(outer, inner_own, outer_sets, inner_sets, 1.0)
    both = both_views(outer, inner_own, outer_sets, inner_sets, a.weight, gate)
    base_name, base = "outer view", outer
    if a.base_inner:
        base_name = f"both views, {a.base_inner} inner"
        base = both_views(outer, view_logits(a.base_inner, inner_sets), outer_sets, inner_sets, a.weight, gate)
    rows = [("outer view", dev.metrics(outer, outer_sets)), ("inner view", dev.metrics(inner, outer_sets))]
    if a.base_inner:
        rows.append((base_name, dev.metrics(base, outer_sets)))
    rows.append((f"both (inner weight {a.weight}{', gated' if a.gate else ''})", dev.metrics(both, outer_sets)))
    dev.print_table(rows)
    print()
    print(f"| set | both - {base_name} (95% interval) |")
    print("|---|---|")
    for name in outer_sets:
        labels, so = dev.selection_items(name, base[name], outer_sets)
        _, sb = dev.selection_items(name, both[name], outer_sets)
        d, lo, hi = dev.paired_difference(labels, so, sb)
        print(f"| {name} | {d:+.3f} ({lo:+.3f} to {hi:+.3f}) |")


if __name__ == "__main__":
    main()
