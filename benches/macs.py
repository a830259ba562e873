"""Multiply-accumulates of each network at the input sizes facetell runs it at, for the "limit on
paper" table in benches/README.md (counted by onnx-tool from the ONNX graphs in models/).

    target/bench-venv/bin/python benches/macs.py

Detector sizes are the canvases of the input-size policy (multiples of 32): a 600x600 portrait's
first pass (320x320, the only one it needs), and a 1080p frame's three passes (320x192, 640x384,
1280x736). The classifier runs once per face on one 224x224 crop.
"""
import pathlib
import tomllib

import numpy as np
import onnx_tool

MODELS = pathlib.Path(__file__).resolve().parents[1] / "models"

DETECTOR_SIZES = [("portrait pass", 320, 320), ("1080p pass 1", 192, 320), ("1080p pass 2", 384, 640),
                  ("1080p pass 3", 736, 1280)]


def gmacs(path, shape):
    model = onnx_tool.Model(str(path))
    name = model.graph.input[0]
    model.graph.shape_infer({name: np.zeros(shape, np.float32)})
    model.graph.profile()
    return float(np.sum(model.graph.macs)) / 1e9


def main():
    manifest = tomllib.loads((MODELS / "manifest.toml").read_text())
    print("| network | input | GMACs |")
    print("|---|---|---|")
    for what, h, w in DETECTOR_SIZES:
        print(f"| CenterFace, {what} | {w}x{h} | {gmacs(MODELS / manifest['detector']['file'], (1, 3, h, w)):.3f} |")
    c = manifest["classifier"]
    side = c["input_size"]
    print(f"| {c['name']}, one face | {side}x{side} | "
          f"{gmacs(MODELS / c['file'], (1, 3, side, side)):.3f} |")


if __name__ == "__main__":
    main()
