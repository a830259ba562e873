"""Does the shipped network's representation hold a live-swap cue that carries to a face model it
has not seen? A measurement, never a candidate: the dev sets are never trained on (the model
card), and this fits a linear read-out on the dev live swaps themselves to ask what training on
media of their kind could give at most through today's features.

    python live_probe.py work/v15_onnx.pt

The checkpoint, as shipped (float16 weights), gives each dev live-swap crop
(`work/crops_dev/live_swap`) its pooled last-stage features (the 1280 values its fake logit reads).
A logistic regression on them (features standardised on the training folds; its L2 strength
chosen inside the training folds, by leaving one face model out again) is fitted with one
DeepFaceLive face model left out, fakes and their own real streams alike (6 face models, 6
folds), and scores the left-out clips. Each video's score is the mean over its frames, as the
product aggregates. Printed: the video AUC over the 30 videos and the pairs with the fake above
its own real, for the network's own logit and for the read-out scored out of fold.
"""
import argparse
import pathlib
import warnings

import numpy as np
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.preprocessing import StandardScaler

from facetell_train import dev
from facetell_train.data import to_tensor
from facetell_train.model import as_shipped, load_checkpoint


def pooled_features(model, images, batch=64, every_stage=False):
    """The logit and the pooled last-stage features [N, C] the classification head reads (with
    `every_stage`, the strides 8 and 16 that the boundary map reads as well, before them)."""
    model.eval()
    logits, feats = [], []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(to_tensor(images[i:i + batch])).contiguous(memory_format=torch.channels_last)
            pooled = [f.mean((2, 3)) for f in model.trunk(x)]
            feats.append(torch.cat(pooled, 1) if every_stage else pooled[-1])
            logits.append(model.cls_head(pooled[-1]).squeeze(1))
    return torch.cat(logits).numpy(), torch.cat(feats).numpy()


def out_of_fold(feats, labels, groups):
    """Each crop's read-out logit from the fold that left its face model out."""
    scores = np.zeros(len(labels))
    for train, test in LeaveOneGroupOut().split(feats, labels, groups):
        scaler = StandardScaler().fit(feats[train])
        inner = list(LeaveOneGroupOut().split(train, labels[train], groups[train]))
        probe = LogisticRegressionCV(Cs=np.logspace(-4, 1, 11), cv=inner, scoring="roc_auc", max_iter=5000)
        probe.fit(scaler.transform(feats[train]), labels[train])
        scores[test] = probe.decision_function(scaler.transform(feats[test]))
        print(f"  left out {groups[test][0]}: C {probe.C_[0]:.4g}", flush=True)
    return scores


def video_report(name, scores, labels, sources):
    m = dev.video_metrics(scores, labels, sources)
    print(f"{name:32s} video AUC {m['video_auc']:.3f}  frames {roc_auc_score(labels, scores):.3f}  "
          f"pairs, fake above its own real {m['pairs_fake_above_real']:.3f}")


def main():
    warnings.simplefilter("ignore", FutureWarning)  # scikit-learn 1.9's notices of 1.10's defaults
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ckpt")
    p.add_argument("--dev", default="work/crops_dev")
    p.add_argument("--every-stage", action="store_true",
                   help="read the pooled features of strides 8, 16 and 32 (32 + 96 + 1280 values)")
    a = p.parse_args()
    images, labels, sources = dev.load(a.dev)["live_swap"]
    clips = np.array([pathlib.PurePath(s).parent.name for s in sources])
    groups = np.array([c.rsplit("_", 1)[0] for c in clips])
    print(f"{len(labels)} crops, {len(set(clips))} clips, face models: {', '.join(sorted(map(str, set(groups))))}")
    model = as_shipped(load_checkpoint(a.ckpt)[0])
    logits, feats = pooled_features(model, images, every_stage=a.every_stage)
    video_report("network's logit", logits, labels, sources)
    video_report("read-out, face model left out", out_of_fold(feats, labels, groups), labels, sources)


if __name__ == "__main__":
    main()
