"""Pseudo-fake generation on aligned crops written by `facetell crop` (see README.md, Recipe).

Every sample is a pair made from one real crop (RGB uint8, size x size, with its 5 detector
landmarks and its 68 dlib landmarks in crop pixels): the real, and a fake made from it. Both get the
same global augmentation, so the pair differs only by the manipulation. Fakes, seeded:

- self-blend (Shiohara & Yamasaki, CVPR 2022, 60%): a copy of the same face with a colour, then
  down-scaling or sharpening transform on source or target, a small affine shift/scale of the
  source, pasted back through a hull-family mask (`masks.py`);
- face swap blend (Li et al., face X-ray, CVPR 2020, 20%): another real face with a similar pose,
  aligned on its 68 landmarks and colour-matched, pasted through a hull-family mask; a share
  (`swap_transform`, 30% by default) goes through the self-blend's source transform first (a
  face from another camera or a generator: other colour, resampled or sharpened);
- part composite (20%): eyes, brows, nose and/or mouth of another face, aligned with scale and
  rotation jitter, colour-transferred, degraded on their own (JPEG, noise, resampling) and
  feathered in, as photo-editor composites are made; a share (`poisson`) is pasted in the gradient
  domain instead (Poisson image editing, Pérez et al. 2003: OpenCV's `seamlessClone`, a photo
  editor's healing brush), which leaves no colour seam at the edge of the pasted part. A share
  (`self_parts`) takes its parts from the same face instead, through a self-blend's source
  transform and shift (SBI for parts): only the statistics of the pasted parts differ.

A share of the self-blends and face swap blends (`poisson_faces`) is pasted in the gradient domain
before the feathered blend, as face-swap tools' "seamless" merge does (DeepFaceLab): the blended
face keeps its own texture and sharpness and takes the target's colour at its edge. A share
(`smooth_faces`) has its pasted face smoothed first (`smooth_skin`): a generated face's smooth
skin in a frame that keeps its texture.

A fifth of the bases are beautified first (skin smoothing, brightening, face slimming): a
beautified real is real. Global augmentation, real and fake alike: colour, horizontal flip,
sharpening, down/up resizing to as little as 0.25x, blur, noise, JPEG quality 40-100 or intra
H.264 through ffmpeg (QP 20-40).

The boundary target is 4*M*(1-M) of the final mask (zero for reals), pooled to the map size.
"""
import json
import pathlib
import shutil
import subprocess

import cv2
import numpy as np

from . import masks
from .manifest import MEAN, STD

LE, RE, NOSE, LM, RM = range(5)


