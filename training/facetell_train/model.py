"""The classifier: a MobileNetV3 trunk (timm, trained from scratch) with two heads.

- `logit`: [N] fake logit from globally pooled last features;
- `boundary`: [N, 1, S/8, S/8] blending-boundary map in 0..1 (face X-ray style), from a light
  feature pyramid over strides 8, 16 and 32.

Output order (logit first, boundary second) is recorded in models/manifest.toml.
"""
import timm
import torch
from torch import nn
import torch.nn.functional as F


class FaceSwapNet(nn.Module):
    def __init__(self, arch="mobilenetv3_small_100", drop=0.2):
        super().__init__()
        self.trunk = timm.create_model(arch, pretrained=False, features_only=True, out_indices=(2, 3, 4))
        c8, c16, c32 = self.trunk.feature_info.channels()
        self.lat8 = nn.Conv2d(c8, 32, 1)
        self.lat16 = nn.Conv2d(c16, 32, 1)
        self.lat32 = nn.Conv2d(c32, 32, 1)
        self.map_head = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(32, 1, 1))
        self.cls_head = nn.Sequential(nn.Linear(c32, 256), nn.Hardswish(), nn.Dropout(drop), nn.Linear(256, 1))

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
