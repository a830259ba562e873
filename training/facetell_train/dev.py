"""Dev sets for model selection during training: every set, never one alone.

`prepare_dev.sh` writes, under one folder, one `facetell crop` output per set (`yonsei`,
`lfw_swap`, `live_swap`, `ffpp`); video sets are cropped from frames sampled with ffmpeg into one
folder per video. A source path with `/fake/` is a fake. Scores per set:

- images (yonsei, lfw_swap): crop AUC;
- videos (live_swap, ffpp): frame AUC, video AUC (mean frame score per video) and, where each fake
  has its own real (same name under real/ and fake/), the share of pairs where the fake's video
  score is above its real's.

`dev_mean_auc` is the mean of yonsei, lfw_swap and live_swap video AUC and ffpp frame AUC.
`paired_difference` puts a confidence interval on the difference of two models' AUCs on the same
items (DeLong), `selection_items` gives the items each set is selected on.
"""
import csv
import json
import pathlib

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from .data import load_crops, to_tensor

SETS = ("yonsei", "lfw_swap", "live_swap", "ffpp")
# The sets of videos: frames cropped from sampled frames, scored per video too.
VIDEO_SETS = ("live_swap", "ffpp")


def load(root):
    root = pathlib.Path(root)
    sets = {}
    for name in SETS:
        if (root / name / "crops.jsonl").exists():
            images, _, sources = load_crops(root / name)
            sets[name] = (images, np.array(["/fake/" in s for s in sources], np.int64), sources)
    return sets


def scores(model, images, batch=64, device="cpu", maps=False):
    """The model's fake logits [N] on the crops; with `maps`, also its boundary-map logits
    flattened [N, cells]."""
    model.eval()
    logits, map_logits = [], []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(to_tensor(images[i:i + batch])).to(device).contiguous(memory_format=torch.channels_last)
            out = model(x, return_map_logits=True) if maps else model(x)
            logits.append(out[0].cpu())
            map_logits.append(out[1].flatten(1).cpu() if maps else None)
    logits = torch.cat(logits).numpy()
    return (logits, torch.cat(map_logits).numpy()) if maps else logits


def videos(logits, labels, sources):
    """{video folder: (label, name, [frame logits])} of a video set's crops."""
    videos = {}
    for s, y, l in zip(sources, labels, logits):
        p = pathlib.PurePath(s)
        videos.setdefault(str(p.parent), (y, p.parent.name, []))[2].append(l)
    return videos


def video_scores(videos):
    """(labels, mean frame logit) per video of `videos()`."""
    return (np.array([v[0] for v in videos.values()]),
            np.array([np.mean(v[2]) for v in videos.values()]))


def video_metrics(logits, labels, sources):
    by_video = videos(logits, labels, sources)
    vy, vs = video_scores(by_video)
    res = {"video_auc": roc_auc_score(vy, vs) if 0 < vy.sum() < len(vy) else float("nan")}
    real = {v[1]: np.mean(v[2]) for v in by_video.values() if v[0] == 0}
    fake = {v[1]: np.mean(v[2]) for v in by_video.values() if v[0] == 1}
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
        if name in VIDEO_SETS:
            for k, v in video_metrics(logits[name], labels, sources).items():
                res[f"dev_{name}_{k}"] = round(float(v), 4)
    parts = [res.get("dev_yonsei_auc"), res.get("dev_lfw_swap_auc"), res.get("dev_live_swap_video_auc"),
             res.get("dev_ffpp_auc")]
    parts = [p for p in parts if p is not None and not np.isnan(p)]
    res["dev_mean_auc"] = round(float(np.mean(parts)), 4) if parts else None
    return res


TABLE_KEYS = ("dev_yonsei_auc", "dev_lfw_swap_auc", "dev_live_swap_video_auc",
              "dev_live_swap_pairs_fake_above_real", "dev_live_swap_auc", "dev_ffpp_auc", "dev_mean_auc")


def print_table(rows, first="variant"):
    """A markdown table of `metrics` results, one row per (name, metrics)."""
    print(f"| {first} | Yonsei | LFW swaps | live video | pairs | live frame | FF++ frame | mean |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m in rows:
        print(f"| {name} | " + " | ".join(f"{m.get(k, float('nan')):.3f}" for k in TABLE_KEYS) + " |")


def selection_items(name, logits, sets):
    """(labels, scores) of the items `dev_mean_auc` takes from set `name`: crops, or for
    live_swap videos (mean frame logit)."""
    _, labels, sources = sets[name]
    if name != "live_swap":
        return labels, logits
    return video_scores(videos(logits, labels, sources))


def delong_components(labels, scores):
    """Each fake's share of reals it outscores and each real's share of fakes that outscore it
    (ties half): their means are the AUC, their variances its variance (DeLong et al. 1988)."""
    labels = np.asarray(labels).astype(bool)
    pos, neg = np.asarray(scores)[labels], np.asarray(scores)[~labels]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(1), psi.mean(0)


def paired_difference(labels, a, b):
    """AUC(b) - AUC(a) on the same items, with its 95% interval (DeLong's paired variance)."""
    (a10, a01), (b10, b01) = delong_components(labels, a), delong_components(labels, b)
    d10, d01 = b10 - a10, b01 - a01
    diff = float(d10.mean())
    se = float(np.sqrt(d10.var(ddof=1) / len(d10) + d01.var(ddof=1) / len(d01)))
    return diff, diff - 1.96 * se, diff + 1.96 * se


def write_labels(out, rows):
    """Writes OUT/labels.csv, `facetell eval --labels`'s format (path, label, set), for a derived
    copy of dev files written under OUT: `rows` are (path relative to OUT, label, set)."""
    with open(pathlib.Path(out) / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "set"])
        w.writerows(rows)


def labelled_records(records, labels_csv):
    """(record, fake, set, path) for each record of a `facetell eval --records` file whose path the
    labels list (the record's path is ROOT/path as eval was given it: the labels' path is its
    tail, and `path` is that labels' path, the same whatever ROOT was); FF++'s fake and real sets
    are one set, "ffpp"."""
    labels = {}
    with open(labels_csv) as f:
        for row in csv.DictReader(f):
            labels[pathlib.PurePath(row["path"]).as_posix()] = (row["label"] == "fake", row.get("set", ""))
    for line in open(records):
        rec = json.loads(line)
        parts = pathlib.PurePath(rec["path"]).parts
        path = next((t for t in ("/".join(parts[i:]) for i in range(len(parts))) if t in labels), None)
        if path is not None:
            fake, name = labels[path]
            yield rec, fake, "ffpp" if name.startswith("ffpp") else name, path
