"""Classifier parity: the same crops through PyTorch, onnxruntime and facetell (tract).

    python parity.py --crops work/crops_dev --n 64

PyTorch runs the model as shipped (`model.as_shipped`: batch norms folded, float16 weights); how
far that is from the trained float32 checkpoint is printed too. Crops are PNGs written by
`facetell crop`; facetell scores them with its hidden `classify` command, which applies the
manifest's normalisation exactly as `facetell scan` does. Fails (exit 1)
if any pair of logits differs by more than 1e-4.
"""
import argparse
import json
import os
import pathlib
import subprocess

import cv2
import numpy as np
import onnxruntime as ort
import torch

from facetell_train.data import to_tensor
from facetell_train.manifest import REPO, load
from facetell_train.model import as_shipped, load_classifier


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--crops", default="work/crops_dev")
    p.add_argument("--ckpt", action="append", required=True, help="as given to export.py")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--models", default=str(REPO / "models"),
                   help="models folder to check (a candidate's; facetell reads it too)")
    p.add_argument("--facetell", default=str(REPO / "target" / "release" / "facetell"))
    a = p.parse_args()

    files = sorted(pathlib.Path(a.crops).rglob("*.png"))[: a.n]
    images = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])
    x = to_tensor(images)

    trained, _ = load_classifier(a.ckpt)
    model = as_shipped(trained, x.shape[-1])
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(x))[0].numpy()
        trained_logits = trained(torch.from_numpy(x))[0].numpy()
    # Not a parity check: what storing the weights as float16 costs (export.py).
    print(f"trained (float32) vs shipped (float16 weights): max abs logit diff "
          f"{np.abs(trained_logits - torch_logits).max():.2e}")

    models = pathlib.Path(a.models).resolve()
    manifest = load(models / "manifest.toml")["classifier"]
    sess = ort.InferenceSession(str(models / manifest["file"]), providers=["CPUExecutionProvider"])
    ort_logits = sess.run(None, {"crop": x})[0]

    out = subprocess.run([a.facetell, "classify", "--backend", "tract", *map(str, files)], check=True,
                         capture_output=True, text=True, env={**os.environ, "FACETELL_MODELS": str(models)})
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
