"""Checks of the pseudo-fake generator: label, mask and boundary target agree, and samples are
reproducible from their seed.

    training/.venv/bin/python training/test_data.py
"""
import numpy as np

from facetell_train.data import PseudoFakeGenerator, random_mask


def synthetic_faces(n=16, size=128, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(40, 220, (n, size, size, 3), dtype=np.uint8)
    template = np.array([[0.391, 0.439], [0.608, 0.438], [0.5, 0.562], [0.411, 0.689], [0.591, 0.688]])
    lms = np.repeat(template[None] * size, n, 0).astype(np.float32)
    return images, lms


def test_labels_masks_and_targets_agree():
    images, lms = synthetic_faces()
    gen = PseudoFakeGenerator(images, lms, 16, neighbours=np.tile(np.arange(16), (16, 1)))
    fakes = reals = 0
    for i in range(200):
        img, label, target = gen.sample(i % 16, seed=i)
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8
        assert target.shape == (16, 16)
        if label == 1.0:
            fakes += 1
            assert target.max() > 0.05, f"fake {i} has no blending boundary"
        else:
            reals += 1
            assert target.max() == 0.0, f"real {i} has a boundary target"
    assert 60 < fakes < 140 and reals > 60, (fakes, reals)


def test_fake_masks_are_partial_and_change_the_image():
    images, lms = synthetic_faces()
    gen = PseudoFakeGenerator(images, lms, 16)
    for seed in range(20):
        fake, mask = gen.make_fake(seed % 16, np.random.default_rng(seed))
        assert mask.max() > 0.3, "the blend must be visible somewhere"
        assert (mask < 1e-3).any(), "the mask must leave part of the crop untouched"
        assert not np.array_equal(fake, images[seed % 16])


def test_masks_cover_the_face_region():
    _, lms = synthetic_faces()
    rng = np.random.default_rng(5)
    for _ in range(50):
        m = random_mask(lms[0], 128, rng)
        cy, cx = np.argwhere(m > 0.1).mean(0)
        assert 30 < cx < 98 and 30 < cy < 110, (cx, cy)


def test_samples_are_reproducible():
    images, lms = synthetic_faces()
    gen = PseudoFakeGenerator(images, lms, 16)
    a = gen.sample(3, seed=(1, 2, 3))
    b = gen.sample(3, seed=(1, 2, 3))
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
