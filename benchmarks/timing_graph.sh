#!/usr/bin/env bash
# Time-to-result and peak memory of the graph models on one fold (paper protocol, fold 0,
# seed 0) of GDSC (gdsc-nihgcn) and CCLE (ccle-nihgcn), one model per process so that the
# peak RSS is the model's own.
# Run it on an otherwise idle machine:  bash benchmarks/timing_graph.sh  (about 25 min)
# Appends to benchmarks/results/timing_{gdsc,ccle}_nihgcn.jsonl (a finished line is never re-run),
# epochs_gdsc_nihgcn.jsonl and (REFERENCE_SCHEDULE=1) schedule_gdsc_nihgcn.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=benchmarks/results/timing_gdsc_nihgcn.jsonl
cv() { $PY benchmarks/bench_graph.py cv --dataset gdsc-nihgcn --split nihgcn-random --folds 5 \
         --only-folds 0 --seed 0 --out "$OUT" "$@"; }
cv_ccle() { $PY benchmarks/bench_graph.py cv --dataset ccle-nihgcn --split nihgcn-random --folds 5 \
              --only-folds 0 --seed 0 --out benchmarks/results/timing_ccle_nihgcn.jsonl "$@"; }
# drpkit defaults: early stopping on validation AUROC (patience 50), exact input compression
for model in nihgcn mtigcn hgacl; do cv --models "$model"; done
# the same with a refit on training + validation pairs for the selected epochs
for model in nihgcn mtigcn; do cv --models "$model" --params '{"trainer": {"refit": true}}'; done
# CCLE, with the paper's CCLE sizes for the NIHGCN family (512 / alpha 0.45)
cv_ccle --models hgacl
for model in nihgcn mtigcn; do cv_ccle --models "$model" --params '{"hidden": 512, "layers": [512], "alpha": 0.45}'; done
# a longer patience, alone and with the refit (MTIGCN keeps improving on validation after 50 stale epochs)
cv --models mtigcn --params '{"trainer": {"patience": 200}}'
cv --models mtigcn --params '{"trainer": {"patience": 200, "refit": true}}'
# the reference code's schedule: a fixed number of epochs (1,000 NIHGCN, 2,000 MTIGCN), the
# epoch still chosen on validation (never on test as upstream does), to check that early
# stopping loses no accuracy. About 20 min on 2 cores, so only with REFERENCE_SCHEDULE=1.
if [[ "${REFERENCE_SCHEDULE:-0}" == 1 ]]; then
for spec in "nihgcn 1000" "mtigcn 2000"; do
  set -- $spec
  $PY benchmarks/bench_graph.py cv --dataset gdsc-nihgcn --split nihgcn-random --folds 5 --only-folds 0 \
      --seed 0 --out benchmarks/results/schedule_gdsc_nihgcn.jsonl --models "$1" \
      --params "{\"trainer\": {\"max_epochs\": $2, \"patience\": 1000000}}"
done
fi
# seconds per epoch at the reference code's sizes (17,737 genes, 1024/1024), compression on/off;
# one JSON line per measurement (with the thread count) in epochs_gdsc_nihgcn.jsonl
$PY benchmarks/bench_graph.py epochs --genes 17737 --epochs 20 \
    --out benchmarks/results/epochs_gdsc_nihgcn.jsonl
