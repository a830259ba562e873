#!/bin/sh
# Trains on a lent GPU machine (the `device` tool), from the repository root there, with the
# crops and weight packages of ../devpack (pack_for_device.py) carried along:
#
#   sh training/device_train.sh --arch mobilenet_v2,efficientnet_lite0 --epochs 6 --fit-seconds 380 ...
#
# The generator runs on the machine's cores (one worker per core but two), the networks on its
# GPU. The last KEEP (3) epochs of each network (`ARCH-epochN.pt`, weights stored as float16 so
# that they fit in the 64 MiB that come back; they load into the float32 networks, and export.py
# rounds to float16 anyway) and the log come back in $OUT; score them here with ensemble.py.
# Locally (a smoke test): DEVICE=cpu OUT=/tmp/x PYTHON=training/.venv/bin/python sh
# training/device_train.sh --limit 100 ...
set -u
: "${OUT:?OUT must name the folder that comes back}"
cores=$(nproc --all)  # before OMP_NUM_THREADS, which nproc obeys
workers=$(( cores > 3 ? cores - 2 : 1 ))
export PYTHONPATH="$PWD/devpack/site" OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
case $python in */*) python="$PWD/$python" ;; esac
rm -rf /tmp/device_run /tmp/devpack
"$python" -m zipfile -e devpack/crops.zip /tmp/devpack || exit 1
cd training || exit 1
timeout "${TRAIN_TIMEOUT:-480}" "$python" train.py --crops /tmp/devpack/crops --dev '' --device "${DEVICE:-cuda}" \
    --workers "$workers" --keep-epochs --out /tmp/device_run "$@" 2>&1 | tee "$OUT/train.log"
"$python" -c '
import pathlib, sys
import torch
out, keep, run = pathlib.Path(sys.argv[1]), int(sys.argv[2]), pathlib.Path("/tmp/device_run")
for d in [run] + sorted(p for p in run.iterdir() if p.is_dir()):
    for f in sorted(d.glob("epoch*.pt"), key=lambda f: int(f.stem[5:]))[-keep:]:
        ck = torch.load(f, map_location="cpu", weights_only=False)
        ck["model"] = {k: v.half() if v.is_floating_point() else v for k, v in ck["model"].items()}
        arch = ck["arch"]
        torch.save(ck, out / f"{arch}-{f.name}")
' "$OUT" "${KEEP:-3}"
ls -la "$OUT"
