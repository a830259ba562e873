"""Dev scores of checkpoints alone and of every average of two or more of them, on the dev crops
(dev.py's sets and mean).

    python ensemble.py work/run_v3/best.pt work/run_mnv2/best.pt

The average is of the fake logits and of the boundary maps (`model.Average`), so an ensemble
exports as one ONNX graph (`export.py --ckpt A --ckpt B`) that facetell runs unchanged; here each
model scores the crops once and the averages are of those logits. Each model's time per crop at
batch 1 on one thread is printed too: an ensemble costs the sum.

    python ensemble.py --soup work/soup.pt work/device4/mobilenet_v2-epoch6.pt work/device4/mobilenet_v2-epoch7.pt

`--soup OUT` also averages the checkpoints' weights (one network of one architecture, at one
network's cost: a "model soup"), writes it as a checkpoint that export.py takes and scores it.
"""
import argparse
import copy
import itertools
import json
import time

import numpy as np
import torch

from facetell_train import dev
from facetell_train.model import as_shipped, load_checkpoint


def per_crop_ms(model, size, runs=20):
    torch.set_num_threads(1)
    x = torch.zeros(1, 3, size, size).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        model(x)
        start = time.perf_counter()
        for _ in range(runs):
            model(x)
    torch.set_num_threads(2)
    return (time.perf_counter() - start) / runs * 1e3


def soup(loaded, paths, out):
    """The model whose weights (and batch-norm statistics) are the mean of the loaded ones';
    saved to `out` as a checkpoint of the first one's architecture and arguments."""
    archs = {ckpt["arch"] for _, ckpt in loaded}
    assert len(archs) == 1, f"a soup needs one architecture, got {sorted(archs)}"
    states = [model.state_dict() for model, _ in loaded]
    mean = {k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype)
            if v.is_floating_point() else v for k, v in states[0].items()}
    model = copy.deepcopy(loaded[0][0])
    model.load_state_dict(mean)
    first = loaded[0][1]
    torch.save({**first, "model": mean, "soup_of": list(paths)}, out)
    return model.eval()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ckpts", nargs="+")
    p.add_argument("--dev", default="work/crops_dev")
    p.add_argument("--as-shipped", action="store_true",
                   help="score each model as export.py ships it (float16 weights)")
    p.add_argument("--soup", metavar="OUT",
                   help="also write the average of the checkpoints' weights to OUT and score it")
    a = p.parse_args()
    sets = dev.load(a.dev)
    size = next(iter(sets.values()))[0].shape[1]
    loaded = [load_checkpoint(c) for c in a.ckpts]
    models = [m for m, _ in loaded]
    names = list(a.ckpts)
    if a.soup:
        models.append(soup(loaded, a.ckpts, a.soup))
        names.append(f"soup of {len(a.ckpts)} ({a.soup})")
    if a.as_shipped:
        models = [as_shipped(m, size) for m in models]
    models = [m.to(memory_format=torch.channels_last) for m in models]
    logits = []
    for path, model in zip(names, models):
        logits.append({name: dev.scores(model, images) for name, (images, _, _) in sets.items()})
        print(json.dumps({"model": path, "ms_per_crop_1_thread": round(per_crop_ms(model, size), 1),
                          **dev.metrics(logits[-1], sets)}), flush=True)
    for k in range(2, len(models) + 1):
        for group in itertools.combinations(range(len(models)), k):
            mean = {name: np.mean([logits[i][name] for i in group], axis=0) for name in sets}
            print(json.dumps({"model": " + ".join(names[i] for i in group),
                              **dev.metrics(mean, sets)}), flush=True)


if __name__ == "__main__":
    main()
