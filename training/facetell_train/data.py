"""Pseudo-fake generation on aligned crops written by `facetell crop`.

Every sample starts from a real crop (RGB uint8, size x size, with its five landmarks in crop
pixels). Fakes are made on the fly, seeded, in two ways:

- self-blend (Shiohara & Yamasaki, CVPR 2022): a colour/sharpness/scale-shifted copy of the same
  face pasted back through a mask;
- cross-face blend (Li et al., face X-ray, CVPR 2020): the face of another real crop with nearby
  landmarks (similar pose), colour-matched, pasted in.

Masks: whole-face ellipse from the landmarks, inner-face hull, or partial regions (eyes, brows,
nose, mouth, as photo-editor composites are made), elastically deformed, softened by a random blur,
scaled by a random blend ratio. Reals are sometimes "beautified" (skin smoothing, brightening,
face-slimming warp) and stay labelled real. Real and fake alike get JPEG re-compression, resizing,
blur and noise, so that none of these is a cue.

The boundary target is 4*M*(1-M) of the final mask (zero for reals), pooled to the map size.
"""
import json
import pathlib

import cv2
import numpy as np

from .manifest import MEAN, STD

LE, RE, NOSE, LM, RM = range(5)


def load_crops(crop_dir, limit=None):
    """Returns (images uint8 [N,S,S,3] RGB, landmarks float32 [N,5,2], sources list)."""
    crop_dir = pathlib.Path(crop_dir)
    records = [json.loads(line) for line in open(crop_dir / "crops.jsonl")]
    records.sort(key=lambda r: r["crop"])
    if limit:
        records = records[:limit]
    images, lms = [], []
    for r in records:
        img = cv2.imread(str(crop_dir / r["crop"]), cv2.IMREAD_COLOR)
        images.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        lms.append(r["crop_landmarks"])
    return np.stack(images), np.asarray(lms, np.float32), [r["source"] for r in records]


def to_tensor(images):
    """uint8 [N,S,S,3] RGB -> float32 [N,3,S,S]; must match src/classify.rs Normalization."""
    x = images.astype(np.float32) / 255.0
    x = (x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


# ---------------------------------------------------------------- masks


def _ellipse(mask, center, axes, angle):
    cv2.ellipse(mask, (int(center[0] * 16), int(center[1] * 16)),
                (max(1, int(axes[0] * 16)), max(1, int(axes[1] * 16))), angle, 0, 360, 1.0, -1,
                lineType=cv2.LINE_AA, shift=4)


def face_geometry(lm):
    eye_mid = (lm[LE] + lm[RE]) / 2
    mouth_mid = (lm[LM] + lm[RM]) / 2
    eye_vec = lm[RE] - lm[LE]
    d_eye = float(np.linalg.norm(eye_vec)) + 1e-3
    d_em = float(np.linalg.norm(mouth_mid - eye_mid)) + 1e-3
    angle = float(np.degrees(np.arctan2(eye_vec[1], eye_vec[0])))
    return eye_mid, mouth_mid, d_eye, d_em, angle


def mask_whole_face(lm, size, rng):
    eye_mid, mouth_mid, d_eye, d_em, angle = face_geometry(lm)
    center = eye_mid + (mouth_mid - eye_mid) * rng.uniform(0.3, 0.7)
    axes = (d_eye * rng.uniform(0.85, 1.15), d_em * rng.uniform(1.2, 1.7))
    m = np.zeros((size, size), np.float32)
    _ellipse(m, center, axes, angle)
    return m


def mask_inner_hull(lm, size, rng):
    c = lm.mean(0)
    pts = c + (lm - c) * rng.uniform(1.3, 1.9)
    # brows: lift the eye points
    _, _, d_eye, d_em, _ = face_geometry(lm)
    up = np.array([0, -d_em * rng.uniform(0.2, 0.5)], np.float32)
    pts = np.concatenate([pts, pts[[LE, RE]] + up])
    hull = cv2.convexHull(pts.astype(np.float32)).astype(np.int32)
    m = np.zeros((size, size), np.float32)
    cv2.fillConvexPoly(m, hull, 1.0, lineType=cv2.LINE_AA)
    return m


def mask_parts(lm, size, rng):
    """Any non-empty subset of left eye, right eye, nose, mouth (with brows sometimes)."""
    _, _, d_eye, d_em, angle = face_geometry(lm)
    m = np.zeros((size, size), np.float32)
    parts = rng.random(4) < 0.5
    if not parts.any():
        parts[rng.integers(4)] = True
    if parts[0] or parts[1]:
        brows = rng.random() < 0.5
        for i, idx in enumerate((LE, RE)):
            if parts[i]:
                c = lm[idx] - np.array([0, d_em * (0.12 if brows else 0.0)])
                ax = (d_eye * rng.uniform(0.3, 0.45), d_em * rng.uniform(0.22, 0.4) * (1.6 if brows else 1))
                _ellipse(m, c, ax, angle)
    if parts[2]:
        c = (lm[NOSE] * 2 + (lm[LE] + lm[RE]) / 2) / 3
        _ellipse(m, c, (d_eye * rng.uniform(0.25, 0.4), d_em * rng.uniform(0.45, 0.65)), angle)
    if parts[3]:
        c = (lm[LM] + lm[RM]) / 2
        _ellipse(m, c, (d_eye * rng.uniform(0.5, 0.7), d_em * rng.uniform(0.25, 0.4)), angle)
    return m


def elastic(mask, rng, strength):
    size = mask.shape[0]
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (size, size)).astype(np.float32), (0, 0), size / 10)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (size, size)).astype(np.float32), (0, 0), size / 10)
    scale = strength / (np.abs(dx).max() + 1e-6)
    xs, ys = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    return cv2.remap(mask, xs + dx * scale, ys + dy * scale, cv2.INTER_LINEAR)


