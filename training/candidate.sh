#!/bin/sh
# Scores a candidate checkpoint through the product, as it would ship, without touching models/:
# exports it (float16, as export.py ships it) into target/cand_NAME beside a copy of the manifest
# and the detector, runs `facetell eval` on every dev set with its records kept in
# work/dev_records_NAME.jsonl, and compares those with the shipped model's records by the paired
# rule ("Paired intervals" in README.md).
#
#   sh candidate.sh NAME CKPT [SHIPPED_RECORDS]
#   sh candidate.sh ownparts12 work/ownparts12/epoch4.pt work/dev_records_v12.jsonl
#
# Needs target/release/facetell (make setup && cargo build --release); about 90 s on 2 cores.
set -eu
cd "$(dirname "$0")"
[ $# -ge 2 ] || { echo "usage: sh candidate.sh NAME CKPT [SHIPPED_RECORDS]" >&2; exit 2; }
name=$1 ckpt=$2 shipped=${3:-}
dir=../target/cand_$name
rm -rf "$dir" && mkdir -p "$dir"
cp ../models/manifest.toml ../models/centerface.onnx "$dir"/
.venv/bin/python export.py --ckpt "$ckpt" --name "facetell-mnv2-224-$name" --models "$dir"
../target/release/facetell eval --labels ../../shared/data/dev/labels.csv --root ../../shared/data \
    --models "$dir" --records "work/dev_records_$name.jsonl" | tee "work/eval_$name.txt"
if [ -n "$shipped" ]; then
    .venv/bin/python compare_dev.py "$shipped" "work/dev_records_$name.jsonl" | grep -v '^{' \
        | tee "work/compare_$name.log"
fi
