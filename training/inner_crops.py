"""Crops of a second, tighter view of each face (the inner face at higher resolution), cut from
the photos by the product's own code: `facetell crop --view inner`, with a models folder whose
manifest is the shipped one with its inner view ([crop.inner]: the crop template zoomed in about
a centre, fractions of the crop) set as asked. Run from training/ after prepare_crops.sh:

    python inner_crops.py                               # the manifest's inner view
    python inner_crops.py --zoom 1.8 --centre 0.5,0.6   # another one
    python inner_crops.py --zoom 1.8 --centre 0.5,0.6 --set-manifest DIR/manifest.toml
                                                        # only give that manifest the view

Writes WORK/inner_models (that manifest beside links to the models), WORK/crops_inner_train
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
import tomllib

import numpy as np

from facetell_train.manifest import MANIFEST, load


def with_inner(text, zoom, centre):
    """Manifest text with its [crop.inner] view set to `zoom` about `centre`, and the view's name."""
    name = f'{tomllib.loads(text)["crop"]["name"]}-inner{zoom:g}'
    view = (f'[crop.inner]\n# The crop template zoomed in {zoom:g}x about ({centre[0]:g}, {centre[1]:g}) '
            f'of the crop.\nname = "{name}"\nzoom = {zoom}\ncentre = [{centre[0]}, {centre[1]}]\n\n')
    text = re.sub(r"^\[crop\.inner\]\n(?:(?!\[).*\n)*", "", text, flags=re.M)
    return re.sub(r"^\[classifier\]", lambda m: view + m.group(0), text, count=1, flags=re.M), name


def write_models(out, zoom, centre):
    """A models folder whose manifest is the shipped one with its [crop.inner] view set to `zoom`
    about `centre`. Returns the view's name."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = load()
    for f in (manifest["detector"]["file"], manifest["classifier"]["file"]):
        link = out / f
        if not link.exists():
            link.symlink_to(MANIFEST.parent.resolve() / f)
    text, name = with_inner(MANIFEST.read_text(), zoom, centre)
    (out / "manifest.toml").write_text(text)
    return name


def crop(facetell, models, sources, out):
    env = dict(os.environ, FACETELL_MODELS=str(models))
    subprocess.run([facetell, "crop", *map(str, sources), "--view", "inner", "--max-faces", "1",
                    "--out", str(out)], env=env, check=True)


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
    inner = load()["crop"].get("inner", {})
    p.add_argument("--zoom", type=float, default=inner.get("zoom"), help="default: the manifest's")
    p.add_argument("--centre", default=",".join(map(str, inner.get("centre", []))) or None,
                   help="x,y as fractions of the crop; default: the manifest's")
    p.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../../shared/data"))
    p.add_argument("--work", type=pathlib.Path, default=pathlib.Path("work"))
    p.add_argument("--facetell", default="../target/release/facetell")
    p.add_argument("--set-manifest", type=pathlib.Path, metavar="TOML",
                   help="only set this manifest's [crop.inner] to the view, in place, and stop")
    a = p.parse_args()
    if a.zoom is None or a.centre is None:
        p.error("the manifest has no [crop.inner]: give --zoom and --centre")
    centre = [float(v) for v in a.centre.split(",")]
    if a.set_manifest:
        text, name = with_inner(a.set_manifest.read_text(), a.zoom, centre)
        a.set_manifest.write_text(text)
        print(f"{a.set_manifest}: crop.inner {name}")
        return
    models = a.work / "inner_models"
    print("crop policy", write_models(models, a.zoom, centre))
    crop(a.facetell, models, [a.data / "train/lfw", a.data / "train/utkface"], a.work / "crops_inner_train")
    zoom_landmarks(a.work / "crops_train", a.work / "crops_inner_train", a.zoom, centre)
    for name, sources in (("yonsei", [a.data / "dev/yonsei"]), ("lfw_swap", [a.data / "dev/lfw_swap"]),
                          ("live_swap", [a.work / "dev_frames/live_swap"]), ("ffpp", [a.work / "dev_frames/ffpp"])):
        crop(a.facetell, models, sources, a.work / "crops_inner_dev" / name)


if __name__ == "__main__":
    main()
