"""Dev sets for model selection during training: every set, never one alone.

`prepare_dev.sh` writes, under one folder, one `facetell crop` output per set (`yonsei`,
`lfw_swap`, `live_swap`, `ffpp`); video sets are cropped from frames sampled with ffmpeg into one
folder per video. A source path with `/fake/` is a fake. Scores per set:

- images (yonsei, lfw_swap): crop AUC;
- videos (live_swap, ffpp): frame AUC, video AUC (mean frame score per video) and, where each fake
  has its own real (same name under real/ and fake/), the share of pairs where the fake's video
  score is above its real's.

`dev_mean_auc` is the mean of yonsei, lfw_swap and live_swap video AUC and ffpp frame AUC.
"""
import pathlib

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from .data import load_crops, to_tensor

SETS = ("yonsei", "lfw_swap", "live_swap", "ffpp")


def load(root):
    root = pathlib.Path(root)
    sets = {}
    for name in SETS:
        if (root / name / "crops.jsonl").exists():
            images, _, sources = load_crops(root / name)
            sets[name] = (images, np.array(["/fake/" in s for s in sources], np.int64), sources)
    return sets


def scores(model, images, batch=64, device="cpu"):
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(torch.from_numpy(to_tensor(images[i:i + batch])).to(device).contiguous(
            memory_format=torch.channels_last))[0].cpu() for i in range(0, len(images), batch)])
    return out.numpy()


def video_metrics(logits, labels, sources):
    videos = {}
    for s, y, l in zip(sources, labels, logits):
        p = pathlib.PurePath(s)
        videos.setdefault(str(p.parent), (y, p.parent.name, []))[2].append(l)
    vy = np.array([v[0] for v in videos.values()])
    vs = np.array([np.mean(v[2]) for v in videos.values()])
    res = {"video_auc": roc_auc_score(vy, vs) if 0 < vy.sum() < len(vy) else float("nan")}
    real = {v[1]: np.mean(v[2]) for v in videos.values() if v[0] == 0}
    fake = {v[1]: np.mean(v[2]) for v in videos.values() if v[0] == 1}
    both = sorted(set(real) & set(fake))
    if both:
        res["pairs_fake_above_real"] = float(np.mean([fake[k] > real[k] for k in both]))
    return res


def evaluate(model, sets, device="cpu"):
    res = metrics({name: scores(model, images, device=device) for name, (images, _, _) in sets.items()}, sets)
    model.train()
    return res


def metrics(logits, sets):
    """The dev scores from each set's logits (`scores`, or an average of several models')."""
    res = {}
    for name, (_, labels, sources) in sets.items():
        res[f"dev_{name}_auc"] = round(float(roc_auc_score(labels, logits[name])), 4)
        if name in ("live_swap", "ffpp"):
            for k, v in video_metrics(logits[name], labels, sources).items():
                res[f"dev_{name}_{k}"] = round(float(v), 4)
    parts = [res.get("dev_yonsei_auc"), res.get("dev_lfw_swap_auc"), res.get("dev_live_swap_video_auc"),
             res.get("dev_ffpp_auc")]
    parts = [p for p in parts if p is not None and not np.isnan(p)]
    res["dev_mean_auc"] = round(float(np.mean(parts)), 4) if parts else None
    return res
