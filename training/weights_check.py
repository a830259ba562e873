"""Checks the ImageNet weights before relying on them: strict load (no missing or unexpected key),
then the ImageNet head's top classes on real photos under two normalisations, to confirm which
one the converted weights expect.

    python weights_check.py ../../shared/data/train/lfw/*.jpg --n 12
"""
import argparse

import cv2
import numpy as np
import torch
from torchvision.models import MobileNet_V2_Weights

from facetell_train.model import efficientnet_lite0

NORMS = {"(x-0.5)/0.5 (TF Lite)": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
         "ImageNet mean/std": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("images", nargs="+")
    p.add_argument("--n", type=int, default=12)
    a = p.parse_args()
    names = MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    net = efficientnet_lite0(pretrained=True).eval()
    print("weights loaded strictly: no missing or unexpected keys")
    imgs = []
    for f in a.images[: a.n]:
        img = cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB)
        imgs.append(cv2.resize(img, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32) / 255)
    x = np.stack(imgs)
    for label, (mean, std) in NORMS.items():
        t = torch.from_numpy(((x - mean) / std).transpose(0, 3, 1, 2).astype(np.float32))
        with torch.no_grad():
            prob = net(t).softmax(1)
        top = prob.max(1).values
        print(f"{label}: mean top-1 probability {top.mean():.3f}")
        for f, pr in zip(a.images, prob):
            best = pr.topk(3)
            print("   ", f.split("/")[-1], ", ".join(f"{names[i]} {v:.2f}" for v, i in zip(best.values, best.indices)))


if __name__ == "__main__":
    main()
