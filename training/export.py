"""Exports a trained checkpoint, or the average of several (`--ckpt` repeated: one graph that
averages their logits and boundary maps, `model.Average`), to ONNX (legacy exporter, opset 17,
dynamic batch) into models/ and records it in models/manifest.toml (or into another models folder,
`--models DIR`, holding a copy of the manifest: a candidate scored by `facetell eval --models DIR`
while models/ stays as shipped; `candidate.sh` does that).

Weights are stored as float16 (`onnx_f16.store_weights_as_float16`: a `Cast` turns them into
float32 constants when the model loads, so inference runs in float32 as before): the file is half
the size. The model is first
brought to exactly those values (`model.as_shipped`: batch norms folded, weights rounded), so
PyTorch, ONNX Runtime and facetell compute the same network and parity.py still holds to 1e-4.

    python export.py --ckpt work/run/best.pt --name facetell-lite0-224-v3

The [classifier] section of the manifest is rewritten: file, sha256, input size, normalisation,
output order. The threshold is kept if one is already there (choose_threshold.py sets it).
"""
import argparse
import hashlib
import pathlib
import re
import textwrap

import numpy as np
import onnxruntime as ort
import torch

from facetell_train.manifest import MANIFEST, MEAN, STD, load
from facetell_train.model import as_shipped, load_classifier
from facetell_train.onnx_f16 import store_weights_as_float16


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ckpt", action="append", required=True, help="repeat for an ensemble")
    p.add_argument("--name", default="facetell-lite0-224-v3")
    p.add_argument("--models", type=pathlib.Path, default=MANIFEST.parent,
                   help="the models folder to write into and whose manifest.toml to update")
    a = p.parse_args()

    manifest = a.models / "manifest.toml"
    model, ckpts = load_classifier(a.ckpt)
    size = ckpts[0]["size"]
    assert all(c["size"] == load(manifest)["crop"]["size"] for c in ckpts), \
        "checkpoint crop size differs from the manifest's"
    model = as_shipped(model, size)
    out = a.models / f"{a.name}.onnx"
    dummy = torch.zeros(2, 3, size, size)
    torch.onnx.export(model, (dummy,), str(out), dynamo=False, opset_version=17,
                      input_names=["crop"], output_names=["logit", "boundary"],
                      dynamic_axes={"crop": {0: "N"}, "logit": {0: "N"}, "boundary": {0: "N"}})
    print("weights stored as float16:", store_weights_as_float16(out))
    # sanity: onnxruntime agrees with PyTorch on random input
    x = np.random.default_rng(0).normal(size=(3, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x))[0].numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"crop": x})[0]
    print("torch vs onnxruntime max abs diff", float(np.abs(ref - got).max()))

    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    text = manifest.read_text()
    old = load(manifest).get("classifier", {})
    threshold = old.get("threshold", 0.5)
    which = " and ".join(
        f"{c['arch']}, {'ImageNet-pretrained' if c['args'].get('pretrained') else 'from scratch'}, "
        f"epoch {c['epoch']} of {c['args']['epochs']}" for c in ckpts)
    if len(ckpts) > 1:
        which = f"the average of {which}"
    origin = textwrap.fill(f"Trained by training/train.py on pseudo-fakes from LFW + UTKFace reals "
                           f"({which}); see models/MODEL_CARD.md.", 98,
                           initial_indent="# ", subsequent_indent="# ")
    section = f"""[classifier]
{origin}
# Outputs: 0 = fake logit [N], 1 = boundary map [N,1,h,w].
file = "{out.name}"
sha256 = "{sha}"
name = "{a.name}"
input_size = {size}
mean = [{", ".join(str(v) for v in MEAN)}]
std = [{", ".join(str(v) for v in STD)}]
logit_output = 0
boundary_output = 1
threshold = {threshold}
"""
    text = re.split(r"^\[classifier\]", text, flags=re.M)[0].rstrip() + "\n\n" + section
    manifest.write_text(text)
    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {sha}) and updated {manifest}")


if __name__ == "__main__":
    main()
