"""A face's score against its own self-blends: does subtracting what the network says of a
blended copy of the same face take out the stream's own offset?

    python self_reference.py work/v15_onnx.pt

The live swaps rank their own real streams right (13 of 15 pairs) but rank videos across streams
poorly: a stream's look (blur, smoothness, light) moves every face in it. Each dev crop x gets K
self-blends made from x alone by the generator's own self-blend (`PseudoFakeGenerator.make_fake`:
source transform on one side, hull-family mask, SBI's affine), the same K draws for every face and the mask on the
training crops' mean 68 landmarks (the crop is aligned to a fixed template, so a product could do
the same without dlib). The self-referenced score is logit(x) - mean_k logit(SBI_k(x)): if a
stream adds the same offset to both, it cancels. Printed: the dev table (`dev.metrics`) of the
network's logit, of the score with K = 4 and with K = 1 (its first draw), then each against the
logit on the items selection uses, with the paired 95% interval (`compare_dev.py`'s rule).
"""
import argparse

import numpy as np

from facetell_train import dev
from facetell_train.data import PseudoFakeGenerator, h264_stand_in
from facetell_train.model import as_shipped, load_checkpoint


def self_blends(images, lm68):
    """The generator's self-blends (`PseudoFakeGenerator.make_fake` with self-blends only) of
    `images`, every one with the mask on `lm68`."""
    gen = PseudoFakeGenerator(images, None, np.broadcast_to(lm68, (len(images), *lm68.shape)), map_size=1,
                              kinds=(1, 0, 0), h264=h264_stand_in)
    return lambda seed: np.stack([gen.make_fake(x, i, np.random.default_rng(seed))[1]
                                  for i, x in enumerate(images)])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ckpt")
    p.add_argument("--dev", default="work/crops_dev")
    p.add_argument("--train", default="work/crops_train", help="crops whose mean 68 landmarks place the mask")
    p.add_argument("--k", type=int, default=4)
    a = p.parse_args()
    z = np.load(f"{a.train}/landmarks68.npz")
    lm68 = z["landmarks"].astype(np.float32).mean(0)
    sets = dev.load(a.dev)
    model = as_shipped(load_checkpoint(a.ckpt)[0])
    own, blended = {}, {}
    for name, (images, _, _) in sets.items():
        own[name] = dev.scores(model, images)
        blend = self_blends(images, lm68)
        blended[name] = np.stack([dev.scores(model, blend(k)) for k in range(a.k)])
        print(f"{name}: {len(images)} crops scored", flush=True)
    variants = {"network's logit": own,
                f"minus its {a.k} self-blends": {n: own[n] - blended[n].mean(0) for n in sets},
                "minus its first self-blend": {n: own[n] - blended[n][0] for n in sets},
                f"its {a.k} self-blends alone": {n: blended[n].mean(0) for n in sets}}
    dev.print_table([(v, dev.metrics(logits, sets)) for v, logits in variants.items()])
    for v in list(variants)[1:3]:
        print(f"\n{v}, against the network's logit (95% paired interval):")
        for name in sets:
            labels, base = dev.selection_items(name, own[name], sets)
            _, score = dev.selection_items(name, variants[v][name], sets)
            d, lo, hi = dev.paired_difference(labels, base, score)
            print(f"  {name:10s} {d:+.3f} ({lo:+.3f} to {hi:+.3f})")


if __name__ == "__main__":
    main()