def random_mask(lm, size, rng):
    kind = rng.choice(3, p=[0.45, 0.25, 0.30])
    m = (mask_whole_face, mask_inner_hull, mask_parts)[kind](lm, size, rng)
    if rng.random() < 0.7:
        m = elastic(m, rng, rng.uniform(1, size * 0.04))
    # erode/dilate, then soften the edge by a random width
    if rng.random() < 0.5:
        k = int(rng.integers(1, 4)) * 2 + 1
        op = cv2.erode if rng.random() < 0.5 else cv2.dilate
        m = op(m, np.ones((k, k), np.uint8))
    sigma = rng.uniform(0.5, size * 0.06)
    m = cv2.GaussianBlur(m, (0, 0), sigma)
    m = m / max(float(m.max()), 1e-6)
    ratio = rng.choice([0.35, 0.5, 0.75, 1.0, 1.0, 1.0])
    return np.clip(m * ratio, 0, 1).astype(np.float32)


# ---------------------------------------------------------------- colour / source transforms


def color_jitter(img, rng, strength=1.0):
    x = img.astype(np.float32)
    x += rng.uniform(-20, 20, 3) * strength
    hsv = cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8) * strength) % 180
    hsv[..., 1] *= 1 + rng.uniform(-0.3, 0.3) * strength
    hsv[..., 2] *= 1 + rng.uniform(-0.2, 0.2) * strength
    x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    c = 1 + rng.uniform(-0.2, 0.2) * strength
    x = (x - x.mean()) * c + x.mean()
    return np.clip(x, 0, 255).astype(np.uint8)


def sharpen_or_blur(img, rng):
    if rng.random() < 0.5:
        return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5))
    blur = cv2.GaussianBlur(img, (0, 0), 1.0)
    return cv2.addWeighted(img, 1 + rng.uniform(0.3, 1.0), blur, -rng.uniform(0.3, 1.0), 0)


def affine_jitter(img, rng):
    size = img.shape[0]
    s = rng.uniform(0.94, 1.06)
    sx = s * rng.uniform(0.97, 1.03)
    tx, ty = rng.uniform(-0.03, 0.03, 2) * size
    m = np.array([[sx, 0, (1 - sx) * size / 2 + tx], [0, s, (1 - s) * size / 2 + ty]], np.float32)
    return cv2.warpAffine(img, m, (size, size), borderMode=cv2.BORDER_REFLECT)


def match_color(src, dst, mask):
    """Reinhard colour transfer of src onto dst's statistics inside the mask, in LAB."""
    w = mask > 0.1
    if w.sum() < 20:
        return src
    s = cv2.cvtColor(src, cv2.COLOR_RGB2LAB).astype(np.float32)
    d = cv2.cvtColor(dst, cv2.COLOR_RGB2LAB).astype(np.float32)
    sm, ss = s[w].mean(0), s[w].std(0) + 1e-3
    dm, ds = d[w].mean(0), d[w].std(0) + 1e-3
    out = (s - sm) / ss * ds + dm
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


# ---------------------------------------------------------------- beautification (stays real)


def beautify(img, lm, rng):
    out = img
    if rng.random() < 0.8:
        d = int(rng.choice([5, 7, 9]))
        smooth = cv2.bilateralFilter(out, d, rng.uniform(30, 80), rng.uniform(5, 12))
        a = rng.uniform(0.5, 1.0)
        out = cv2.addWeighted(smooth, a, out, 1 - a, 0)
    if rng.random() < 0.5:
        gamma = rng.uniform(0.7, 0.95)
        lut = (255 * (np.arange(256) / 255) ** gamma).astype(np.uint8)
        out = lut[out]
    if rng.random() < 0.4:
        out = slim_face(out, lm, rng.uniform(0.02, 0.06))
    return out


