"""Checks of the pseudo-fake generator: pairs hold a real and a fake from the same crop; masks,
labels and boundary targets agree; samples repeat from their seed; every hull-family mask covers
the face. Run by the project's test command (`make test`):

    training/.venv/bin/python training/test_data.py
"""
import numpy as np

from facetell_train import masks
from facetell_train.data import (PseudoFakeGenerator, fill_padding, global_augment, h264_intra, h264_stand_in, webp,
                                 jitter_alignment, poisson_paste)

SIZE, MAP = 96, 12


def canonical_68(size):
    """A plausible frontal 68-point layout (iBUG order) in a size x size aligned crop."""
    s = size / 224
    jaw = np.stack([np.linspace(52, 172, 17), 110 + 76 * np.sin(np.linspace(0.05, 0.95, 17) * np.pi)], 1)
    brow_r = np.stack([np.linspace(62, 102, 5), [92, 86, 84, 85, 88]], 1)
    brow_l = np.stack([np.linspace(122, 162, 5), [88, 85, 84, 86, 92]], 1)
    ridge = np.stack([[112] * 4, np.linspace(100, 126, 4)], 1)
    nostrils = np.stack([np.linspace(100, 124, 5), [134, 136, 137, 136, 134]], 1)
    ang = np.linspace(0, 2 * np.pi, 7)[:-1]
    eye_r = np.stack([87 + 12 * np.cos(ang + np.pi), 101 + 4 * np.sin(ang + np.pi)], 1)
    eye_l = np.stack([137 + 12 * np.cos(ang + np.pi), 101 + 4 * np.sin(ang + np.pi)], 1)
    ang12 = np.linspace(0, 2 * np.pi, 13)[:-1]
    mouth_o = np.stack([112 + 22 * np.cos(ang12 + np.pi), 155 + 9 * np.sin(ang12 + np.pi)], 1)
    ang8 = np.linspace(0, 2 * np.pi, 9)[:-1]
    mouth_i = np.stack([112 + 14 * np.cos(ang8 + np.pi), 155 + 4 * np.sin(ang8 + np.pi)], 1)
    pts = np.concatenate([jaw, brow_r, brow_l, ridge, nostrils, eye_r, eye_l, mouth_o, mouth_i])
    assert pts.shape == (68, 2)
    return (pts * s).astype(np.float32)


def synthetic_faces(n=16, size=SIZE, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(40, 220, (n, size, size, 3), dtype=np.uint8)
    template = np.array([[0.391, 0.439], [0.608, 0.438], [0.5, 0.562], [0.411, 0.689], [0.591, 0.688]])
    lms = np.repeat(template[None] * size, n, 0).astype(np.float32)
    lm68 = np.repeat(canonical_68(size)[None], n, 0)
    lm68 = lm68 + rng.normal(0, 0.5, lm68.shape).astype(np.float32)
    return images, lms, lm68


def generator(**kw):
    images, lms, lm68 = synthetic_faces()
    return images, PseudoFakeGenerator(images, lms, lm68, MAP, neighbours=np.tile(np.arange(16), (16, 1)), **kw)


def test_pairs_hold_a_real_and_a_fake_of_the_same_face():
    images, gen = generator()
    for i in range(40):
        real, fake, target = gen.pair(i % 16, seed=i)
        assert real.shape == fake.shape == (SIZE, SIZE, 3) and real.dtype == fake.dtype == np.uint8
        assert target.shape == (MAP, MAP)
        assert target.max() > 0.02, f"pair {i}: the fake has no blending boundary"
        diff = np.abs(real.astype(int) - fake.astype(int)).mean(-1)
        assert (diff > 2).any(), f"pair {i}: the fake equals its real"


def test_every_fake_kind_changes_the_face_inside_its_mask():
    images, lms, lm68 = synthetic_faces()
    # (kind, share of part composites pasted in the gradient domain, share of faces pasted, share
    # of part composites made of the face's own parts)
    for kind, poisson, faces, own in ((0, 0.0, 0.0, 0.0), (1, 0.0, 0.0, 0.0), (2, 0.0, 0.0, 0.0), (2, 1.0, 0.0, 0.0),
                                      (0, 0.0, 1.0, 0.0), (1, 0.0, 1.0, 0.0), (2, 0.0, 0.0, 1.0), (2, 1.0, 0.0, 1.0)):
        weights = np.eye(3)[kind]
        gen = PseudoFakeGenerator(images, lms, lm68, MAP, neighbours=np.tile(np.arange(16), (16, 1)), kinds=weights,
                                  poisson=poisson, poisson_faces=faces, self_parts=own)
        for seed in range(8):
            idx = seed % 16
            real, fake, mask = gen.make_fake(images[idx], idx, np.random.default_rng(seed))
            assert mask.max() > 0.2, f"kind {kind}: the blend must be visible somewhere"
            assert (mask < 1e-3).any(), f"kind {kind}: the mask must leave part of the crop untouched"
            changed = np.abs(fake.astype(int) - real.astype(int)).max(-1)
            assert changed[mask > 0.2].mean() > 1, f"kind {kind}: no change inside the mask"
            # Before global augmentation the pair is the same image outside the mask: the
            # manipulation is the only difference.
            assert changed[mask == 0].max() == 0, f"kind {kind}: change outside the mask"


def changed_fakes(before, after, pairs, seed):
    """How many of `pairs` fakes differ between two generators, checking that every real and
    boundary target is the same: an option drawn on a stream of its own changes only its fakes."""
    differ = 0
    for i in range(pairs):
        a, b = before.pair(i % 16, seed=(seed, i)), after.pair(i % 16, seed=(seed, i))
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[2], b[2]), f"pair {i}"
        differ += not np.array_equal(a[1], b[1])
    return differ


