"""Is B better than A on the dev sets, or within the noise? Per set, each model's AUC on the items
selection uses (crops; live swaps per video), B - A and its 95% interval by DeLong's paired
method (the two models score the same items, so their errors are correlated and the interval is
narrower than either AUC's own). Models as shipped (float16 weights).

    python compare_dev.py work/device4/mobilenet_v2-epoch7.pt work/cont8b/epoch4.pt

An interval that holds 0 says the dev set cannot tell the two apart.
"""
import argparse
import json

from sklearn.metrics import roc_auc_score

from facetell_train import dev
from facetell_train.model import as_shipped, load_checkpoint

NAMES = {"yonsei": "Yonsei (crops)", "lfw_swap": "LFW swaps (crops)",
         "live_swap": "live swaps (videos)", "ffpp": "FF++ (frames)"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--dev", default="work/crops_dev")
    a = p.parse_args()
    sets = dev.load(a.dev)
    size = next(iter(sets.values()))[0].shape[1]
    logits = []
    for path in (a.a, a.b):
        model = as_shipped(load_checkpoint(path)[0], size)
        logits.append({name: dev.scores(model, images) for name, (images, _, _) in sets.items()})
    print(f"A = {a.a}\nB = {a.b}")
    print(f"{'set':<22} {'items':>6} {'A':>6} {'B':>6} {'B - A':>7}  95% interval")
    for name in sets:
        (labels, sa), (_, sb) = (dev.selection_items(name, l[name], sets) for l in logits)
        diff, low, high = dev.paired_difference(labels, sa, sb)
        print(f"{NAMES.get(name, name):<22} {len(labels):>6} {roc_auc_score(labels, sa):>6.3f} "
              f"{roc_auc_score(labels, sb):>6.3f} {diff:>+7.3f}  {low:+.3f} to {high:+.3f}")
        print(json.dumps({"set": name, "diff": round(diff, 4), "ci95": [round(low, 4), round(high, 4)]}))


if __name__ == "__main__":
    main()
