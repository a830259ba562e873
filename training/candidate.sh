#!/bin/sh
# Scores a candidate checkpoint through the product, as it would ship, without touching models/:
# exports it (float16, as export.py ships it) into target/cand_NAME beside a copy of the manifest
# and the detector, runs `facetell eval` on every dev set with its records kept in
# work/dev_records_NAME.jsonl and on the beautified dev reals, sets its own threshold in that copy
# of the manifest (5% of the dev reals and of the beautified ones), scans the real street fixture
# with it, and compares the dev records with the shipped model's by the paired rule ("Paired
# intervals" in README.md): every part of the rule, in one run.
#
#   sh candidate.sh NAME CKPT[,CKPT...] [SHIPPED_RECORDS]
#   sh candidate.sh ownparts12 work/ownparts12/epoch4.pt work/dev_records_v12.jsonl
#
# Several checkpoints, comma-separated, make one graph that averages their logits and maps
# (export.py's `--ckpt` repeated): an ensemble, at the cost of every network in it. CKPT `shipped`
# keeps the shipped classifier file as it is. The copy of the manifest keeps the shipped inner view
# ([crop.inner]), so a candidate is scored in the shipped pipeline; INNER="ZOOM CX,CY" sets another
# (inner_crops.py --set-manifest): faces large enough for it scored on two views.
#
#   INNER="1.8 0.5,0.6" sh candidate.sh inner18 shipped work/dev_records_v15.jsonl
#
# A candidate that passes ships with ship.sh, which reuses what this run measured.
#
# Needs target/release/facetell (make setup && cargo build --release); about 3 minutes on 2 cores.
set -eu
cd "$(dirname "$0")"
[ $# -ge 2 ] || { echo "usage: sh candidate.sh NAME CKPT[,CKPT...] [SHIPPED_RECORDS]" >&2; exit 2; }
name=$1 ckpts=$(echo "$2" | sed 's/^/--ckpt /; s/,/ --ckpt /g') prefix=facetell-mnv2-224 shipped=${3:-}
case "$2" in *,*) prefix=facetell-ens-224 ;; esac
dir=../target/cand_$name
rm -rf "$dir" && mkdir -p "$dir"
cp ../models/manifest.toml ../models/centerface.onnx "$dir"/
if [ "$2" = shipped ]; then
    cp ../models/"$(.venv/bin/python -c 'from facetell_train.manifest import load; print(load()["classifier"]["file"])')" "$dir"/
else
    .venv/bin/python export.py $ckpts --name "$prefix-$name" --models "$dir"
fi
if [ -n "${INNER:-}" ]; then
    set -- $INNER
    .venv/bin/python inner_crops.py --zoom "$1" --centre "$2" --set-manifest "$dir/manifest.toml"
fi
../target/release/facetell eval --labels ../../shared/data/dev/labels.csv --root ../../shared/data \
    --models "$dir" --records "work/dev_records_$name.jsonl" | tee "work/eval_$name.txt"
beautified=/tmp/facetell-beautified
[ -f $beautified/labels.csv ] || .venv/bin/python beautify_dev.py --out $beautified
../target/release/facetell eval --labels $beautified/labels.csv --root $beautified --models "$dir" \
    --records "work/beautified_records_$name.jsonl" > "work/eval_beautified_$name.txt"
.venv/bin/python choose_threshold.py --records "work/dev_records_$name.jsonl" --fpr 0.05 \
    --also-reals "work/beautified_records_$name.jsonl" --manifest "$dir/manifest.toml" \
    | tee "work/threshold_$name.log"
../target/release/facetell scan --models "$dir" --format jsonl ../../shared/data/fixtures/video.mp4 \
    > "work/fixture_$name.jsonl"
.venv/bin/python fixture.py "work/fixture_$name.jsonl"
if [ -n "$shipped" ]; then
    .venv/bin/python compare_dev.py "$shipped" "work/dev_records_$name.jsonl" | grep -v '^{' \
        | tee "work/compare_$name.log"
fi