def test_gradient_domain_paste_changes_only_part_composites():
    images, lms, lm68 = synthetic_faces()
    nb = np.tile(np.arange(16), (16, 1))
    kinds = (0.5, 0.2, 0.3)
    feathered = PseudoFakeGenerator(images, lms, lm68, MAP, neighbours=nb, kinds=kinds)
    pasted = PseudoFakeGenerator(images, lms, lm68, MAP, neighbours=nb, kinds=kinds, poisson=1.0)
    differ = changed_fakes(feathered, pasted, 24, seed=4)
    assert 0 < differ < 24, f"{differ} of 24 fakes changed; part composites are 30% of them"
    # Pasted into a flat grey face, a flat brighter part takes the face's level at its edge:
    # no colour seam, unlike feathering.
    dst = np.full((SIZE, SIZE, 3), 100, np.uint8)
    src = np.full((SIZE, SIZE, 3), 180, np.uint8)
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[40:80, 50:100] = 1
    out = poisson_paste(src, dst, mask)
    assert np.abs(out.astype(int) - 100).max() <= 2
    assert np.array_equal(out[mask == 0], dst[mask == 0])


def test_own_parts_merged_faces_transformed_swaps_and_smoothed_faces_change_only_their_kind():
    images, lms, lm68 = synthetic_faces()
    # Neighbours are other faces, so that a part composite's own parts differ from the other's.
    nb = np.tile(np.arange(1, 17) % 16, (16, 1))
    parts, faces, swaps, not_swaps = (0.0, 0.0, 1.0), (0.5, 0.5, 0.0), (0.0, 1.0, 0.0), (0.5, 0.0, 0.5)
    # (option, its value, the kinds of fake it changes, the kinds it leaves alone)
    for option, value, changes, keeps in (("self_parts", 0.5, parts, faces), ("poisson_faces", 0.5, faces, parts),
                                          ("swap_transform", 1.0, swaps, not_swaps),
                                          ("smooth_faces", 0.5, faces, parts)):
        for kinds, lo, hi in ((changes, 1, 12), (keeps, 0, 1)):
            before = PseudoFakeGenerator(images, lms, lm68, MAP, neighbours=nb, kinds=kinds, poisson=0.5)
            after = PseudoFakeGenerator(images, lms, lm68, MAP, neighbours=nb, kinds=kinds, poisson=0.5,
                                        **{option: value})
            differ = changed_fakes(before, after, 12, seed=7)
            assert lo <= differ < hi, f"{option}, kinds {kinds}: {differ} of 12 fakes changed"


def test_webp_pairs_change_whole_pairs_and_keep_the_padding_black():
    images, lms, lm68 = synthetic_faces()
    nb = np.tile(np.arange(1, 17) % 16, (16, 1))
    before = PseudoFakeGenerator(images, lms, lm68, MAP, neighbours=nb, kinds=(0.3, 0.4, 0.3))
    after = PseudoFakeGenerator(images, lms, lm68, MAP, neighbours=nb, kinds=(0.3, 0.4, 0.3), pre_webp=0.5)
    smoothed = 0
    for i in range(16):
        a, b = before.pair(i, seed=(5, i)), after.pair(i, seed=(5, i))
        assert np.array_equal(a[2], b[2]), f"pair {i}: the boundary target must not move"
        same = np.array_equal(a[0], b[0])
        assert same == np.array_equal(a[1], b[1]), f"pair {i}: real and fake go through WebP together"
        smoothed += not same
    assert 2 <= smoothed <= 14, f"{smoothed} of 16 pairs through WebP, half expected"
    chip = images[0].copy()
    chip[:, :30] = 0
    out = webp(chip)
    assert out.shape == chip.shape and out.dtype == np.uint8
    assert (out[:, :30] == 0).all() and (out[:, 30:].max(-1) > 0).all(), "padding stays pure black, the photo not"


