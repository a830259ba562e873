#!/usr/bin/env bash
# Training and dev crops through the product's own detection and alignment (`facetell crop`, the
# crop policy of models/manifest.toml), 68 landmarks for the training crops, and dev frames sampled
# from the dev videos with ffmpeg. Run from training/ after `cargo build --release`:
#
#     ./prepare_crops.sh [DATA] [WORK]      # defaults: ../../shared/data work
#
# Writes WORK/crops_train (+ landmarks68.npz) and WORK/crops_dev/{yonsei,lfw_swap,live_swap,ffpp}.
set -euo pipefail
data=${1:-../../shared/data}
work=${2:-work}
facetell=../target/release/facetell
export FACETELL_MODELS=${FACETELL_MODELS:-../models}
py=.venv/bin/python

"$facetell" crop "$data/train/lfw" "$data/train/utkface" --max-faces 1 --out "$work/crops_train"
"$py" landmarks68.py "$work/crops_train"

"$facetell" crop "$data/dev/yonsei" --max-faces 1 --out "$work/crops_dev/yonsei"
"$facetell" crop "$data/dev/lfw_swap" --max-faces 1 --out "$work/crops_dev/lfw_swap"

# Videos: live swaps at 3 frames/s, the FF++ pair at 2 frames/s, one folder per video.
frames="$work/dev_frames"
for label in real fake; do
  for v in "$data/dev/live_swap/$label"/*.mp4; do
    out="$frames/live_swap/$label/$(basename "$v" .mp4)"
    mkdir -p "$out"
    ffmpeg -loglevel error -y -i "$v" -vf fps=3 "$out/%04d.png"
  done
done
mkdir -p "$frames/ffpp/real/519" "$frames/ffpp/fake/519_515"
ffmpeg -loglevel error -y -i "$data/dev/video/519.mp4" -vf fps=2 "$frames/ffpp/real/519/%04d.png"
ffmpeg -loglevel error -y -i "$data/dev/video/519_515.mp4" -vf fps=2 "$frames/ffpp/fake/519_515/%04d.png"
"$facetell" crop "$frames/live_swap" --max-faces 1 --out "$work/crops_dev/live_swap"
"$facetell" crop "$frames/ffpp" --max-faces 1 --out "$work/crops_dev/ffpp"
