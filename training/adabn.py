"""Re-estimates a checkpoint's batch-norm statistics on other data (AdaBN, Li et al. 2016):
weights unchanged, no training, nothing added at inference.

    python adabn.py --ckpt work/v15_onnx.pt --only /lfw/ --out work/bnlfw.pt

Every norm that training updates (the frozen stem and first stages keep ImageNet's) gets the
running mean and variance of its input over generator pairs (v15's options, `from_onnx.py`'s
`generator_batches`) made from the training crops whose source path holds `--only`: for the
LFW crops, faces without the black padding that fills most of every UTKFace crop. The result is a
checkpoint as train.py writes them, for candidate.sh.
"""
import argparse
import pathlib

import torch

from facetell_train.model import load_checkpoint
from from_onnx import generator_batches


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ckpt", required=True)
    p.add_argument("--crops", default="work/crops_train")
    p.add_argument("--only", required=True, help="a string the source paths of the crops to use hold")
    p.add_argument("--out", type=pathlib.Path, required=True)
    p.add_argument("--kinds", default="0.2,0.5,0.3", help="the generator's fake shares")
    p.add_argument("--batches", type=int, default=64, help="batches of 32 pairs")
    p.add_argument("--seed", type=int, default=98)
    a = p.parse_args()

    torch.manual_seed(a.seed)
    model, ckpt = load_checkpoint(a.ckpt)
    frozen = {id(m) for f in model.trunk.frozen for m in f.modules()}
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) and id(m) not in frozen]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average over every batch
    model.train()  # batch statistics, frozen layers in eval mode (FrozenStartTrunk)
    kinds = [float(k) for k in a.kinds.split(",")]
    with torch.no_grad():
        for x in generator_batches(a.crops, ckpt["arch"], a.batches, 32, a.seed, kinds, only=a.only):
            model(x.contiguous(memory_format=torch.channels_last))
    for bn in norms:
        bn.momentum = 0.1
    a.out.parent.mkdir(parents=True, exist_ok=True)
    args = {**ckpt.get("args", {}), "adabn": {"from": a.ckpt, "only": a.only, "pairs": a.batches * 32}}
    torch.save({**ckpt, "model": model.state_dict(), "args": args}, a.out)
    print(f"{len(norms)} norms re-estimated over {a.batches * 32} pairs from crops with {a.only!r}; wrote {a.out}")


if __name__ == "__main__":
    main()
