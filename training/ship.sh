#!/bin/sh
# Ships a candidate that candidate.sh measured and that passed the paired rule, reusing what it
# measured instead of measuring again:
#   - exports the checkpoint into models/ as facetell-mnv2-224-VERSION (several checkpoints: one
#     graph, facetell-ens-224-VERSION) and checks that the file is byte for byte the candidate's
#     (target/cand_NAME), so that the candidate's records are the shipped model's; removes the
#     file it replaces (git rm);
#   - copies the candidate's dev, beautified and fixture records as VERSION's (work/*_VERSION.jsonl)
#     and sets the manifest's threshold from them (choose_threshold.py, work/threshold_VERSION.log);
#   - checks parity (parity.py: PyTorch, onnxruntime and facetell within 1e-4; work/parity_VERSION.log).
#
#   sh ship.sh NAME CKPT[,CKPT...] VERSION      (several: an ensemble, as candidate.sh takes them)
#   sh ship.sh swaps14 work/swaps14/epoch4.pt v15
#
# Left by hand: the figures in README.md, models/MODEL_CARD.md, benches/README.md and this
# folder's README.md, then `FACETELL_BLESS=1 cargo test --release --all-targets` (goldens: check
# that no label changed) and a commit.
set -eu
cd "$(dirname "$0")"
[ $# -eq 3 ] || { echo "usage: sh ship.sh NAME CKPT[,CKPT...] VERSION" >&2; exit 2; }
name=$1 ckpts=$(echo "$2" | sed 's/^/--ckpt /; s/,/ --ckpt /g') version=$3
classifier_file() { sed -n '/^\[classifier\]/,$ s/^file = "\(.*\)"/\1/p' "$1" 2>/dev/null; }
# The file candidate.sh exported, named in its models folder's manifest (the name says one
# network or an ensemble).
candidate=../target/cand_$name/$(classifier_file "../target/cand_$name/manifest.toml")
for f in "$candidate" "work/dev_records_$name.jsonl" "work/beautified_records_$name.jsonl" "work/fixture_$name.jsonl"; do
    [ -f "$f" ] || { echo "no $f: run candidate.sh $name first" >&2; exit 2; }
done
old=$(classifier_file ../models/manifest.toml)
new=$(basename "$candidate" "-$name.onnx")-$version.onnx
.venv/bin/python export.py $ckpts --name "${new%.onnx}"
cmp "../models/$new" "$candidate" || { echo "models/$new differs from $candidate: measure it again (git checkout ../models undoes the export)" >&2; exit 1; }
[ "$old" = "$new" ] || git rm -q "../models/$old"
for kind in dev_records beautified_records fixture; do
    cp "work/${kind}_$name.jsonl" "work/${kind}_$version.jsonl"
done
.venv/bin/python choose_threshold.py --records "work/dev_records_$version.jsonl" --fpr 0.05 \
    --also-reals "work/beautified_records_$version.jsonl" | tee "work/threshold_$version.log"
.venv/bin/python fixture.py "work/fixture_$version.jsonl"
.venv/bin/python parity.py $ckpts --crops work/crops_dev/yonsei | tee "work/parity_$version.log"
