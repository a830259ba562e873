"""Crops of a second, tighter view of each face (the inner face at higher resolution), cut from
the photos by the product's own code: `facetell crop` with a models folder whose manifest holds
the crop template zoomed in about a centre (fractions of the crop). Run from training/ after
prepare_crops.sh:

    python inner_crops.py --zoom 1.8 --centre 0.5,0.6

Writes WORK/inner_models (the zoomed manifest beside links to the models), WORK/crops_inner_train
with its landmarks68.npz and WORK/crops_inner_dev/{yonsei,lfw_swap,live_swap,ffpp}. The 68
landmarks are the outer crops' under the same zoom: both crops are the least-squares similarity
fit of the same five detector points to templates that differ by that zoom, so the inner fit is
the outer one followed by the zoom (checked on the five points, to 0.01 px).
"""
import argparse
import json
import os
import pathlib
import re
import subprocess

import numpy as np

from facetell_train.manifest import MANIFEST, load


def zoomed(template, zoom, centre):
    return [[round(c + (v - c) * zoom, 4) for v, c in zip(point, centre)] for point in template]


def write_models(out, zoom, centre):
    """A models folder whose manifest differs from the shipped one in the crop's name and template."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = load()
    for f in (manifest["detector"]["file"], manifest["classifier"]["file"]):
        link = out / f
        if not link.exists():
            link.symlink_to(MANIFEST.parent.resolve() / f)
    text = MANIFEST.read_text()
    template = zoomed(manifest["crop"]["template"], zoom, centre)
    name = f'{manifest["crop"]["name"]}-inner{zoom:g}'
    text = re.sub(r'^name = "[^"]*"', f'name = "{name}"', text, count=1, flags=re.M)
    text = re.sub(r"^template = .*$", f"template = {template}", text, count=1, flags=re.M)
    (out / "manifest.toml").write_text(text)
    return name


def crop(facetell, models, sources, out):
    env = dict(os.environ, FACETELL_MODELS=str(models))
    subprocess.run([facetell, "crop", *map(str, sources), "--max-faces", "1", "--out", str(out)],
                   env=env, check=True)


def zoom_landmarks(outer, inner, zoom, centre):
    """inner/landmarks68.npz from outer's, checking the five points of both crops.jsonl."""
    size = load()["crop"]["size"]
    c = np.array(centre) * size
    records = {}
    for d in (outer, inner):
        records[d] = {r["crop"]: r for r in map(json.loads, open(d / "crops.jsonl"))}
    assert records[outer].keys() == records[inner].keys(), "the two crop runs found different faces"
    err = max(np.abs(c + zoom * (np.array(r["crop_landmarks"]) - c)
                     - np.array(records[inner][k]["crop_landmarks"])).max()
              for k, r in records[outer].items())
    assert err < 0.05, f"five-point fits differ by {err} px: not the same faces or templates"
    z = np.load(outer / "landmarks68.npz")
    np.savez(inner / "landmarks68.npz", crops=z["crops"],
             landmarks=(c + zoom * (z["landmarks"] - c)).astype(np.float32), detected=z["detected"])
    print(f"{inner}: {len(z['crops'])} crops, five points within {err:.3f} px of the zoomed outer ones")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--zoom", type=float, default=1.8)
    p.add_argument("--centre", default="0.5,0.6")
    p.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../../shared/data"))
    p.add_argument("--work", type=pathlib.Path, default=pathlib.Path("work"))
    p.add_argument("--facetell", default="../target/release/facetell")
    a = p.parse_args()
    centre = [float(v) for v in a.centre.split(",")]
    models = a.work / "inner_models"
    print("crop policy", write_models(models, a.zoom, centre))
    crop(a.facetell, models, [a.data / "train/lfw", a.data / "train/utkface"], a.work / "crops_inner_train")
    zoom_landmarks(a.work / "crops_train", a.work / "crops_inner_train", a.zoom, centre)
    for name, sources in (("yonsei", [a.data / "dev/yonsei"]), ("lfw_swap", [a.data / "dev/lfw_swap"]),
                          ("live_swap", [a.work / "dev_frames/live_swap"]), ("ffpp", [a.work / "dev_frames/ffpp"])):
        crop(a.facetell, models, sources, a.work / "crops_inner_dev" / name)


if __name__ == "__main__":
    main()
