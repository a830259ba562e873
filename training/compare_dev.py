"""Is B better than A on the dev sets, or within the noise? Per set, each model's AUC on the items
selection uses (crops; live swaps per video), B - A and its 95% interval by DeLong's paired
method (the two models score the same items, so their errors are correlated and the interval is
narrower than either AUC's own). Models as shipped (float16 weights).

    python compare_dev.py work/device4/mobilenet_v2-epoch7.pt work/cont8b/epoch4.pt

or, through the product, on two `facetell eval --records` files of the same labels (images;
videos at video level; FF++, one video pair, at frame level):

    python compare_dev.py work/dev_records_v8.jsonl work/dev_records_v9.jsonl

An interval that holds 0 says the dev set cannot tell the two apart. Records also give Yonsei by
the composites' own difficulty (the easy_/mid_/hard_ prefix of their names: each level's fakes
against all the reals), read beside the four sets, not part of the rule in README.md, and each
model's live pairs where the fake's video scores above its own real's.
"""
import argparse
import json
import os

import numpy as np

from sklearn.metrics import roc_auc_score

from facetell_train import dev
from facetell_train.model import as_shipped, load_checkpoint

NAMES = {"yonsei": "Yonsei", "lfw_swap": "LFW swaps", "live_swap": "live swaps (videos)",
         "ffpp": "FF++ (frames)", "yonsei easy": "  Yonsei easy", "yonsei mid": "  Yonsei mid",
         "yonsei hard": "  Yonsei hard"}
LEVELS = ("easy", "mid", "hard")


def from_checkpoints(a, b, crops):
    """{set: (labels, scores of a, scores of b)} on the dev crops."""
    sets = dev.load(crops)
    size = next(iter(sets.values()))[0].shape[1]
    logits = []
    for path in (a, b):
        model = as_shipped(load_checkpoint(path)[0], size)
        logits.append({name: dev.scores(model, images) for name, (images, _, _) in sets.items()})
    out = {}
    for name in sets:
        (labels, sa), (_, sb) = (dev.selection_items(name, l[name], sets) for l in logits)
        out[name] = (labels, sa, sb)
    return out


def from_records(a, b, labels_csv):
    """{set: (labels, scores of a, scores of b)} from two `facetell eval --records` files; items
    scored in both only, matched on their labels' path (records written from different folders
    pair up). FF++'s fake and real videos are one set here, at frame level."""
    def items(path):
        out = {}
        for rec, fake, name, file in dev.labelled_records(path, labels_csv):
            if name == "ffpp":
                for fr in rec.get("frames") or []:
                    if fr["score"] is not None:
                        out[(name, file, fr["index"])] = (fake, fr["score"])
            elif rec["score"] is not None:
                out[(name, file)] = (fake, rec["score"])
        return out

    ia, ib = items(a), items(b)
    out = {}

    def add(name, k):
        labels, sa, sb = out.setdefault(name, ([], [], []))
        labels.append(ia[k][0])
        sa.append(ia[k][1])
        sb.append(ib[k][1])

    for k in sorted(set(ia) & set(ib)):
        add(k[0], k)
        if k[0] == "yonsei":
            for level in LEVELS:
                if not ia[k][0] or os.path.basename(k[1]).startswith(level + "_"):
                    add(f"yonsei {level}", k)
    order = [n for n in NAMES if n in out] + [n for n in out if n not in NAMES]
    return {name: tuple(np.asarray(v) for v in out[name]) for name in order}


def live_pairs(records, labels_csv):
    """(pairs where the fake live-swap video scores above its own real, pairs): a fake and its
    real share a file name under fake/ and real/."""
    real, fake = {}, {}
    for rec, is_fake, name, file in dev.labelled_records(records, labels_csv):
        if name == "live_swap" and rec["score"] is not None:
            (fake if is_fake else real)[os.path.basename(file)] = rec["score"]
    both = set(real) & set(fake)
    return sum(fake[k] > real[k] for k in both), len(both)


def verdict(intervals):
    """The paired rule's dev-set half (README.md, "Paired intervals"), on the four sets: B replaces A
    when no interval lies wholly below 0 and at least one wholly above. (The rest of the rule, the
    street fixture real and the beautified reals at most 5%, is candidate.sh's.)"""
    rule = [name for name in ("yonsei", "lfw_swap", "live_swap", "ffpp") if name in intervals]
    below = [NAMES[n] for n in rule if intervals[n][1] < 0]
    above = [NAMES[n] for n in rule if intervals[n][0] > 0]
    if below:
        return f"paired rule: B fails ({', '.join(below)} wholly below 0)"
    if not above:
        return "paired rule: B fails (no set wholly above 0)"
    return f"paired rule: B passes on the dev sets ({', '.join(above)} wholly above 0, none below)"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a", help="checkpoint, or facetell eval --records JSON Lines")
    p.add_argument("b")
    p.add_argument("--dev", default="work/crops_dev", help="dev crops (checkpoints)")
    p.add_argument("--labels", default="../../shared/data/dev/labels.csv", help="labels (records)")
    a = p.parse_args()
    if a.a.endswith(".jsonl"):
        sets = from_records(a.a, a.b, a.labels)
    else:
        sets = from_checkpoints(a.a, a.b, a.dev)
    print(f"A = {a.a}\nB = {a.b}")
    print(f"{'set':<22} {'items':>6} {'A':>6} {'B':>6} {'B - A':>7}  95% interval")
    intervals = {}
    for name, (labels, sa, sb) in sets.items():
        diff, low, high = dev.paired_difference(labels, sa, sb)
        intervals[name] = (low, high)
        print(f"{NAMES.get(name, name):<22} {len(labels):>6} {roc_auc_score(labels, sa):>6.3f} "
              f"{roc_auc_score(labels, sb):>6.3f} {diff:>+7.3f}  {low:+.3f} to {high:+.3f}")
        print(json.dumps({"set": name, "diff": round(diff, 4), "ci95": [round(low, 4), round(high, 4)]}))
    if a.a.endswith(".jsonl"):
        (above_a, n), (above_b, _) = (live_pairs(path, a.labels) for path in (a.a, a.b))
        print(f"live pairs, fake above its own real: A {above_a} of {n}, B {above_b} of {n}")
    print(verdict(intervals))


if __name__ == "__main__":
    main()
