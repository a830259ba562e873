#!/usr/bin/env bash
# Prints the path of an ONNX Runtime library for the ort backend (make ort, tests, benchmarks): the one
# in ONNX Runtime's Python wheel, installed on first use into target/ort-venv. Users of the
# feature point ORT_DYLIB_PATH at their own libonnxruntime.so instead.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/ort-venv
if ! ls "$venv"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* >/dev/null 2>&1; then
  if ! command -v python3 >/dev/null || ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    echo "python3-venv not found: installing it with apt-get" >&2
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv >/dev/null
  fi
  echo "facetell: downloading ONNX Runtime's Python wheel (onnxruntime 1.32.0, a 28 MB wheel, with numpy and its other dependencies, from PyPI) into $venv, once, for the ort backend's parity tests" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q onnxruntime==1.32.0 >&2
fi
realpath "$(ls "$venv"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -1)"
