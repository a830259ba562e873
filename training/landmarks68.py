"""68 face landmarks for every training crop, with dlib's predictor (training time only: the blend
masks of the generator follow them; inference never uses them).

    python landmarks68.py work/crops_train

Writes `landmarks68.npz` (crops: file names, landmarks: [N, 68, 2] in crop pixels, detected: whether
dlib's own detector found the face; where it did not, the predictor starts from the median box of
the crops where it did, which the crop policy puts in the same place for every face).

The predictor is `shape_predictor_68_face_landmarks.dat` from the `face-recognition-models` wheel
(dlib's model, trained on iBUG 300-W: research use; see models/MODEL_CARD.md).
"""
import argparse
import json
import multiprocessing
import pathlib

import cv2
import dlib
import importlib.util
import numpy as np

_detector = _predictor = None


def predictor_path():
    """The .dat file inside the face-recognition-models wheel (its own __init__ needs
    pkg_resources, which recent setuptools no longer ship, so the file is found directly)."""
    spec = importlib.util.find_spec("face_recognition_models")
    return str(pathlib.Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat")


def _init():
    global _detector, _predictor
    _detector = dlib.get_frontal_face_detector()
    _predictor = dlib.shape_predictor(predictor_path())


def _detect(path):
    img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    size = img.shape[0]
    rects = _detector(img, 0)
    if not rects:
        return None
    c = size / 2
    best = min(rects, key=lambda r: (r.center().x - c) ** 2 + (r.center().y - c) ** 2)
    return [best.left() / size, best.top() / size, best.right() / size, best.bottom() / size]


def _landmarks(args):
    path, box = args
    img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    size = img.shape[0]
    rect = dlib.rectangle(*(int(round(v * size)) for v in box))
    shape = _predictor(img, rect)
    return np.array([[p.x, p.y] for p in shape.parts()], np.float32)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("crops")
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    crop_dir = pathlib.Path(a.crops)
    names = sorted(json.loads(line)["crop"] for line in open(crop_dir / "crops.jsonl"))
    paths = [crop_dir / n for n in names]
    with multiprocessing.Pool(a.workers, initializer=_init) as pool:
        boxes = pool.map(_detect, paths, chunksize=64)
        found = [b for b in boxes if b is not None]
        median = np.median(np.array(found), 0).tolist() if found else [0.27, 0.3, 0.73, 0.8]
        lms = pool.map(_landmarks, [(pth, b if b is not None else median) for pth, b in zip(paths, boxes)],
                       chunksize=64)
    detected = np.array([b is not None for b in boxes])
    np.savez(crop_dir / "landmarks68.npz", crops=np.array(names), landmarks=np.stack(lms), detected=detected)
    print(f"{len(names)} crops, dlib detector found {detected.sum()}; median box {np.round(median, 3).tolist()}")


if __name__ == "__main__":
    main()
