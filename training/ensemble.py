"""Dev scores of checkpoints alone and of every average of two or more of them, on the dev crops
(dev.py's sets and mean).

    python ensemble.py work/run_v3/best.pt work/run_mnv2/best.pt

The average is of the fake logits and of the boundary maps (`model.Average`), so an ensemble
exports as one ONNX graph (`export.py --ckpt A --ckpt B`) that facetell runs unchanged; here each
model scores the crops once and the averages are of those logits. Each model's time per crop at
batch 1 on one thread is printed too: an ensemble costs the sum.
"""
import argparse
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ckpts", nargs="+")
    p.add_argument("--dev", default="work/crops_dev")
    p.add_argument("--as-shipped", action="store_true",
                   help="score each model as export.py ships it (float16 weights)")
    a = p.parse_args()
    sets = dev.load(a.dev)
    size = next(iter(sets.values()))[0].shape[1]
    models = [load_checkpoint(c)[0] for c in a.ckpts]
    if a.as_shipped:
        models = [as_shipped(m, size) for m in models]
    models = [m.to(memory_format=torch.channels_last) for m in models]
    logits = []
    for path, model in zip(a.ckpts, models):
        logits.append({name: dev.scores(model, images) for name, (images, _, _) in sets.items()})
        print(json.dumps({"model": path, "ms_per_crop_1_thread": round(per_crop_ms(model, size), 1),
                          **dev.metrics(logits[-1], sets)}), flush=True)
    for k in range(2, len(models) + 1):
        for group in itertools.combinations(range(len(models)), k):
            mean = {name: np.mean([logits[i][name] for i in group], axis=0) for name in sets}
            print(json.dumps({"model": " + ".join(a.ckpts[i] for i in group),
                              **dev.metrics(mean, sets)}), flush=True)


if __name__ == "__main__":
    main()
