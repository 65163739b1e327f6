"""How many labels change when per-drug z-score labels are fitted per fold.

Before issue 14, ``zscore`` labels (per drug: sensitive when z < -0.8) were
computed once over all pairs at load time, so test responses helped define
training labels. Now each fold fits the per-drug mean and sd on its training
pairs (``DrugResponseData.with_fold_labels``). This script measures, per split
kind and fold, the share of training and test labels that differ between the
two rules; no model is trained.

    .venv/bin/python benchmarks/bench_labels.py --out benchmarks/results/labels_gdsc2.jsonl
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    from drpkit.data import load_dataset
    from drpkit.splits import make_folds

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="gdsc2")
    parser.add_argument("--splits", default="random,cell-blind,drug-blind,disjoint")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data = load_dataset(args.dataset)
    old = data.responses["label"].to_numpy()
    rows = []
    for split in args.splits.split(","):
        for fold in make_folds(data, split, args.folds, args.seed):
            new = data.with_fold_labels(fold.train, [fold.val, fold.test]).responses["label"]
            new = new.to_numpy()
            row = {"dataset": args.dataset, "split": split, "seed": args.seed, "fold": fold.fold,
                   "train_pairs": len(fold.train), "test_pairs": len(fold.test)}
            for part in ("train", "val", "test"):
                rows_ = getattr(fold, part)
                row[f"{part}_changed"] = round(float(np.mean(new[rows_] != old[rows_])), 5)
            row["test_sensitive_share"] = round(float(np.nanmean(new[fold.test])), 4)
            rows.append(row)
            print(json.dumps(row))
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
