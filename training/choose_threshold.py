"""Chooses the default decision threshold on dev reals at a stated false-positive rate and writes
it to models/manifest.toml.

    facetell eval --labels ../shared/data/dev/labels.csv --records work/dev_records.jsonl
    python choose_threshold.py --records work/dev_records.jsonl --fpr 0.05

The threshold is the smallest score that flags at most `fpr` of the dev real images.
"""
import argparse
import json
import re

import numpy as np

from facetell_train.manifest import MANIFEST


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--records", default="work/dev_records.jsonl")
    p.add_argument("--fpr", type=float, default=0.05)
    a = p.parse_args()
    scores = []
    for line in open(a.records):
        r = json.loads(line)
        if r["kind"] == "image" and "/real/" in r["path"] and r["score"] is not None:
            scores.append(r["score"])
    scores = np.sort(np.array(scores))[::-1]
    k = int(np.floor(a.fpr * len(scores)))
    threshold = float(scores[k]) + 1e-4 if k < len(scores) else 0.5
    threshold = round(min(threshold, 0.9999), 4)
    flagged = float((scores >= threshold).mean())
    print(f"{len(scores)} dev reals; threshold {threshold} flags {flagged:.3%} (target {a.fpr:.1%})")
    text = MANIFEST.read_text()
    text = re.sub(r"^threshold = .*$", f"threshold = {threshold}", text, flags=re.M)
    MANIFEST.write_text(text)


if __name__ == "__main__":
    main()
