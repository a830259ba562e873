"""Trains the face-swap classifier on pseudo-fakes made from real crops (see README.md).

    python train.py --crops work/crops_train --dev-crops work/crops_dev --epochs 45 --out work/run

Crops come from `facetell crop` (the product's own detection and alignment).
"""
import argparse
import json
import math
import pathlib
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from facetell_train.data import PseudoFakeGenerator, load_crops, pose_neighbours, to_tensor
from facetell_train.model import FaceSwapNet


class Samples(torch.utils.data.Dataset):
    def __init__(self, gen, seed):
        self.gen, self.seed, self.epoch = gen, seed, 0

    def __len__(self):
        return len(self.gen.images)

    def __getitem__(self, i):
        img, label, target = self.gen.sample(i, seed=(self.seed, self.epoch, i))
        return to_tensor(img[None])[0], label, target[None]


def dev_auc(model, dev):
    if dev is None:
        return float("nan")
    images, labels = dev
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(to_tensor(images[i:i + 128])).contiguous(memory_format=torch.channels_last))[0]
                            for i in range(0, len(images), 128)])
    model.train()
    return roc_auc_score(labels, logits.numpy())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--crops", default="work/crops_train")
    p.add_argument("--dev-crops", default="work/crops_dev")
    p.add_argument("--arch", default="mobilenetv3_small_100")
    p.add_argument("--epochs", type=int, default=45)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--map-weight", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", default="work/run")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    images, lms, _ = load_crops(a.crops)
    print(f"{len(images)} training crops", flush=True)
    dev = None
    if a.dev_crops and pathlib.Path(a.dev_crops, "crops.jsonl").exists():
        dimg, _, dsrc = load_crops(a.dev_crops)
        dev = (dimg, np.array(["/fake/" in s for s in dsrc], np.int64))
    size = images.shape[1]
    model = FaceSwapNet(a.arch).to(memory_format=torch.channels_last)
    with torch.no_grad():
        map_size = model(torch.zeros(1, 3, size, size))[1].shape[-1]
    gen = PseudoFakeGenerator(images, lms, map_size, pose_neighbours(lms))
    ds = Samples(gen, a.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.05)
    steps_per_epoch = len(ds) // a.batch
    total = steps_per_epoch * a.epochs
    warmup = min(500, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    log = []
    start = time.time()
    for epoch in range(a.epochs):
        ds.epoch = epoch
        loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, drop_last=True,
                                             num_workers=a.workers,
                                             generator=torch.Generator().manual_seed(a.seed * 1000 + epoch))
        tot, correct, n = 0.0, 0, 0
        for x, y, m in loader:
            x = x.contiguous(memory_format=torch.channels_last)
            logit, map_logits = model(x, return_map_logits=True)
            loss = F.binary_cross_entropy_with_logits(logit, y) + a.map_weight * F.binary_cross_entropy_with_logits(map_logits, m)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(y)
            correct += ((logit > 0).float() == y).sum().item()
            n += len(y)
        auc = dev_auc(model, dev)
        elapsed = time.time() - start
        rec = {"epoch": epoch + 1, "loss": tot / n, "train_acc": correct / n, "dev_yonsei_crop_auc": auc,
               "elapsed_s": round(elapsed), "img_per_s": round(n * (epoch + 1) / elapsed, 1)}
        log.append(rec)
        print(json.dumps(rec), flush=True)
        torch.save({"model": model.state_dict(), "arch": a.arch, "size": size, "args": vars(a), "log": log},
                   out / "last.pt")
    (out / "log.json").write_text(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
