"""Speed and memory of drGT on one GDSC2 fold, and the accuracy runs of issue 15.

``time``: fit drGT with its defaults on one fold (GDSC2, random split, fold 0,
seed 0 unless told otherwise), score the test part, export its explanations,
and append one JSON line to ``--out``: wall seconds of the fit (and of the
explanations), epochs run and chosen, seconds per epoch, the graph's size
(nodes, edges), the test metrics, the peak resident memory of the process
(``ru_maxrss``: dataset and everything loaded included), the torch thread
count, the date and package versions. The issue's budget: <= 5 min and
<= 4 GB on 2 cores. Example (the BENCHMARKS.md line)::

    nice -n 10 .venv/bin/python benchmarks/bench_drgt.py time --threads 1 \\
        --out benchmarks/results/drgt_timing_gdsc2.jsonl

``commands``: print the commands of the accuracy runs that resolve the
issue (drGT beside the baselines and MTIGCN on GDSC2 under four split kinds;
the paper's protocols on its own labels; the ablations; the DTI-recovery and
enrichment checks). They take hours on 2 cores; none is run by this script.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import add_fold_arguments, fit_one_fold, peak_rss_mb

REPORTED = ["auroc", "auprc", "f1", "mcc", "drug_auroc_mean", "pcc", "scc", "rmse", "r2",
            "drug_pcc_mean", "pcc_norm"]

COMMANDS = """\
# 1. drGT beside the baselines and MTIGCN on GDSC2: 4 split kinds x 5 folds x 2 seeds (the
#    seeds and folds of benchmarks/configs/gdsc2_honest.toml, so the tests are paired)
.venv/bin/drpkit benchmark benchmarks/configs/drgt_gdsc2.toml --out runs/drgt_gdsc2
# 2. the paper's protocols on its own labels (gdsc2-drgt, gdsc1-drgt): random, unseen cell /
#    drug (drgt-new-cell / drgt-new-drug, 5 groups), zero-shot (disjoint); drGT in the
#    paper's transductive node mode, labelled so in every table
.venv/bin/drpkit benchmark benchmarks/configs/drgt_paper.toml --out runs/drgt_paper
# 3. ablations on GDSC2 (random + drug-blind, 5 folds, seed 0): attention layer, no gene
#    nodes, no DTI edges (one run directory each: a grid has one setting per model)
for spec in conv=gat conv=transformer use_genes=false use_dti=false; do
  .venv/bin/drpkit benchmark benchmarks/configs/drgt_ablation.toml -p "drgt:$spec" \\
      --out "runs/drgt_ablation_${spec/=/_}"
done
# 4. DTI recovery (a fifth of the target links hidden) and enrichment on one GDSC2 fold,
#    and the explanations of drugs with well-known targets (lapatinib: EGFR/ERBB2, olaparib:
#    PARP1; nutlin-3a (MDM2) is screened in drGT's label sets only, and the dti resource
#    matches no target to it, so MDM2 is not marked as known there)
.venv/bin/drpkit train --dataset gdsc2 --model drgt --split random --fold 0 \
    --out runs/drgt_gdsc2_f0
.venv/bin/drpkit explain runs/drgt_gdsc2_f0 --drug Lapatinib,Olaparib --top 20 --validate \
    --gene-sets kegg --out docs/explain/gdsc2_f0
.venv/bin/drpkit train --dataset gdsc2-drgt --model drgt --split random --fold 0 \
    --out runs/drgt_gdsc2drgt_f0
.venv/bin/drpkit explain runs/drgt_gdsc2drgt_f0 --drug "Nutlin-3a (-)",Lapatinib --top 20 \
    --out docs/explain/gdsc2drgt_f0
# 5. DTI recovery pooled over the folds of a grid (every task hides its own fifth)
.venv/bin/drpkit benchmark benchmarks/configs/drgt_ablation.toml -p drgt:hide_dti=0.2 \\
    --out runs/drgt_hidden
.venv/bin/drpkit explain runs/drgt_hidden --model drgt --split random --validate
"""


def cmd_time(args: argparse.Namespace) -> None:
    import torch

    from drpkit.models.requirements import data_for_model
    from drpkit.runs import package_versions

    data, fold, result, params, loaded, total = fit_one_fold(args, "drgt")
    model = result.fitted
    history = model.history_
    train = data_for_model(model, data).subset(fold.train)
    t0 = time.perf_counter()
    model.explain(train)
    explain_seconds = time.perf_counter() - t0
    g = model.graph(train)
    row = {"model": "drgt", "dataset": args.dataset, "split": args.split, "seed": args.seed,
           "fold": args.fold, "params": params, "threads": torch.get_num_threads(),
           "load_seconds": round(loaded, 1),
           "fold_seconds": round(total, 1),  # fit, predictions, metrics, explanations
           "fit_seconds": round(history.seconds, 1), "epochs": history.epochs_run,
           "best_epoch": history.best_epoch,
           "seconds_per_epoch": round(history.seconds / max(history.epochs_run, 1), 3),
           "explain_seconds": round(explain_seconds, 1),
           "nodes": {"drugs": g.n_drugs, "cells": g.n_cells, "genes": g.n_genes},
           "edges": int(g.edge_index.shape[1]), "edges_last_layer": int(g.last_mask().sum()),
           "peak_rss_mb": round(peak_rss_mb()),
           **{k: round(float(result.metrics[k]), 4) for k in REPORTED if k in result.metrics},
           "date": time.strftime("%Y-%m-%d %H:%M"), "versions": package_versions()}
    print(json.dumps(row))
    with open(args.out, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tm = sub.add_parser("time", help="fit one fold; time, memory, metrics as one JSON line")
    add_fold_arguments(tm, "drgt", "benchmarks/results/drgt_timing_gdsc2.jsonl")
    sub.add_parser("commands", help="print the accuracy runs' commands")
    args = parser.parse_args()
    if args.command == "time":
        cmd_time(args)
    else:
        print(COMMANDS, end="")


if __name__ == "__main__":
    main()
