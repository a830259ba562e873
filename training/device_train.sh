#!/bin/sh
# Trains on a lent GPU machine (the `device` tool), from the repository root there, with the
# crops and weight packages of ../devpack (pack_for_device.py) carried along:
#
#   sh training/device_train.sh --arch mobilenet_v2,efficientnet_lite0 --epochs 6 --fit-seconds 380 ...
#
# The generator runs on the machine's cores (one worker per core but two), the networks on its
# GPU. The last two epochs' weights of each network (`ARCH-epochN.pt`) and the log come back
# in $OUT; score them here with ensemble.py. Locally (a smoke test): DEVICE=cpu OUT=/tmp/x
# PYTHON=training/.venv/bin/python sh training/device_train.sh --limit 100 ...
set -u
: "${OUT:?OUT must name the folder that comes back}"
cores=$(nproc --all)  # before OMP_NUM_THREADS, which nproc obeys
workers=$(( cores > 3 ? cores - 2 : 1 ))
export PYTHONPATH="$PWD/devpack/site" OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
case $python in */*) python="$PWD/$python" ;; esac
rm -rf /tmp/device_run
cd training || exit 1
timeout "${TRAIN_TIMEOUT:-480}" "$python" train.py --crops ../devpack/crops --dev '' --device "${DEVICE:-cuda}" \
    --workers "$workers" --keep-epochs --out /tmp/device_run "$@" 2>&1 | tee "$OUT/train.log"
for run in /tmp/device_run/*/; do
    for f in $(ls "$run" | grep '^epoch' | sort -V | tail -2); do
        cp "$run/$f" "$OUT/$(basename "$run")-$f"
    done
done
ls -la "$OUT"
