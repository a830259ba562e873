"""Classifier parity: the same crops through PyTorch, onnxruntime and facetell (tract).

    python parity.py --crops work/crops_dev --n 64

Crops are PNGs written by `facetell crop`; facetell scores them with its hidden `classify`
command, which applies the manifest's normalisation exactly as `facetell scan` does. Fails (exit 1)
if any pair of logits differs by more than 1e-4.
"""
import argparse
import json
import pathlib
import subprocess

import cv2
import numpy as np
import onnxruntime as ort
import torch

from facetell_train.data import to_tensor
from facetell_train.manifest import REPO, load
from facetell_train.model import load_classifier


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--crops", default="work/crops_dev")
    p.add_argument("--ckpt", action="append", required=True, help="as given to export.py")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--facetell", default=str(REPO / "target" / "release" / "facetell"))
    a = p.parse_args()

    files = sorted(pathlib.Path(a.crops).rglob("*.png"))[: a.n]
    images = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])
    x = to_tensor(images)

    model, _ = load_classifier(a.ckpt)
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(x))[0].numpy()

    manifest = load()["classifier"]
    sess = ort.InferenceSession(str(REPO / "models" / manifest["file"]), providers=["CPUExecutionProvider"])
    ort_logits = sess.run(None, {"crop": x})[0]

    out = subprocess.run([a.facetell, "classify", "--backend", "tract", *map(str, files)], check=True, capture_output=True, text=True)
    tract_logits = np.array([json.loads(line)["logit"] for line in out.stdout.splitlines()], np.float32)

    pairs = {
        "pytorch vs onnxruntime": np.abs(torch_logits - ort_logits).max(),
        "pytorch vs facetell": np.abs(torch_logits - tract_logits).max(),
        "onnxruntime vs facetell": np.abs(ort_logits - tract_logits).max(),
    }
    ok = True
    for k, v in pairs.items():
        print(f"{k}: max abs logit diff {v:.2e} over {len(files)} crops")
        ok &= v < 1e-4
    print("PASS" if ok else "FAIL")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
