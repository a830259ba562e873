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
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from scipy.special import expit

from facetell_train import dev
from facetell_train.data import load_crops, to_tensor
from facetell_train.manifest import REPO, load
from facetell_train.onnx_f16 import weights_as_float32


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
    weights_as_float32(REPO / "models" / name, f32)
    quant_pre_process(str(f32), str(pre), skip_symbolic_shape=True)
    train_images, _, _ = load_crops(a.train)
    pick = np.random.default_rng(0).choice(len(train_images), a.calibrate, replace=False)
    quantize_static(str(pre), str(q8), Crops(train_images[np.sort(pick)]), quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)

    sets = dev.load(a.dev)
    sessions = {"float32": session(f32), "int8": session(q8)}
    scored = {k: {n: logits(s, images) for n, (images, _, _) in sets.items()} for k, s in sessions.items()}
    probe = next(iter(sets.values()))[0]
    for k, s in sessions.items():
        print(k, {"ms_per_crop_1_thread": round(ms_per_crop(s, probe), 1), **dev.metrics(scored[k], sets)})
    diffs = np.concatenate([np.abs(expit(scored["int8"][n]) - expit(scored["float32"][n])) for n in sets])
    print(f"int8 vs float32 over {len(diffs)} dev crops: max abs score diff {diffs.max():.4f}, "
          f"median {np.median(diffs):.4f}, share over 0.01 {np.mean(diffs > 0.01):.3f}")


if __name__ == "__main__":
    main()
