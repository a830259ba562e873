#!/usr/bin/env bash
# Builds and runs the pipe-vs-ffmpeg-next decoding benchmark (see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")"
if ! pkg-config --exists libavcodec libavformat libswscale || ! command -v clang >/dev/null; then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libavcodec-dev libavformat-dev \
    libavutil-dev libswscale-dev libavfilter-dev libavdevice-dev libclang-dev clang pkg-config >/dev/null
fi
../../scripts/ensure-ffmpeg.sh
# Shares the main target folder so facetell and tract are not compiled twice.
cargo run --release --target-dir ../../target -- "${@:-../../../shared/data/fixtures/video.mp4}"
