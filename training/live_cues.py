"""Two cues a live face swap might leave that need no training, measured per video on the dev live
swaps (each fake against every real: video AUC; and against its own real stream: pairs). Both use
the fine detail of a frame (grey levels minus their Gaussian blur, sigma 1) and dlib's 68
landmarks (training-time tools; neither cue is in the product):

- flicker: a generated face is drawn anew each frame, so its fine detail might change from frame
  to frame more than a real face's. Consecutive frames (the first 120), the second warped onto
  the first by the similarity that maps its brow, nose and eye landmarks onto the first's; the
  mean change of fine detail inside the face (hull of the jaw and brows, eroded 7 px), over the
  face's own fine detail. Median over frame pairs.
- smoothness: a generated face might be smoother than the skin, hair and background around it.
  Every third of the first 60 frames: the median fine detail inside the face (eroded 9 px) over
  the median in a ring around it (a third of the face's width, 2 px off the hull). Median over
  frames. A fake is expected to score lower.

    python live_cues.py [--root ../../shared/data/dev/live_swap]
"""
import argparse
import pathlib
import statistics

import cv2
import dlib
import numpy as np
from sklearn.metrics import roc_auc_score

import landmarks68

FLICKER_FRAMES, SMOOTH_FRAMES, SMOOTH_STEP = 120, 60, 3


class Landmarks:
    def __init__(self):
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(landmarks68.predictor_path())

    def __call__(self, grey):
        """The largest face's 68 landmarks [68, 2], or None."""
        boxes = self.detector(grey, 1)
        if not boxes:
            return None
        shape = self.predictor(grey, max(boxes, key=lambda b: b.area()))
        return np.array([[p.x, p.y] for p in shape.parts()], np.float32)


def greys(path, n):
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    return out


def detail(grey):
    g = grey.astype(np.float32)
    return g - cv2.GaussianBlur(g, (0, 0), 1.0)


def face_mask(shape, points, erode):
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(points[:27].astype(np.int32)), 1)
    return mask, cv2.erode(mask, np.ones((erode, erode), np.uint8))


def flicker(path, landmarks):
    frames = greys(path, FLICKER_FRAMES)
    points = [landmarks(g) for g in frames]
    values = []
    for t in range(len(frames) - 1):
        a, b = points[t], points[t + 1]
        if a is None or b is None:
            continue
        m, _ = cv2.estimateAffinePartial2D(b[17:48], a[17:48])
        if m is None:
            continue
        h, w = frames[t].shape
        warped = cv2.warpAffine(frames[t + 1], m, (w, h), flags=cv2.INTER_LINEAR)
        _, inner = face_mask((h, w), a, 7)
        first = detail(frames[t])
        change = np.abs(first - detail(warped))[inner > 0].mean()
        values.append(change / max(np.abs(first)[inner > 0].mean(), 1e-3))
    return statistics.median(values) if values else None


def smoothness(path, landmarks):
    values = []
    for grey in greys(path, SMOOTH_FRAMES)[::SMOOTH_STEP]:
        points = landmarks(grey)
        if points is None:
            continue
        face, inner = face_mask(grey.shape, points, 9)
        k = max(3, int(np.ptp(points[:, 0])) // 3) | 1
        ring = cv2.dilate(face, np.ones((k, k), np.uint8)) - cv2.dilate(face, np.ones((5, 5), np.uint8))
        if ring.sum() < 200 or inner.sum() < 200:
            continue
        e = np.abs(detail(grey))
        values.append(np.median(e[inner > 0]) / max(np.median(e[ring > 0]), 1e-3))
    return statistics.median(values) if values else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default="../../shared/data/dev/live_swap")
    args = p.parse_args()
    root = pathlib.Path(args.root)
    landmarks = Landmarks()
    cues = {"flicker": flicker, "smoothness": smoothness}
    values = {name: {} for name in cues}
    for video in sorted((root / "fake").glob("*.mp4")):
        row = [video.name]
        for name, cue in cues.items():
            for kind in ("fake", "real"):
                values[name][kind, video.name] = v = cue(root / kind / video.name, landmarks)
                row.append(f"{name} {kind} {v:.3f}" if v is not None else f"{name} {kind} -")
        print("  ".join(row), flush=True)
    for name, by in values.items():
        both = [n for (k, n) in by if k == "fake" and by.get(("real", n)) is not None and by[k, n] is not None]
        fakes = [by["fake", n] for n in both]
        reals = [by["real", n] for n in both]
        above = sum(by["fake", n] > by["real", n] for n in both)
        print(f"{name}: {len(both)} pairs; AUC, fake higher: {roc_auc_score([1] * len(fakes) + [0] * len(reals), fakes + reals):.3f}; "
              f"fake higher than its own real in {above} of {len(both)}")


if __name__ == "__main__":
    main()