def test_hull_masks_cover_the_face():
    lm = canonical_68(SIZE)
    rng = np.random.default_rng(5)
    for hull in masks.HULLS:
        m = hull(lm, SIZE)
        assert m[int(lm[30, 1]), int(lm[30, 0])] == 1.0, f"{hull.__name__} misses the nose"
        assert m[2, 2] == 0.0, f"{hull.__name__} covers the corner"
    assert masks.extended(lm, SIZE).sum() > masks.components(lm, SIZE).sum(), "extended must reach the forehead"
    for _ in range(30):
        m = masks.blend_mask(lm, SIZE, rng)
        assert m.max() > 0.2
        cy, cx = np.argwhere(m > 0.1).mean(0)
        assert SIZE * 0.3 < cx < SIZE * 0.7 and SIZE * 0.3 < cy < SIZE * 0.8, (cx, cy)
        p = masks.parts(lm, SIZE, rng)
        assert 0 < p.sum() < masks.facehull(lm, SIZE).sum()


def test_samples_are_reproducible():
    _, gen = generator()
    a = gen.pair(3, seed=(1, 2, 3))
    b = gen.pair(3, seed=(1, 2, 3))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_global_augmentation_is_the_same_for_real_and_fake():
    images, _, _ = synthetic_faces()
    for seed in range(10):
        a, b = global_augment([images[0], images[0].copy()], np.random.default_rng(seed))
        assert np.array_equal(a, b), f"seed {seed}: a pair's two images were augmented differently"


def test_alignment_jitter_moves_a_pair_and_its_map_together():
    # A bright square in the crop and the same square in the boundary map: after the jitter the
    # real and the fake are still identical and the map has moved with them.
    cell = SIZE // MAP
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[4 * cell:8 * cell, 4 * cell:8 * cell] = 255
    target = np.zeros((MAP, MAP), np.float32)
    target[4:8, 4:8] = 1
    for seed in range(5):
        (a, b), t = jitter_alignment([image, image.copy()], target, np.random.default_rng(seed), 0.05)
        assert np.array_equal(a, b), "the real and its fake must move alike"
        assert not np.array_equal(a, image), "a jitter of 5% moves the crop"
        ys, xs = np.nonzero(a[..., 0] > 127)
        ty, tx = np.nonzero(t > 0.5)
        in_map_pixels = (np.array([ys.mean(), xs.mean()]) + 0.5) / cell - 0.5
        assert np.abs(in_map_pixels - [ty.mean(), tx.mean()]).max() < 0.5, (seed, in_map_pixels, ty.mean(), tx.mean())
    _, gen = generator(align_jitter=0.03)
    a = gen.pair(3, seed=(1, 2, 3))
    b = gen.pair(3, seed=(1, 2, 3))
    assert all(np.array_equal(x, y) for x, y in zip(a, b)), "jittered samples are reproducible"


def test_h264_round_trip_keeps_the_images():
    images, _, _ = synthetic_faces(2)
    smooth = [np.ascontiguousarray(np.broadcast_to(np.linspace(30, 220, SIZE)[None, :, None], (SIZE, SIZE, 3)).astype(np.uint8))] * 2
    out = h264_intra(smooth, 30)
    assert len(out) == 2 and out[0].shape == smooth[0].shape
    assert np.abs(out[0].astype(int) - smooth[0]).mean() < 6


def test_h264_stand_in_compresses_harder_at_higher_qp():
    images, _, _ = synthetic_faces(1)
    noisy = np.clip(images[0] + np.random.default_rng(0).normal(0, 12, images[0].shape), 0, 255).astype(np.uint8)
    err = [np.abs(h264_stand_in([noisy], qp)[0].astype(int) - noisy).mean() for qp in (20, 40)]
    assert 0 < err[0] < err[1], f"QP 20 must change the image less than QP 40: {err}"
    assert np.array_equal(*h264_stand_in([noisy, noisy], 30)), "equal frames stay equal"


def test_padding_is_filled_and_the_photo_kept():
    images, _, _ = synthetic_faces(1)
    chip = images[0].copy()
    chip[:, :30] = 0  # the crop window reached past the photo's left edge
    chip[:20] = 0
    filled = fill_padding(chip)
    assert (filled.max(-1) > 0).all(), "no pure-black pixel may stay: the generator reads it as padding"
    inner = (slice(28, None), slice(38, None))  # the photo, past the few pixels feathered in
    assert np.array_equal(filled[inner], chip[inner]), "the photo itself is unchanged"
    assert np.array_equal(fill_padding(images[0]), images[0]), "a crop without padding is unchanged"


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
