"""Accuracy, time and memory of the cell-drug graph models (NIHGCN family).

Run from the repository root with the project's venv; three sub-commands:

``cv``: cross-validate models fold by fold and append one JSON line per
(model, fold) to ``--out``. A line already there for the same model, dataset,
split, seed, fold and parameters is skipped, so a run cut short resumes
where it stopped. Every number is from ``drpkit.experiment.run_fold``: epochs
are chosen on the validation part, the threshold too; the test fold is
scored once at the end. ``--protocol upstream`` instead reproduces what the
papers' public code does (no validation part; the epoch and threshold are
picked on the test fold) to measure how much that inflates the figures.
Example (the BENCHMARKS.md tables)::

    .venv/bin/python benchmarks/bench_graph.py cv --dataset gdsc-nihgcn \\
        --models mtigcn,nihgcn --split nihgcn-random --folds 5 --seed 0 \\
        --out benchmarks/results/graph_gdsc_nihgcn.jsonl

``epochs``: time a fixed number of training epochs (no early stopping) of
each model on a graph of the given size, with synthetic expression of
``--genes`` genes (the timing does not depend on the values; the graph is the
real ``gdsc-nihgcn`` one). Reports seconds per epoch with the exact input
compression on and off, e.g. at the reference code's sizes::

    .venv/bin/python benchmarks/bench_graph.py epochs --genes 17737 --epochs 20 \\
        --out benchmarks/results/epochs_gdsc_nihgcn.jsonl

(``--out`` appends one JSON line per measurement, with the torch thread count.)

``table``: print the Markdown table (mean +- sd over folds) of JSON-lines files.
Only this sub-command runs without torch (the others import it when they run).

Peak memory is the process's maximum resident set size (``ru_maxrss``, in MiB)
after the fold, i.e. including the dataset and everything loaded before it; run
one model per process for a per-model figure. Each ``cv`` line also records the
torch thread count and the date.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPORTED = ["auroc", "auprc", "acc", "f1", "mcc", "precision", "recall",
            "drug_auroc_mean", "cell_auroc_mean", "pcc", "scc", "rmse", "drug_pcc_mean"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _key(row: dict) -> tuple:
    return (row["model"], row["dataset"], row["split"], row["seed"], row["fold"],
            json.dumps(row["params"], sort_keys=True), row.get("protocol", "honest"))


def upstream_fold(fold):
    """The authors' protocol, for comparison only: train on everything but the
    test fold and pick the epoch (and threshold) on the test fold itself."""
    from drpkit.splits import Fold

    train = np.sort(np.concatenate([fold.train, fold.val]))
    return Fold(fold.kind, fold.fold, fold.seed, train, fold.test, fold.test)


def cmd_cv(args: argparse.Namespace) -> None:
    import torch

    from drpkit.data import load_dataset
    from drpkit.experiment import run_fold
    from drpkit.models import MODELS
    from drpkit.splits import make_folds

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        done = {_key(json.loads(line)) for line in out.read_text().splitlines() if line.strip()}
    params = json.loads(args.params) if args.params else {}
    data = load_dataset(args.dataset, measure=args.measure) if args.measure \
        else load_dataset(args.dataset)
    folds = make_folds(data, args.split, args.folds, args.seed)
    wanted = set(range(args.folds)) if args.only_folds is None \
        else {int(f) for f in args.only_folds.split(",")}
    for fold in folds:
        if fold.fold not in wanted:
            continue
        for model in args.models.split(","):
            row = {"model": model, "dataset": args.dataset, "split": args.split,
                   "seed": args.seed, "fold": fold.fold, "params": params,
                   "protocol": args.protocol}
            if _key(row) in done:
                print(f"skip {model} fold {fold.fold} (already in {out})", flush=True)
                continue
            model_params = dict(params)
            if "trainer" in MODELS.get(model).Config.model_fields:  # torch models only
                model_params["trainer"] = {**params.get("trainer", {}), "progress": args.progress}
            start = time.perf_counter()
            run = upstream_fold(fold) if args.protocol == "upstream" else fold
            result = run_fold(data, model, run, model_params)
            total = time.perf_counter() - start
            history = getattr(result.fitted, "history_", None)
            row.update({k: float(result.metrics[k]) for k in REPORTED if k in result.metrics})
            row.update({"fit_s": round(result.seconds, 1), "total_s": round(total, 1),
                        "peak_rss_mb": round(peak_rss_mb()), "threads": torch.get_num_threads(),
                        "date": time.strftime("%Y-%m-%d")})
            if history is not None:
                row.update({"epochs": history.epochs_run, "best_epoch": history.best_epoch + 1,
                            "s_per_epoch": round(history.seconds / max(history.epochs_run, 1),
                                                 3)})
                if history.refit is not None:
                    row["refit_epochs"] = history.refit.epochs_run
            with out.open("a") as fh:  # one complete line per fold
                fh.write(json.dumps(row) + "\n")
            print(json.dumps({k: row[k] for k in row if k != "params"}), flush=True)


def cmd_epochs(args: argparse.Namespace) -> None:
    import torch

    from drpkit.data import load_dataset
    from drpkit.models import create_model
    from drpkit.splits import make_folds
    from drpkit.train import TrainerConfig

    data = load_dataset("gdsc-nihgcn")
    expression = data.cell_view("expression")
    rng = np.random.default_rng(0)
    if args.genes != expression.shape[1]:
        values = rng.standard_normal((expression.shape[0], args.genes)).astype(np.float32)
        expression = pd.DataFrame(values, index=expression.index,
                                  columns=[f"g{i}" for i in range(args.genes)])
        data = dataclasses.replace(data, cell_views={"expression": expression})
    fold = make_folds(data, "nihgcn-random", 5, 0)[0]
    train, val = data.subset(fold.train), data.subset(fold.val)
    trainer = TrainerConfig(max_epochs=args.epochs, patience=10**9, progress=False).model_dump()
    print("| model | genes | compress_inputs | s/epoch | threads |")
    print("|---|---|---|---|---|")
    for model in args.models.split(","):
        for compress in (True, False):
            estimator = create_model(model, {"compress_inputs": compress, "trainer": trainer})
            estimator.fit(train, val)
            h = estimator.history_
            per_epoch = h.seconds / h.epochs_run
            print(f"| {model} | {args.genes} | {compress} | {per_epoch:.3f} | "
                  f"{torch.get_num_threads()} |", flush=True)
            if args.out:  # one complete line per measurement
                row = {"model": model, "dataset": "gdsc-nihgcn", "genes": args.genes,
                       "compress_inputs": compress, "epochs": h.epochs_run,
                       "seconds": round(h.seconds, 2), "s_per_epoch": round(per_epoch, 4),
                       "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")


def cmd_table(args: argparse.Namespace) -> None:
    from drpkit.evaluate.stats import paired_ttest

    rows = [json.loads(line) for path in args.files for line in Path(path).read_text().splitlines()
            if line.strip()]
    frame = pd.DataFrame(rows)
    frame["params"] = frame["params"].map(lambda p: json.dumps(p, sort_keys=True))
    if "protocol" not in frame:
        frame["protocol"] = "honest"
    frame["protocol"] = frame["protocol"].fillna("honest")
    derived = _derive_balanced_acc(frame) if "acc" in args.columns.split(",") else None
    columns = [c for c in args.columns.split(",") if c in frame]
    baselines = args.baselines.split(",") if args.baselines else []
    head = ["dataset", "split", "model", "folds", *columns]
    if baselines:
        head += [f"Δ{m} vs best baseline, paired t p" for m in args.test_metrics.split(",")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (dataset, split), part in frame.groupby(["dataset", "split"], sort=False):
        present = [b for b in baselines if b in set(part["model"])]
        for (model, params, protocol), g in part.groupby(["model", "params", "protocol"],
                                                         sort=False):
            label = model if params == "{}" else f"{model} {params}"
            if protocol != "honest":
                label += f" [{protocol}: epoch picked on test]"
            cells = [_cell(g[c], c) if g[c].notna().any() else "" for c in columns]
            if derived is not None and "acc" in columns and derived.loc[g.index].any():
                cells[columns.index("acc")] += " †"
            if baselines:
                for metric in args.test_metrics.split(","):
                    cells.append(_versus(part, model, present, metric, paired_ttest))
            lines.append(f"| {dataset} | {split} | {label} | {len(g)} | " + " | ".join(cells)
                         + " |")
    if derived is not None and derived.any():
        lines.append("\n† ACC derived from precision P and recall R as (R + 1 - R(1 - P)/P) / 2, "
                     "exact on the balanced test parts of nihgcn-random (runs that predate the "
                     "ACC column)")
    print("\n".join(lines))


def _derive_balanced_acc(frame: pd.DataFrame) -> pd.Series:
    """Fill missing ACC of ``nihgcn-random`` rows from precision and recall; return the mask.

    Each nihgcn-random test part holds as many negatives as positives (N each), so with
    TP = R N and FP = TP (1 - P) / P, ACC = (TP + N - FP) / 2N = (R + 1 - R (1 - P) / P) / 2.
    """
    if "acc" not in frame:
        frame["acc"] = np.nan
    mask = (frame["acc"].isna() & (frame["split"] == "nihgcn-random")
            & frame["precision"].gt(0) & frame["recall"].notna())
    p, r = frame.loc[mask, "precision"], frame.loc[mask, "recall"]
    frame.loc[mask, "acc"] = (r + 1 - r * (1 - p) / p) / 2
    return mask


def _cell(values: pd.Series, column: str) -> str:
    v = values.dropna().astype(float)
    if column in ("epochs", "best_epoch", "fit_s", "total_s", "peak_rss_mb"):
        return f"{v.mean():.0f}"
    if column == "s_per_epoch":
        return f"{v.mean():.2f}"
    return f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if len(v) > 1 else f"{v.mean():.4f}"


def _versus(part: pd.DataFrame, model: str, baselines: list[str], metric: str, test) -> str:
    """Mean paired difference to the best baseline (by mean ``metric``) and its p-value."""
    if model in baselines or metric not in part or part.loc[part["model"] == model,
                                                                metric].isna().all():
        return ""
    means = {b: part.loc[part["model"] == b, metric].mean() for b in baselines}
    means = {b: m for b, m in means.items() if pd.notna(m)}
    if not means:
        return ""
    lower_better = metric in ("rmse", "mae")
    best = (min if lower_better else max)(means, key=means.get)
    a = part[part["model"] == model].set_index("fold")[metric]
    b = part[part["model"] == best].set_index("fold")[metric]
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1).dropna()
    if len(joined) < 2:
        return ""
    _, p = test(joined["a"], joined["b"])
    return f"{(joined['a'] - joined['b']).mean():+.4f} vs {best}, p={p:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cv = sub.add_parser("cv", help="cross-validate, one JSON line per fold")
    cv.add_argument("--dataset", default="gdsc-nihgcn")
    cv.add_argument("--measure", default=None)
    cv.add_argument("--models", default="mtigcn,nihgcn")
    cv.add_argument("--split", default="nihgcn-random")
    cv.add_argument("--folds", type=int, default=5)
    cv.add_argument("--only-folds", default=None, help="comma-separated fold numbers")
    cv.add_argument("--seed", type=int, default=0)
    cv.add_argument("--params", default=None, help="JSON config overrides for every model")
    cv.add_argument("--progress", action="store_true")
    cv.add_argument("--protocol", choices=["honest", "upstream"], default="honest",
                    help="upstream = the papers' code: epoch and threshold picked on the test "
                         "fold, no validation part (for comparison only)")
    cv.add_argument("--out", required=True)
    cv.set_defaults(func=cmd_cv)
    ep = sub.add_parser("epochs", help="seconds per epoch at a given input size")
    ep.add_argument("--genes", type=int, default=17737)
    ep.add_argument("--epochs", type=int, default=20)
    ep.add_argument("--models", default="nihgcn,mtigcn")
    ep.add_argument("--out", default=None,
                    help="also append one JSON line per measurement to this file")
    ep.set_defaults(func=cmd_epochs)
    tb = sub.add_parser("table", help="Markdown table of JSON-lines results")
    tb.add_argument("files", nargs="+")
    tb.add_argument("--columns", default="auroc,auprc,f1,mcc,pcc,drug_pcc_mean,epochs,"
                    "s_per_epoch,fit_s,peak_rss_mb")
    tb.add_argument("--baselines", default=None,
                    help="comma-separated baseline models; adds a paired t-test of each "
                         "other model against the best of them (per dataset and split)")
    tb.add_argument("--test-metrics", default="auroc,pcc")
    tb.set_defaults(func=cmd_table)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
