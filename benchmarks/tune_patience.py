"""Choose early-stopping settings on validation data only, never on a test fold.

A setting cannot be judged on the validation pairs that also stopped its
training: a longer patience can only find an equal or higher best validation
score on them, so that comparison always favours it. Here each fold's
training part is cut once more: a random ``--select-fraction`` of its pairs is
the *selection* part, held out from fitting; the model trains on the rest
with early stopping on the fold's validation part as usual, and each setting
is scored on the selection part. The fold's test part is never read.

    .venv/bin/python benchmarks/tune_patience.py --dataset gdsc-nihgcn --model mtigcn \
        --split nihgcn-random --folds 5 --out benchmarks/results/tune_patience_gdsc_nihgcn.jsonl

Settings compared (``--settings``, JSON list of parameter dicts): by default
patience 50 (the default), patience 200, and patience 200 with a refit on
training + validation pairs. One JSON line per (fold, setting): selection-part
AUROC / AUPRC (and PCC for models with a value), epochs, seconds, threads and
package versions. ``--table FILE`` prints the mean over folds and the paired
differences.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

DEFAULT_SETTINGS = [
    {"trainer": {"patience": 50}},
    {"trainer": {"patience": 200}},
    {"trainer": {"patience": 200, "refit": True}},
]


def run(args: argparse.Namespace) -> None:
    from drpkit.data import load_dataset
    from drpkit.experiment.crossval import PAIR, additive_baseline, fold_metrics, scored_frame
    from drpkit.models import create_model
    from drpkit.runs import package_versions
    from drpkit.splits import make_folds

    data = load_dataset(args.dataset)
    folds = make_folds(data, args.split, args.folds, args.seed)
    settings = json.loads(args.settings) if args.settings else DEFAULT_SETTINGS
    done = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            row = json.loads(line)
            done.add((row["fold"], json.dumps(row["setting"], sort_keys=True)))
    for fold in folds:
        if args.only_folds and fold.fold not in args.only_folds:
            continue
        rng = np.random.default_rng(args.seed + 1000 * fold.fold)
        rows = rng.permutation(fold.train)
        n_select = round(args.select_fraction * len(rows))
        select, fit_rows = np.sort(rows[:n_select]), np.sort(rows[n_select:])
        labelled = data.with_fold_labels(fit_rows, [fold.val, select])
        train, val = labelled.subset(fit_rows), labelled.subset(fold.val)
        part = labelled.subset(select)
        for setting in settings:
            key = (fold.fold, json.dumps(setting, sort_keys=True))
            if key in done:
                continue
            start = time.perf_counter()
            model = create_model(args.model, {"seed": args.seed, **setting})
            model.fit(train, val)
            frame = scored_frame(part, model.predict(train, part.responses[PAIR]), train)
            metrics = fold_metrics(frame.assign(baseline=additive_baseline(train, part)), None)
            history = model.history_
            row = {"dataset": args.dataset, "model": args.model, "split": args.split,
                   "seed": args.seed, "fold": fold.fold, "setting": setting,
                   "selection_pairs": len(select),
                   **{f"select_{k}": round(float(metrics[k]), 5)
                      for k in ("auroc", "auprc", "pcc") if k in metrics},
                   "best_epoch": history.best_epoch, "epochs": history.epochs_run,
                   "val_best": history.best_score,
                   "seconds": round(time.perf_counter() - start, 1),
                   "threads": torch.get_num_threads(), "versions": package_versions()}
            print(json.dumps(row), flush=True)
            with args.out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")


def table(path: Path) -> None:
    """Mean ± sd over folds per setting, and the paired difference to the first."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    frame = pd.DataFrame(rows)
    frame["setting"] = frame["setting"].map(lambda s: json.dumps(s, sort_keys=True))
    order = list(dict.fromkeys(frame["setting"]))
    metrics = [c for c in ("select_auroc", "select_auprc", "select_pcc") if c in frame]
    base = frame[frame["setting"] == order[0]].set_index("fold")
    out = []
    for setting in order:
        part = frame[frame["setting"] == setting].set_index("fold")
        row = {"setting": setting, "folds": len(part)}
        for m in metrics:
            row[m] = f"{part[m].mean():.4f} ± {part[m].std(ddof=1):.4f}"
            diff = (part[m] - base[m]).dropna()
            row[f"Δ{m}"] = f"{diff.mean():+.4f} ({int((diff > 0).sum())}/{len(diff)} folds up)"
        row["epochs"] = f"{part['epochs'].mean():.0f}"
        row["seconds"] = f"{part['seconds'].mean():.0f}"
        out.append(row)
    print(pd.DataFrame(out).to_markdown(index=False))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="gdsc-nihgcn")
    parser.add_argument("--model", default="mtigcn")
    parser.add_argument("--split", default="nihgcn-random")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only-folds", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--select-fraction", type=float, default=0.1)
    parser.add_argument("--settings", help="JSON list of parameter dicts")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--table", type=Path, help="print the summary of a results file")
    args = parser.parse_args(argv)
    if args.table:
        table(args.table)
    elif args.out:
        run(args)
    else:
        parser.error("give --out (run) or --table (summarise)")


if __name__ == "__main__":
    main(sys.argv[1:])