def load_crops(crop_dir, limit=None, lm68=False, fill=False, source_contains=None):
    """Returns (images uint8 [N,S,S,3] RGB, landmarks float32 [N,5,2], sources list), plus the 68
    dlib landmarks [N,68,2] from `landmarks68.npz` (written by landmarks68.py) when `lm68`.
    `fill`: heavy padding filled in (`fill_padding`); `source_contains`: only the crops whose
    source path holds that text."""
    crop_dir = pathlib.Path(crop_dir)
    records = [json.loads(line) for line in open(crop_dir / "crops.jsonl")]
    if source_contains:
        records = [r for r in records if source_contains in r["source"]]
    records.sort(key=lambda r: r["crop"])
    if limit:
        records = records[:limit]
    images, lms = [], []
    for r in records:
        img = cv2.cvtColor(cv2.imread(str(crop_dir / r["crop"]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        images.append(fill_padding(img) if fill else img)
        lms.append(r["crop_landmarks"])
    out = (np.stack(images), np.asarray(lms, np.float32), [r["source"] for r in records])
    if lm68:
        z = np.load(crop_dir / "landmarks68.npz")
        by_crop = dict(zip(z["crops"].tolist(), z["landmarks"]))
        out += (np.stack([by_crop[r["crop"]] for r in records]).astype(np.float32),)
    return out


def has_content(img):
    """Where an RGB crop holds image content: any channel above zero. The crop policy pads
    windows that reach past the photo with pure black. (`img.max(-1)` gives the same, 30 times
    slower: numpy reduces a 3-wide last axis pixel by pixel; it was a quarter of a pair's time.)"""
    return np.maximum(np.maximum(img[..., 0], img[..., 1]), img[..., 2]) > 0


def fill_padding(img, min_padding=0.05):
    """A crop whose window reached past its photo (black padding over at least `min_padding` of
    it, as in every UTKFace chip: 62% of each crop) with the padding replaced by a smooth
    continuation of the photo: an inpainting at a quarter of the size, blurred, feathered in
    over the photo's last pixels. Returns crops with less padding unchanged.

    Black frames around most training faces taught the network a face in a black square, and
    clipped the blend masks at the chip's edge, where a face's outline usually lies; users'
    photos seldom have either. The fill is never pure black, so the generator treats it as
    image content."""
    content = has_content(img)
    if 1.0 - content.mean() < min_padding:
        return img
    size = img.shape[0]
    content = cv2.erode(content.astype(np.uint8), np.ones((3, 3), np.uint8))
    small = size // 4
    img_s = cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA)
    hole_s = (cv2.resize(content, (small, small), interpolation=cv2.INTER_AREA) < 1).astype(np.uint8)
    fill = cv2.inpaint(img_s, hole_s * 255, 3, cv2.INPAINT_TELEA)
    fill = cv2.GaussianBlur(cv2.resize(fill, (size, size), interpolation=cv2.INTER_CUBIC), (0, 0), 2.0)
    alpha = (cv2.GaussianBlur(content.astype(np.float32), (0, 0), 1.5) * content)[..., None]
    out = np.clip(img * alpha + fill * (1 - alpha) + 0.5, 0, 255).astype(np.uint8)
    outside = content == 0
    out[outside] = np.maximum(out[outside], 1)
    return out


def to_tensor(images):
    """uint8 [N,S,S,3] RGB -> float32 [N,3,S,S]; must match src/classify.rs Normalization."""
    x = images.astype(np.float32) / 255.0
    x = (x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def face_geometry(lm):
    """Eye midpoint, mouth midpoint, eye distance, eye-mouth distance, roll angle (5 landmarks)."""
    eye_mid = (lm[LE] + lm[RE]) / 2
    mouth_mid = (lm[LM] + lm[RM]) / 2
    eye_vec = lm[RE] - lm[LE]
    d_eye = float(np.linalg.norm(eye_vec)) + 1e-3
    d_em = float(np.linalg.norm(mouth_mid - eye_mid)) + 1e-3
    angle = float(np.degrees(np.arctan2(eye_vec[1], eye_vec[0])))
    return eye_mid, mouth_mid, d_eye, d_em, angle


# ---------------------------------------------------------------- colour / source transforms


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


def poisson_paste(src, dst, mask):
    """`src` pasted into `dst` in the gradient domain (OpenCV's `seamlessClone`, normal clone)
    where the soft `mask` is over one half (`dst` itself where that region is empty); nothing
    outside that region changes, so nothing outside `mask > 0`."""
    region = (mask > 0.5).astype(np.uint8) * 255
    region[:2], region[-2:], region[:, :2], region[:, -2:] = 0, 0, 0, 0
    if cv2.countNonZero(region) < 20:
        return dst.copy()
    x, y, w, h = cv2.boundingRect(region)
    # (x + w // 2, y + h // 2) puts the pasted region back where it is (checked on a shifted
    # texture: a pixel either way leaves the gradients off). seamlessClone writes into the mask
    # it is given (OpenCV 4.x), hence the copy; the region alone is taken from its result.
    cloned = cv2.seamlessClone(src, dst, region.copy(), (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    return np.where(region[..., None] > 0, cloned, dst)


# ---------------------------------------------------------------- beautification (stays real)


def smooth_skin(img, rng):
    """Edge-preserving smoothing (a bilateral filter, mixed back in part): the skin's texture and
    noise gone, its edges kept, as a beauty filter or a face generator's output leaves it."""
    d = int(rng.choice([5, 7, 9]))
    smooth = cv2.bilateralFilter(img, d, rng.uniform(30, 80), rng.uniform(5, 12))
    a = rng.uniform(0.5, 1.0)
    return cv2.addWeighted(smooth, a, img, 1 - a, 0)


def beautify(img, lm, rng):
    out = img
    if rng.random() < 0.8:
        out = smooth_skin(out, rng)
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


# ---------------------------------------------------------------- resampling and compression


def resample(img, n, down=cv2.INTER_AREA, up=cv2.INTER_LINEAR):
    """Down to n x n and back up to the image's size: detail lost as in a smaller source."""
    size = img.shape[0]
    return cv2.resize(cv2.resize(img, (n, n), interpolation=down), (size, size), interpolation=up)


def recode(img, ext, param, quality):
    """One encode/decode of an RGB image through OpenCV's codec for `ext` at `quality`."""
    enc = cv2.imencode(ext, img[..., ::-1], [param, quality])[1]
    return np.ascontiguousarray(cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1])


def jpeg(img, quality):
    """One JPEG encode/decode of an RGB image at `quality`."""
    return recode(img, ".jpg", cv2.IMWRITE_JPEG_QUALITY, quality)


def webp(img, quality=75):
    """One WebP encode/decode of an RGB crop at `quality` (the GPU machine's packed crops, 75), its
    outside-the-image padding kept pure black."""
    out = recode(img, ".webp", cv2.IMWRITE_WEBP_QUALITY, quality)
    inside = has_content(img)
    out[~inside] = 0
    out[inside & ~has_content(out)] = 1  # a photo pixel WebP took to pure black is not padding
    return out


# ---------------------------------------------------------------- SBI source/target transforms


def colour_shift(img, rng, rgb=20, hsv=(4, 12, 12), bc=0.1, p_rgb=0.3):
    """RGB shift (probability `p_rgb`), hue/saturation/value shift, brightness and contrast."""
    x = img.astype(np.float32)
    if rng.random() < p_rgb:
        x += rng.uniform(-rgb, rgb, 3)
    hsv_img = cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv_img[..., 0] = (hsv_img[..., 0] + rng.uniform(-hsv[0], hsv[0])) % 180
    hsv_img[..., 1] += rng.uniform(-hsv[1], hsv[1])
    hsv_img[..., 2] += rng.uniform(-hsv[2], hsv[2])
    x = cv2.cvtColor(np.clip(hsv_img, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    x = x * (1 + rng.uniform(-bc, bc)) + 255 * rng.uniform(-bc, bc)
    return np.clip(x, 0, 255).astype(np.uint8)


def downscale_or_sharpen(img, rng):
    """SBI: either down-scale by 2 or 4 (nearest) and back up (linear), or sharpen."""
    if rng.random() < 0.5:
        return resample(img, img.shape[0] // int(rng.choice([2, 4])), down=cv2.INTER_NEAREST)
    # albumentations' Sharpen(alpha=(0.2, 0.5), lightness=(0.5, 1.0)), as in SBI's code
    alpha, light = rng.uniform(0.2, 0.5), rng.uniform(0.5, 1.0)
    effect = np.array([[-1, -1, -1], [-1, 8 + light, -1], [-1, -1, -1]], np.float32)
    identity = np.zeros((3, 3), np.float32)
    identity[1, 1] = 1
    return cv2.filter2D(img, -1, (1 - alpha) * identity + alpha * effect)


def source_transform(img, rng):
    return downscale_or_sharpen(colour_shift(img, rng), rng)


def random_affine(img, mask, rng):
    """SBI's source affine: shift x by up to 3%, y by 1.5%, scale 0.95-1.053, image and mask."""
    size = img.shape[0]
    s = rng.uniform(0.95, 1 / 0.95)
    tx, ty = rng.uniform(-0.03, 0.03) * size, rng.uniform(-0.015, 0.015) * size
    m = np.array([[s, 0, (1 - s) * size / 2 + tx], [0, s, (1 - s) * size / 2 + ty]], np.float32)
    img = cv2.warpAffine(img, m, (size, size), borderMode=cv2.BORDER_REFLECT)
    mask = cv2.warpAffine(mask, m, (size, size), borderMode=cv2.BORDER_CONSTANT)
    return img, mask


def align_to(src_img, src_lm, dst_lm, rng=None, jitter=0.0):
    """Warps `src_img` so that its 68 landmarks land on `dst_lm` (least-squares similarity), with
    an optional random scale/rotation jitter about the landmarks' centre. Returns the warped image
    and where it holds image content (1) rather than padding or outside pixels (0)."""
    m, _ = cv2.estimateAffinePartial2D(src_lm, dst_lm)
    if m is None:
        m = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
    if rng is not None and jitter > 0:
        c = dst_lm.mean(0)
        j = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), rng.uniform(-8, 8) * jitter,
                                    1 + rng.uniform(-0.08, 0.08) * jitter)
        m = np.vstack([j, [0, 0, 1]]) @ np.vstack([m, [0, 0, 1]])
        m = m[:2]
    size = src_img.shape[0]
    content = has_content(src_img).astype(np.uint8)
    return (cv2.warpAffine(src_img, m, (size, size), borderMode=cv2.BORDER_REFLECT),
            cv2.warpAffine(content, m, (size, size), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT))


def degrade_region(img, rng):
    """A pasted region's own history: another JPEG quality, noise or resampling."""
    kind = rng.integers(3)
    if kind == 0:
        return jpeg(img, int(rng.integers(30, 90)))
    if kind == 1:
        return np.clip(img + rng.normal(0, rng.uniform(2, 6), img.shape), 0, 255).astype(np.uint8)
    return resample(img, int(img.shape[0] * rng.uniform(0.4, 0.8)), up=cv2.INTER_CUBIC)


# ---------------------------------------------------------------- global augmentation (real and fake alike)


def h264_intra(images, qp):
    """Each image through one intra-only H.264 encode/decode (libx264, yuv420p, constant quantiser
    `qp`, so equal frames encode equally) with ffmpeg: the compression most fakes users meet.
    Returns the images unchanged if ffmpeg fails on them."""
    h, w = images[0].shape[:2]
    enc = ["ffmpeg", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "-",
           "-c:v", "libx264", "-preset", "veryfast", "-qp", str(qp), "-g", "1", "-pix_fmt", "yuv420p", "-f", "h264", "-"]
    dec = ["ffmpeg", "-loglevel", "error", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    try:
        bitstream = subprocess.run(enc, input=np.ascontiguousarray(np.stack(images)).tobytes(),
                                   capture_output=True, check=True).stdout
        raw = subprocess.run(dec, input=bitstream, capture_output=True, check=True).stdout
        out = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
        if len(out) == len(images):
            return [np.array(o) for o in out]
    except (OSError, subprocess.CalledProcessError):
        pass
    return images


def h264_codec(kind="auto"):
    """The H.264 augmentation: `h264_intra` where ffmpeg is installed and `kind` is "auto",
    else `h264_stand_in` (kind "jpeg", or a machine without ffmpeg, as a lent GPU machine)."""
    return h264_intra if kind == "auto" and shutil.which("ffmpeg") else h264_stand_in


def h264_stand_in(images, qp):
    """JPEG (4:2:0 chroma, as H.264's) at a quality falling from 90 at QP 20 to 40 at QP 40: a
    block codec of about the strength `h264_intra` would apply, for machines without ffmpeg."""
    return [jpeg(x, int(round(90 - 2.5 * (qp - 20)))) for x in images]


def jitter_alignment(images, target, rng, amount):
    """The same small similarity transform applied to every image of `images` (a real and its
    fake) and to the boundary `target`: a shift of up to `amount` of the crop size on each axis, a
    scale of 1 +- `amount` and a rotation of up to 100 * `amount` / 2 degrees. It stands for the
    detector's landmark noise: at inference the crop of a face moves by 1-3% of its size from
    frame to frame, or when the picture moves by two pixels."""
    size = images[0].shape[0]
    angle = rng.uniform(-50, 50) * amount
    scale = 1 + rng.uniform(-amount, amount)
    shift = rng.uniform(-amount, amount, 2) * size
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    m[:, 2] += shift
    warp = lambda x: cv2.warpAffine(x, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    # The same transform in map pixels: map pixel v is centred on crop pixel (v + 0.5) / k - 0.5.
    k = target.shape[0] / size
    mt = m.copy()
    mt[:, 2] = k * m[:, 2] + 0.5 * (1 - k) * (m[:, :2].sum(1) - 1)
    target = cv2.warpAffine(target, mt, target.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return [np.ascontiguousarray(warp(x)) for x in images], np.ascontiguousarray(target)


def global_augment(images, rng, h264=h264_intra):
    """The same random augmentation applied to every image of `images` (a real and its fake);
    `h264`: the codec of the H.264 branch (`h264_codec`)."""
    size = images[0].shape[0]
    ops = []
    if rng.random() < 0.3:
        ops.append(lambda x, s=rng.uniform(-20, 20, 3): np.clip(x + s, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        b, c = rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)
        ops.append(lambda x: np.clip((x.astype(np.float32) - 128) * (1 + c) + 128 + 255 * b * 0.3, 0, 255).astype(np.uint8))
    if rng.random() < 0.25:
        # Global sharpening: the training photos are small and soft, users' photos often sharp;
        # sharpness itself must not read as "fake", only a mismatch inside the face.
        sigma, amount = rng.uniform(0.8, 2.0), rng.uniform(0.3, 1.5)
        ops.append(lambda x: cv2.addWeighted(x, 1 + amount, cv2.GaussianBlur(x, (0, 0), sigma), -amount, 0))
    if rng.random() < 0.3:
        # Faces in videos and group photos are often 40-80 px, upscaled into the crop.
        f = np.exp(rng.uniform(np.log(0.25), np.log(0.9)))
        n = max(8, int(size * f))
        ops.append(lambda x: resample(x, n))
    if rng.random() < 0.15:
        sigma = rng.uniform(0.4, 1.2)
        ops.append(lambda x: cv2.GaussianBlur(x, (0, 0), sigma))
    if rng.random() < 0.1:
        noise = rng.normal(0, rng.uniform(1, 4), images[0].shape)
        ops.append(lambda x: np.clip(x + noise, 0, 255).astype(np.uint8))
    out = []
    for x in images:
        for op in ops:
            x = op(x)
        out.append(np.ascontiguousarray(x))
    r = rng.random()
    if r < 0.2:
        out = h264(out, int(rng.integers(20, 41)))
    elif r < 0.7:
        q = int(rng.integers(40, 101))
        out = [jpeg(x, q) for x in out]
    return out


# ---------------------------------------------------------------- sample generator


# Share of face swap blends whose source goes through `source_transform` (the recipe's since v3;
# `swap_transform` raises it).
SWAP_TRANSFORM = 0.3


class PseudoFakeGenerator:
    """Makes (real, fake) pairs with their boundary targets from real crops, deterministically
    per seed."""

    def __init__(self, images, landmarks, lm68, map_size, neighbours=None, p_beautify=0.2,
                 kinds=(0.6, 0.2, 0.2), align_jitter=0.0, h264=None, poisson=0.0, poisson_faces=0.0,
                 self_parts=0.0, swap_transform=SWAP_TRANSFORM, pre_webp=0.0, smooth_faces=0.0):
        self.images = images
        self.landmarks = landmarks
        self.lm68 = lm68
        self.size = images.shape[1]
        self.map_size = map_size
        self.neighbours = neighbours
        self.p_beautify = p_beautify
        self.kinds = np.asarray(kinds, np.float64) / np.sum(kinds)
        self.align_jitter = align_jitter
        self.h264 = h264 or h264_codec()
        self.poisson = poisson
        self.poisson_faces = poisson_faces
        self.self_parts = self_parts
        self.swap_transform = swap_transform
        self.pre_webp = pre_webp
        self.smooth_faces = smooth_faces

    def boundary(self, mask):
        b = 4 * mask * (1 - mask)
        return cv2.resize(b, (self.map_size, self.map_size), interpolation=cv2.INTER_AREA)

    def _other(self, idx, rng):
        if self.neighbours is None:
            return idx
        return int(rng.choice(self.neighbours[idx]))

    def make_fake(self, base, idx, rng, side=None, crop=None):
        """Returns (real, fake, mask) made from `base` (crop `idx`, possibly beautified). The real
        is `base` itself, or, when a self-blend transformed its target, that target (as in SBI's
        code: the pair then differs only inside the mask). `side` draws whether a fake is pasted
        in the gradient domain, whether a part composite's parts are its own, whether a swap
        blend's face is transformed above the default share and whether a face is smoothed (a
        stream of its own, so that `poisson`, `poisson_faces`, `self_parts` and `smooth_faces` 0
        and `swap_transform` at its default leave every other draw as it was; default: `rng`).
        `crop(j)`: crop j as the pair reads it (default: as stored)."""
        side = rng if side is None else side
        crop = crop or self.images.__getitem__
        lm = self.lm68[idx]
        inside = has_content(self.images[idx])
        content = inside.astype(np.uint8)
        kind = rng.choice(3, p=self.kinds)
        pasted = False  # a part composite pasted in the gradient domain (drawn below)
        if kind == 0:
            src, tgt = base.copy(), base.copy()
            if rng.random() < 0.5:
                src = source_transform(src, rng)
            else:
                tgt = source_transform(tgt, rng)
            mask = masks.blend_mask(lm, self.size, rng)
            src, mask = random_affine(src, mask, rng)
            base = tgt
        else:
            # Another face of similar pose, aligned on the 68 landmarks (part composites with a
            # scale/rotation jitter); blending stays where both crops hold image content.
            other = self._other(idx, rng)
            src, src_content = align_to(crop(other), self.lm68[other], lm,
                                        rng, jitter=0.0 if kind == 1 else 1.0)
            content &= src_content
        if kind == 1:
            mask = masks.blend_mask(lm, self.size, rng)
            if rng.random() < 0.8:
                src = match_color(src, base, mask)
            if rng.random() < min(self.swap_transform, SWAP_TRANSFORM):
                src = source_transform(src, rng)
            elif (self.swap_transform > SWAP_TRANSFORM
                  and side.random() < (self.swap_transform - SWAP_TRANSFORM) / (1 - SWAP_TRANSFORM)):
                # Above the default share: the further ones drawn on the side stream.
                src = source_transform(src, side)
        if kind != 2 and self.smooth_faces > 0 and side.random() < self.smooth_faces:
            # A generated face (an autoencoder's, as live face-swap tools paste): smooth skin
            # with sharp features, pasted into a frame that keeps its texture and noise.
            src = smooth_skin(src, side)
        if kind == 2:
            pasted = self.poisson > 0 and side.random() < self.poisson
            if self.self_parts > 0 and side.random() < self.self_parts:
                # The face's own parts, transformed and shifted as a self-blend's source.
                src, _ = random_affine(source_transform(base.copy(), side), content.astype(np.float32), side)
            mask = masks.elastic(masks.parts(lm, self.size, rng), rng)
            sigma = rng.uniform(1.0, 0.03 * self.size)
            mask = cv2.GaussianBlur(mask, (0, 0), sigma)
            mask = mask / max(float(mask.max()), 1e-6)
            src = match_color(src, base, mask)
            if rng.random() < 0.7:
                src = degrade_region(src, rng)
        # Blend only where both faces have image content, a few pixels away from any
        # outside-the-image padding: a smeared padding edge would be a cue that real photos with
        # padded crops (faces near the photo's edge) would trip.
        valid = cv2.erode(content, np.ones((11, 11), np.uint8)).astype(np.float32)
        mask = (mask * cv2.GaussianBlur(valid, (0, 0), 2.0)).astype(np.float32)
        if pasted:
            fake = poisson_paste(src, base, mask)
        else:
            if kind != 2 and self.poisson_faces > 0 and side.random() < self.poisson_faces:
                # "Seamless" merge: the face pasted in the gradient domain where the mask is over
                # half its peak (blend ratios below 1 too), then feathered in through the mask.
                src = poisson_paste(src, base, mask / max(float(mask.max()), 1e-6))
            m3 = mask[..., None]
            fake = np.clip(src.astype(np.float32) * m3 + base.astype(np.float32) * (1 - m3) + 0.5, 0, 255).astype(np.uint8)
        # Outside-the-image padding (pure black, from the crop policy) stays pure black, so that
        # a tinted border is never a cue.
        fake[~inside] = 0
        return base, fake, mask

    def pair(self, idx, seed):
        """(real, fake, fake_target): a real crop and a fake made from it, both through the same
        global augmentation; the real's target is all zeros."""
        rng = np.random.default_rng(seed)
        # Video-like pairs: every crop the pair reads goes through WebP first (smoother, its
        # noise and JPEG blocks gone, as in a decoded stream), real and fake alike; drawn on a
        # stream of its own, so that every other draw stays as it was.
        smooth = self.pre_webp > 0 and np.random.default_rng([*np.atleast_1d(seed), 2]).random() < self.pre_webp
        crop = (lambda j: webp(self.images[j])) if smooth else self.images.__getitem__
        base = crop(idx)
        if rng.random() < self.p_beautify:
            base = beautify(base, self.landmarks[idx], rng)
        base, fake, mask = self.make_fake(base, idx, rng, side=np.random.default_rng([*np.atleast_1d(seed), 1]),
                                          crop=crop)
        target = self.boundary(mask)
        if rng.random() < 0.5:
            base, fake, target = base[:, ::-1], fake[:, ::-1], target[:, ::-1]
        if self.align_jitter > 0:
            (base, fake), target = jitter_alignment([np.ascontiguousarray(base), np.ascontiguousarray(fake)],
                                                    np.ascontiguousarray(target, dtype=np.float32), rng,
                                                    self.align_jitter)
        real, fake = global_augment([np.ascontiguousarray(base), np.ascontiguousarray(fake)], rng, self.h264)
        return real, fake, np.ascontiguousarray(target, dtype=np.float32)


def pose_neighbours(landmarks, k=24):
    """Indices of the k crops with the nearest landmark layout (similar pose) for each crop."""
    from sklearn.neighbors import NearestNeighbors

    flat = landmarks.reshape(len(landmarks), -1)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(flat)
    _, idx = nn.kneighbors(flat)
    return idx[:, 1:]
