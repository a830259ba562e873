"""Blend masks from 68 face landmarks (dlib's iBUG 300-W layout, as seen in the image).

The face X-ray hull family (Li et al. 2020, as used by Shiohara & Yamasaki 2022):

- `facehull`: convex hull of all 68 points;
- `dfl_full`: DeepFaceLab's full-face mask, the union of three hulls (jaw and mouth, nose ridge,
  brows and eyes);
- `components`: the union of eight local hulls (jaw halves, cheeks, nose ridge, eye regions, nose);
- `extended`: `components` with the brows lifted halfway again above the eyes (forehead).

Part masks (`parts`) cover any non-empty subset of eyes, brows, nose and mouth, as photo-editor
composites are made. Every mask is float32 in 0..1 at the crop's size.
"""
import cv2
import numpy as np

JAW = slice(0, 17)
BROW_R, BROW_L = slice(17, 22), slice(22, 27)
NOSE_RIDGE, NOSTRILS = slice(27, 31), slice(31, 36)
EYE_R, EYE_L = slice(36, 42), slice(42, 48)
MOUTH, MOUTH_OUTER = slice(48, 68), slice(48, 60)


def _fill_hulls(parts, size):
    m = np.zeros((size, size), np.float32)
    for pts in parts:
        hull = cv2.convexHull(np.round(np.concatenate(pts)).astype(np.int32))
        cv2.fillConvexPoly(m, hull, 1.0)
    return m


def facehull(lm, size):
    return _fill_hulls([(lm,)], size)


def dfl_full(lm, size):
    return _fill_hulls([
        (lm[JAW], lm[MOUTH], lm[0:1], lm[8:9], lm[16:17]),
        (lm[NOSE_RIDGE], lm[33:34]),
        (lm[17:27], lm[0:1], lm[27:28], lm[16:17], lm[33:34]),
    ], size)


def components(lm, size):
    return _fill_hulls([
        (lm[0:9], lm[17:18]),
        (lm[8:17], lm[26:27]),
        (lm[17:20], lm[8:9]),
        (lm[24:27], lm[8:9]),
        (lm[19:25], lm[8:9]),
        (lm[17:22], lm[27:28], lm[NOSTRILS], lm[8:9]),
        (lm[22:27], lm[27:28], lm[NOSTRILS], lm[8:9]),
        (lm[NOSE_RIDGE], lm[NOSTRILS]),
    ], size)


def extended(lm, size):
    lm = lm.copy()
    ml, mr = (lm[36] + lm[0]) / 2, (lm[16] + lm[45]) / 2
    ql, qr = (lm[36] + ml) / 2, (lm[45] + mr) / 2
    bot_l = np.stack([ql, lm[36], lm[37], lm[38], lm[39]])
    bot_r = np.stack([lm[42], lm[43], lm[44], lm[45], qr])
    lm[BROW_R] = lm[BROW_R] + (lm[BROW_R] - bot_l) / 2
    lm[BROW_L] = lm[BROW_L] + (lm[BROW_L] - bot_r) / 2
    return components(lm, size)


HULLS = (facehull, dfl_full, components, extended)


def parts(lm, size, rng):
    """A non-empty subset of: each eye (with its brow half the time), nose, mouth; each part's hull
    grown by a random margin so that it holds some skin around the feature."""
    eye_d = float(np.linalg.norm(lm[EYE_R].mean(0) - lm[EYE_L].mean(0))) + 1e-3
    chosen = rng.random(4) < 0.5
    if not chosen.any():
        chosen[rng.integers(4)] = True
    regions = []
    if chosen[0]:
        regions.append(np.concatenate([lm[EYE_R], lm[BROW_R]]) if rng.random() < 0.5 else lm[EYE_R])
    if chosen[1]:
        regions.append(np.concatenate([lm[EYE_L], lm[BROW_L]]) if rng.random() < 0.5 else lm[EYE_L])
    if chosen[2]:
        regions.append(np.concatenate([lm[NOSE_RIDGE], lm[NOSTRILS]]))
    if chosen[3]:
        regions.append(lm[MOUTH_OUTER])
    grown = []
    for pts in regions:
        c = pts.mean(0)
        grown.append((c + (pts - c) * rng.uniform(1.2, 1.6),))
    m = _fill_hulls(grown, size)
    k = max(1, int(eye_d * rng.uniform(0.05, 0.15))) * 2 + 1
    return cv2.dilate(m, np.ones((k, k), np.uint8))


def elastic(mask, rng):
    """Elastic deformation of the mask: albumentations' ElasticTransform with SBI's alpha 50 and
    sigma 7, scaled from SBI's 380 px crops to this crop size."""
    size = mask.shape[0]
    alpha, sigma = 50 * size / 380, 7 * size / 380
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (size, size)).astype(np.float32), (0, 0), sigma) * alpha
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (size, size)).astype(np.float32), (0, 0), sigma) * alpha
    xs, ys = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    return cv2.remap(mask, xs + dx, ys + dy, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)


def _odd(k):
    return max(3, int(k) // 2 * 2 + 1)


def soften(mask, rng):
    """SBI's blend mask: at a random reduced size, blur and keep only the fully covered part
    (an erosion of random width), blur again by a random width, back to full size. Widths are
    scaled from SBI's 380 px crops to this crop size."""
    size = mask.shape[0]
    f = size / 380
    h, w = (int(rng.integers(192, 257) * f) for _ in range(2))
    m = cv2.resize(mask, (w, h))
    k1, k2 = _odd(rng.integers(5, 26) * f), _odd(rng.integers(5, 26) * f)
    m = cv2.GaussianBlur(m, (k1, k1), 0)
    m = m / max(float(m.max()), 1e-6)
    m[m < 0.999] = 0  # (exactly 1 in SBI; float sums of the kernel make it 0.99999...)
    m = cv2.GaussianBlur(m, (k2, k2), float(rng.integers(5, 46)) * f)
    m = m / max(float(m.max()), 1e-6)
    return cv2.resize(m, (size, size))


def blend_mask(lm68, size, rng):
    """A random hull-family mask, elastically deformed, softened, times a blend ratio from
    {0.25, 0.5, 0.75, 1, 1, 1}."""
    m = soften(elastic(HULLS[rng.integers(4)](lm68, size), rng), rng)
    return np.clip(m * rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0]), 0, 1).astype(np.float32)
