#!/usr/bin/env bash
# Time-to-result and peak memory of the graph models on one GDSC fold (gdsc-nihgcn, paper
# protocol, fold 0, seed 0), one model per process so that the peak RSS is the model's own.
# Run it on an otherwise idle machine:  bash benchmarks/timing_graph.sh  (about 12 min)
# Appends to benchmarks/results/timing_gdsc_nihgcn.jsonl (a finished line is never re-run).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=benchmarks/results/timing_gdsc_nihgcn.jsonl
cv() { $PY benchmarks/bench_graph.py cv --dataset gdsc-nihgcn --split nihgcn-random --folds 5 \
         --only-folds 0 --seed 0 --out "$OUT" "$@"; }
# drpkit defaults: early stopping on validation AUROC (patience 50), exact input compression
for model in nihgcn mtigcn hgacl; do cv --models "$model"; done
# the same with a refit on training + validation pairs for the selected epochs
for model in nihgcn mtigcn; do cv --models "$model" --params '{"trainer": {"refit": true}}'; done
# the reference code's schedule: a fixed number of epochs (1,000 NIHGCN, 2,000 MTIGCN), no
# compression, the epoch still chosen on validation (never on test as upstream does).
# About 50 min on 2 cores, so only with REFERENCE_SCHEDULE=1.
if [[ "${REFERENCE_SCHEDULE:-0}" == 1 ]]; then
cv --models nihgcn --params '{"compress_inputs": false, "trainer": {"max_epochs": 1000, "patience": 1000000}}'
cv --models mtigcn --params '{"compress_inputs": false, "trainer": {"max_epochs": 2000, "patience": 1000000}}'
fi
# seconds per epoch at the reference code's sizes (17,737 genes, 1024/1024), compression on/off
$PY benchmarks/bench_graph.py epochs --genes 17737 --epochs 20
