"""Recovers a trainable checkpoint from a shipped classifier's ONNX file, so that a stage can
start from the shipped model on a machine that has lost the checkpoint it was exported from
(training/work is not in the repository; a fresh machine has none of it).

The export folds every batch norm into the conv before it (`model.fold_batch_norms`) and rounds
the weights to float16, so the ONNX file holds, for each conv-plus-norm, one weight W' and one
bias b' with BN(W x) = W' x + b' in eval mode. Training needs the norm back: in train mode it
normalises by the batch's own statistics. For each such pair this script sets

- the conv's weight to W' scaled per output channel by s = |W_ImageNet[c]| / |W'[c]| (the
  ImageNet weight's norm: training from those weights moves the norms little, and AdamW's step
  size relative to a weight depends on its scale, so this keeps the stage's effective rate);
- the norm's running mean and variance to the mean m and variance v of s W' x over pairs from
  the training generator (the statistics train mode sees), its scale to sqrt(v + eps) / s and
  its shift to b' + m / s,

which gives back W' x + b' exactly in eval mode, and close to it in train mode: the result,
folded and rounded as export.py ships it, holds the file's weights exactly (v15: its export is
the file byte for byte; `--check` compares the logits on dev crops). Frozen layers (the stem and
the first stages: `--freeze`) keep ImageNet's weights, which the file must hold; the lateral,
map and verdict heads are copied as they are. What is
lost: the optimiser's state (an `--init` stage starts a fresh one anyway) and the true split of
each folded weight between conv and norm (the scale above stands in for it).

    python from_onnx.py --onnx ../models/facetell-mnv2-224-v15.onnx --crops work/crops_train \\
        --out work/v15_onnx.pt --check work/crops_dev/yonsei
"""
import argparse
import copy
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from torch.nn.utils.fusion import fuse_conv_bn_eval

from facetell_train import data
from facetell_train.data import PseudoFakeGenerator, load_crops, pose_neighbours, to_tensor
from facetell_train.manifest import load
from facetell_train.model import FaceSwapNet, as_shipped, conv_norm_pairs
from facetell_train.onnx_f16 import SUFFIX
from train import Pairs, boundary_map_size


def onnx_weights(path):
    """The file's initializers as float32 arrays, under the names the exporter gave them (the
    PyTorch parameter names of the folded model; float16 copies lose their suffix)."""
    out = {}
    for init in onnx.load(str(path)).graph.initializer:
        name = init.name[: -len(SUFFIX)] if init.name.endswith(SUFFIX) else init.name
        out[name] = numpy_helper.to_array(init).astype(np.float32)
    return out


def generator_batches(crops, arch, batches, batch, seed, kinds, only=None):
    """`batches` batches of `batch` (real, fake) pairs from the training generator with v15's
    options, as train.py's `Pairs` makes them (epoch 0 of `seed`), each [2*batch, 3, S, S];
    `only`: from the crops whose source path holds this string alone."""
    images, lms, sources, lm68 = load_crops(crops, lm68=True)
    if only:
        keep = np.array([only in s for s in sources])
        assert keep.any(), f"no crop in {crops} has {only!r} in its source path"
        images, lms, lm68 = images[keep], lms[keep], lm68[keep]
    size = images.shape[1]
    gen = PseudoFakeGenerator(images, lms, lm68, boundary_map_size(arch, size), pose_neighbours(lms),
                              kinds=kinds, align_jitter=0.03, h264=data.h264_stand_in, poisson=1.0, self_parts=0.5)
    for x, _, _ in torch.utils.data.DataLoader(Pairs(gen, seed, batches * batch), batch_size=batch):
        yield x.flatten(0, 1)


def shipped_fold(conv, bn):
    """A conv and its norm folded and rounded to float16, as `model.as_shipped` stores them."""
    fused = fuse_conv_bn_eval(copy.deepcopy(conv).eval(), copy.deepcopy(bn).eval())
    return fused.weight.detach().half().float().numpy(), fused.bias.detach().half().float().numpy()


def frozen_imagenet(conv_name, conv, bn, w, b):
    """Checks that a frozen conv and norm, ImageNet's, fold to the file's (w, b), and rounds them
    to float16 where that is what the file holds: models since v8 started from a GPU run whose
    ImageNet weights travelled as float16 (pack_for_device.py), so their frozen layers hold the
    rounded values."""
    if not all(np.array_equal(u, v) for u, v in zip(shipped_fold(conv, bn), (w, b))):
        for t in [conv.weight, bn.weight, bn.bias, bn.running_mean, bn.running_var]:
            t.copy_(t.half().float())
    got_w, got_b = shipped_fold(conv, bn)
    # float16 keeps 11 significant bits: rounding moves a value by at most 2^-11 of the tensor's
    # largest (4.9e-4); a trained layer is off by far more (v15's first unfrozen one: 0.4)
    drift = max(np.abs(got_w - w).max() / np.abs(w).max(), np.abs(got_b - b).max() / np.abs(b).max())
    assert drift < 2e-3, f"{conv_name}: frozen, but the file's weights are not ImageNet's ({drift:.3g})"


