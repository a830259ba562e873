"""Does int8 keep the shipped classifier's verdicts? ONNX Runtime's static quantisation (QDQ,
per-channel int8 weights, uint8 activations calibrated on training crops) of the classifier in
models/, scored against the float32 graph on every dev crop with ONNX Runtime (one thread), with
the time per crop of each.

    .venv/bin/python quantize_check.py --calibrate 256

The issue's bar for a quantised model: scores within 0.01 of float32 on the dev crops, and the dev
AUCs unchanged. Writes the int8 model to work/ (not to models/).
"""
import argparse
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from facetell_train import dev
from facetell_train.data import load_crops, to_tensor
from facetell_train.manifest import REPO, load


def float32_graph(path, out):
    """The shipped graph with its float16-stored weights turned back into float32 constants (the
    values are the same; export.py stores them as float16 with a Cast)."""
    model = onnx.load(str(path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    keep = []
    for node in graph.node:
        if node.op_type == "Cast" and node.input[0] in inits and node.input[0].endswith("_f16"):
            w = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
            inits[node.input[0]].CopyFrom(numpy_helper.from_array(w, node.output[0]))
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    onnx.save(model, str(out))


class Crops(CalibrationDataReader):
    def __init__(self, images, batch=16):
        self.batches = iter([to_tensor(images[i:i + batch]) for i in range(0, len(images), batch)])

    def get_next(self):
        x = next(self.batches, None)
        return None if x is None else {"crop": x}


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def logits(sess, images, batch=32):
    return np.concatenate([sess.run(None, {"crop": to_tensor(images[i:i + batch])})[0]
                           for i in range(0, len(images), batch)])


def ms_per_crop(sess, images, runs=20):
    x = to_tensor(images[:1])
    sess.run(None, {"crop": x})
    start = time.perf_counter()
    for _ in range(runs):
        sess.run(None, {"crop": x})
    return (time.perf_counter() - start) / runs * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--calibrate", type=int, default=256, help="training crops for calibration")
    p.add_argument("--train", default="work/crops_train")
    p.add_argument("--dev", default="work/crops_dev")
    a = p.parse_args()

    name = load()["classifier"]["file"]
    f32, pre, q8 = (REPO / "training" / "work" / f"{name}.{k}.onnx" for k in ("f32", "pre", "int8"))
    float32_graph(REPO / "models" / name, f32)
    quant_pre_process(str(f32), str(pre), skip_symbolic_shape=True)
    images, _, _ = load_crops(a.train)
    pick = np.random.default_rng(0).choice(len(images), a.calibrate, replace=False)
    quantize_static(str(pre), str(q8), Crops(images[np.sort(pick)]), quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)

    sets = dev.load(a.dev)
    sessions = {"float32": session(f32), "int8": session(q8)}
    scored = {k: {n: logits(s, images) for n, (images, _, _) in sets.items()} for k, s in sessions.items()}
    probe = next(iter(sets.values()))[0]
    for k, s in sessions.items():
        print(k, {"ms_per_crop_1_thread": round(ms_per_crop(s, probe), 1), **dev.metrics(scored[k], sets)})
    sig = lambda x: 1 / (1 + np.exp(-x))
    diffs = np.concatenate([np.abs(sig(scored["int8"][n]) - sig(scored["float32"][n])) for n in sets])
    print(f"int8 vs float32 over {len(diffs)} dev crops: max abs score diff {diffs.max():.4f}, "
          f"median {np.median(diffs):.4f}, share over 0.01 {np.mean(diffs > 0.01):.3f}")


if __name__ == "__main__":
    main()
