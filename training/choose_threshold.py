"""Chooses the default decision threshold at a stated false-positive rate on the dev reals of all
sets together (photos and videos, file-level scores), writes it to models/manifest.toml and prints
the operating point of every set.

    facetell eval --labels ../../shared/data/dev/labels.csv --root ../../shared/data --records work/dev_records.jsonl
    python choose_threshold.py --records work/dev_records.jsonl --fpr 0.05 \
        --also-reals work/beautified_records.jsonl

The threshold is the smallest score that flags at most `fpr` of the dev reals, and of each
`--also-reals` scan (files that are all real: the beautified dev reals of beautify_dev.py, so that
camera-app filters stay inside the same false-positive budget).
"""
import argparse
import json
import pathlib
import re

import numpy as np

from facetell_train import dev
from facetell_train.manifest import MANIFEST


def smallest_threshold(reals, fpr):
    """The smallest score (to 1e-4) that flags at most `fpr` of `reals`."""
    reals = np.sort(reals)[::-1]
    k = int(np.floor(fpr * len(reals)))
    return round(min(float(reals[k]) + 1e-4 if k < len(reals) else 0.5, 0.9999), 4)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--records", default="work/dev_records.jsonl")
    p.add_argument("--labels", default="../../shared/data/dev/labels.csv")
    p.add_argument("--fpr", type=float, default=0.05)
    p.add_argument("--also-reals", action="append", default=[],
                   help="records of a scan of real files only, held to the same rate (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="print, do not write the manifest")
    p.add_argument("--manifest", type=pathlib.Path, default=MANIFEST, help="the manifest to write (a candidate's copy: candidate.sh)")
    a = p.parse_args()
    by_set = {}
    for r, fake, name, _ in dev.labelled_records(a.records, a.labels):
        if r.get("score") is not None:
            by_set.setdefault(name, []).append((fake, r["score"]))
    reals = np.array([s for v in by_set.values() for fake, s in v if not fake])
    extra = {path: np.array([s for s in (json.loads(line)["score"] for line in open(path)) if s is not None])
             for path in a.also_reals}
    threshold = max(smallest_threshold(r, a.fpr) for r in [reals, *extra.values()])
    print(f"{len(reals)} dev reals (all sets); threshold {threshold} flags {(reals >= threshold).mean():.1%} "
          f"(target {a.fpr:.0%})")
    for path, r in extra.items():
        print(f"{len(r)} reals of {path}: {(r >= threshold).mean():.1%} flagged")
    print("| set | reals | fakes | FPR at threshold | TPR at threshold |")
    print("|---|---|---|---|---|")
    for name, v in sorted(by_set.items()):
        r = np.array([s for fake, s in v if not fake])
        f = np.array([s for fake, s in v if fake])
        print(f"| {name} | {len(r)} | {len(f)} | {(r >= threshold).mean():.3f} | {(f >= threshold).mean():.3f} |")
    if not a.dry_run:
        text = re.sub(r"^threshold = .*$", f"threshold = {threshold}", a.manifest.read_text(), flags=re.M)
        a.manifest.write_text(text)


if __name__ == "__main__":
    main()