def slim_face(img, lm, amount):
    """Pulls the cheeks towards the face's vertical axis, as beauty apps do."""
    size = img.shape[0]
    eye_mid, mouth_mid, d_eye, d_em, _ = face_geometry(lm)
    xs, ys = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    cx = (eye_mid[0] + mouth_mid[0]) / 2
    cy = mouth_mid[1]
    wgt = np.exp(-(((xs - cx) / (d_eye * 1.3)) ** 2 + ((ys - cy) / (d_em * 1.2)) ** 2))
    map_x = xs + (xs - cx) * amount * wgt * 2
    return cv2.remap(img, map_x, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# ---------------------------------------------------------------- degradations (real and fake)


def degrade(img, rng):
    size = img.shape[0]
    if rng.random() < 0.35:
        # Global sharpening, real and fake alike: the training photos are small and soft, while
        # users' photos are often sharp; sharpness itself must not read as "fake", only a
        # sharpness mismatch inside the face.
        blur = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 2.0))
        amount = rng.uniform(0.3, 1.5)
        img = cv2.addWeighted(img, 1 + amount, blur, -amount, 0)
    if rng.random() < 0.5:
        # Down to as little as a fifth of the crop size and back up: faces in videos and group
        # photos are often 30-60 px, upscaled into the crop; softness must not read as "fake".
        f = np.exp(rng.uniform(np.log(0.2), np.log(0.9)))
        small = cv2.resize(img, (int(size * f), int(size * f)), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.2:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.5))
    if rng.random() < 0.1:
        img = np.clip(img + rng.normal(0, rng.uniform(1, 5), img.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        q = int(rng.integers(40, 96))
        ok, enc = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        img = cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(img)


# ---------------------------------------------------------------- sample generator


class PseudoFakeGenerator:
    """Makes (image, label, boundary) samples from real crops, deterministically per seed."""

    def __init__(self, images, landmarks, map_size, neighbours=None, p_fake=0.5, p_beautify=0.2):
        self.images = images
        self.landmarks = landmarks
        self.size = images.shape[1]
        self.map_size = map_size
        self.p_fake = p_fake
        self.p_beautify = p_beautify
        self.neighbours = neighbours

    def boundary(self, mask):
        b = 4 * mask * (1 - mask)
        return cv2.resize(b, (self.map_size, self.map_size), interpolation=cv2.INTER_AREA)

    def make_fake(self, idx, rng):
        base = self.images[idx]
        lm = self.landmarks[idx]
        mask = random_mask(lm, self.size, rng)
        if self.neighbours is not None and rng.random() < 0.4:
            other = int(rng.choice(self.neighbours[idx]))
            src = self.images[other]
            if rng.random() < 0.5:
                src = color_jitter(src, rng, 0.5)
            src = match_color(src, base, mask) if rng.random() < 0.8 else src
        else:
            src, tgt = base.copy(), base.copy()
            if rng.random() < 0.5:
                src = color_jitter(src, rng)
            else:
                tgt = color_jitter(tgt, rng)
            if rng.random() < 0.5:
                src = sharpen_or_blur(src, rng)
            src = affine_jitter(src, rng)
            base = tgt
        # Blend only where both faces have image content, a few pixels away from any
        # outside-the-image padding: a smeared padding edge would be a cue that real photos with
        # padded crops (faces near the photo's edge) would trip.
        valid = ((base.max(-1) > 0) & (src.max(-1) > 0)).astype(np.uint8)
        valid = cv2.erode(valid, np.ones((11, 11), np.uint8)).astype(np.float32)
        mask = mask * cv2.GaussianBlur(valid, (0, 0), 2.0)
        m3 = mask[..., None]
        fake = (src.astype(np.float32) * m3 + base.astype(np.float32) * (1 - m3))
        fake = np.clip(fake + 0.5, 0, 255).astype(np.uint8)
        # Outside-the-image padding (pure black, from the crop policy) stays pure black, so that
        # a tinted border is never a cue.
        fake[self.images[idx].max(-1) == 0] = 0
        return fake, mask

    def sample(self, idx, seed):
        rng = np.random.default_rng(seed)
        if rng.random() < self.p_fake:
            img, mask = self.make_fake(idx, rng)
            label, target = 1.0, self.boundary(mask)
        else:
            img = self.images[idx]
            if rng.random() < self.p_beautify:
                img = beautify(img, self.landmarks[idx], rng)
            label, target = 0.0, np.zeros((self.map_size, self.map_size), np.float32)
        if rng.random() < 0.5:
            img = img[:, ::-1]
            target = target[:, ::-1]
        img = degrade(np.ascontiguousarray(img), rng)
        return img, np.float32(label), np.ascontiguousarray(target, dtype=np.float32)


def pose_neighbours(landmarks, k=24):
    """Indices of the k crops with the nearest landmark layout (similar pose) for each crop."""
    from sklearn.neighbors import NearestNeighbors

    flat = landmarks.reshape(len(landmarks), -1)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(flat)
    _, idx = nn.kneighbors(flat)
    return idx[:, 1:]