def recover(weights, arch, freeze, batches_of_pairs):
    """The FaceSwapNet whose eval-mode function is the file's (see the module's docstring)."""
    model = FaceSwapNet(arch, pretrained=True, freeze=freeze).eval()
    frozen = {id(p) for m in model.trunk.frozen for p in m.parameters()}
    names = {m: n for n, m in model.named_modules()}
    folded_names = set()
    scale = {}
    with torch.no_grad():
        for parent, conv_key, bn_key in conv_norm_pairs(model):
            conv, bn = parent._modules[conv_key], parent._modules[bn_key]
            conv_name, bn_name = names[conv], names[bn]
            w, b = weights[conv_name + ".weight"], weights[conv_name + ".bias"]
            folded_names |= {conv_name + ".weight", conv_name + ".bias"}
            if id(conv.weight) in frozen:
                frozen_imagenet(conv_name, conv, bn, w, b)
                continue
            norms = np.sqrt((w.reshape(len(w), -1) ** 2).sum(1))
            ref = conv.weight.numpy().reshape(len(w), -1)
            s = np.where(norms > 1e-8, np.sqrt((ref ** 2).sum(1)) / np.maximum(norms, 1e-8), 1.0)
            scale[bn_name] = (torch.from_numpy(s.astype(np.float32)), torch.from_numpy(b))
            conv.weight.copy_(torch.from_numpy(w * s[:, None, None, None]))
            # placeholder statistics (mean 0, variance 1 - eps): exact in eval mode already
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.copy_(1.0 / scale[bn_name][0])
            bn.bias.copy_(scale[bn_name][1])
        state = model.state_dict()
        rest = [k for k in weights if k not in folded_names]
        for k in rest:
            assert k in state, f"{k}: in the ONNX file but not in a {arch} FaceSwapNet"
            state[k].copy_(torch.from_numpy(weights[k]).reshape(state[k].shape))
        # the statistics train mode sees: every unfrozen norm's input over generator pairs
        sums = {name: [0.0, 0.0, 0] for name in scale}
        modules = dict(model.named_modules())

        def hook(name):
            def record(_, inputs):
                y = inputs[0].double()
                acc = sums[name]
                acc[0] = acc[0] + y.sum((0, 2, 3))
                acc[1] = acc[1] + (y * y).sum((0, 2, 3))
                acc[2] += y.shape[0] * y.shape[2] * y.shape[3]
            return record

        handles = [modules[name].register_forward_pre_hook(hook(name)) for name in scale]
        for x in batches_of_pairs:
            model(x)
        for h in handles:
            h.remove()
        for name, (s, b) in scale.items():
            total, squares, n = sums[name]
            m = total / n
            v = (squares / n - m * m).clamp(min=0)
            bn = modules[name]
            bn.running_mean.copy_(m.float())
            bn.running_var.copy_(v.float())
            bn.weight.copy_(torch.sqrt(v.float() + bn.eps) / s)
            bn.bias.copy_(b + m.float() / s)
    return model


def check(model, path, crops, size, n=64):
    """Max abs logit difference between the recovered model as shipped (PyTorch) and the ONNX
    file (onnxruntime) on the first `n` crops of a folder."""
    images = load_crops(crops, limit=n)[0]
    x = to_tensor(images)
    with torch.no_grad():
        ours = as_shipped(model, size)(torch.from_numpy(x))[0].numpy()
    theirs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"crop": x})[0]
    return float(np.abs(ours - theirs).max())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--onnx", type=pathlib.Path, required=True)
    p.add_argument("--crops", required=True, help="training crops (with landmarks68.npz): the pairs the statistics come from")
    p.add_argument("--out", type=pathlib.Path, required=True)
    p.add_argument("--arch", default="mobilenet_v2")
    p.add_argument("--freeze", type=int, default=2, help="as the shipped model's training (v8 onwards: 2)")
    p.add_argument("--kinds", default="0.2,0.5,0.3", help="the generator's fake shares for the statistics")
    p.add_argument("--batches", type=int, default=40, help="batches of 32 pairs for the statistics")
    p.add_argument("--seed", type=int, default=99)
    p.add_argument("--check", help="a crops folder: compare the recovered model with the file on it")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    weights = onnx_weights(a.onnx)
    size = load(a.onnx.parent / "manifest.toml")["classifier"]["input_size"]
    kinds = [float(k) for k in a.kinds.split(",")]
    model = recover(weights, a.arch, a.freeze, generator_batches(a.crops, a.arch, a.batches, 32, a.seed, kinds))
    if a.check:
        print(f"recovered (as shipped, PyTorch) vs {a.onnx.name} (onnxruntime): max abs logit diff "
              f"{check(model, a.onnx, a.check, size):.3g}", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    args = {"pretrained": True, "epochs": 0, "freeze": a.freeze, "recovered_from": a.onnx.name}
    torch.save({"model": copy.deepcopy(model.state_dict()), "arch": a.arch, "size": size, "epoch": 0,
                "log": [], "args": args}, a.out)
    print(f"wrote {a.out}", flush=True)


if __name__ == "__main__":
    main()
