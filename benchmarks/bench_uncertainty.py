"""Coverage, width and AURC of drpkit's uncertainty methods on GDSC2 folds.

Fits a model with ``uncertainty`` settings on each fold (validation part for
calibration, test part only scored) and appends one JSON line per fold to
``--out``: the interval metrics of ``drpkit.evaluate.calibration`` (coverage,
mean width, per-drug coverage spread, AURC beside the constant-width AURC), the
fit time, threads and versions. Example (the BENCHMARKS.md rows)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_uncertainty.py --model ridge \\
        --splits random cell-blind drug-blind --params '{"uncertainty": {"method": "conformal"}}' \\
        --out benchmarks/results/uncertainty_gdsc2.jsonl

``--from-run RUN`` instead reads a ``drpkit train`` run fitted with ``-p
uncertainty.method=...`` (its metrics.json and config.json; nothing is refitted), for
models too slow to fit twice (mmgnn); ``--threads`` gives the thread count of runs
written before train runs recorded it; recording a run again replaces its row.

Every row stores ``settings``, the model's settings fully resolved (defaults filled
in), and ``params``, those that differ from the defaults when it was recorded. The
tables label a row by its ``settings`` against the defaults *at print time*
(``doc_tables_uq._rows``), so a later change of a default relabels the rows fitted
before it, truthfully, with nothing refitted or re-recorded (rows written before rows
stored ``settings`` keep their ``params``).

``--transfer ccle`` instead scores the intervals on another dataset: the model is
fitted once on all of ``--dataset`` (its validation part calibrates) by the transfer
runner and every pair of the target is scored (split ``transfer to ccle``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import (
    append_row,
    changed_settings,
    default_settings,
    put_row,
    resolved_settings,
)

KEYS = ("interval_coverage", "interval_width_mean", "interval_drug_coverage_sd",
        "interval_drug_coverage_min", "aurc", "aurc_constant", "pcc", "rmse",
        "drug_pcc_mean", "auroc", "drug_auroc_mean", "ece", "ece_raw", "set_coverage",
        "set_size_mean",
        *(f"{m}[{g}]" for g in ("seen", "new cell", "new drug", "new both")
          for m in ("n", "interval_coverage", "pcc")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="gdsc2")
    parser.add_argument("--model", default="ridge")
    parser.add_argument("--splits", nargs="+", default=["random", "cell-blind", "drug-blind"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only-folds", type=int, nargs="+", metavar="K",
                        help="run only these folds of each split (default: all)")
    parser.add_argument("--params", default='{"uncertainty": {"method": "conformal"}}')
    parser.add_argument("--out", default="benchmarks/results/uncertainty_gdsc2.jsonl")
    parser.add_argument("--from-run", type=Path, metavar="RUN",
                        help="record this `drpkit train` run's interval metrics instead")
    parser.add_argument("--threads", type=int,
                        help="--from-run: thread count, if the run's config.json lacks it")
    parser.add_argument("--transfer", metavar="TARGET",
                        help="score on this dataset after fitting on all of --dataset")
    args = parser.parse_args()

    import torch

    from drpkit.data import load_dataset
    from drpkit.experiment import run_fold
    from drpkit.runs import package_versions
    from drpkit.splits import make_folds

    if args.from_run is not None:
        from_run(args.from_run, args.threads, args.out)
        return
    params = {"seed": args.seed, **json.loads(args.params)}
    data = load_dataset(args.dataset)
    # recorded as from_run records: every resolved setting, and (for reading) those
    # that differ from the model's defaults
    settings = resolved_settings(args.model, params)
    recorded = {"seed": args.seed, **changed_settings(settings, default_settings(args.model))}

    def record(split: str, fold: int, metrics: dict, start: float) -> None:
        row = {"model": args.model, "dataset": args.dataset, "split": split,
               "fold": fold, "seed": args.seed, "params": recorded, "settings": settings,
               **{k: round(float(metrics[k]), 4) for k in KEYS if k in metrics},
               "seconds": round(time.perf_counter() - start, 1),
               "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d %H:%M"),
               "versions": package_versions()}
        append_row(args.out, row)

    if args.transfer:
        from drpkit.data.spec import DataSpec
        from drpkit.experiment.transfer import run_transfer

        start = time.perf_counter()
        target = DataSpec(dataset=args.transfer).load(defer_missing=True)
        outcome = run_transfer(data, target, args.model, params, seed=args.seed)
        record(f"transfer to {args.transfer}", 0, outcome.metrics, start)
        return
    for split in args.splits:
        for fold in make_folds(data, split, args.folds, args.seed):
            if args.only_folds is not None and fold.fold not in args.only_folds:
                continue
            start = time.perf_counter()
            result = run_fold(data, args.model, fold, params)
            record(split, fold.fold, result.metrics, start)


def from_run(run: Path, threads: int | None, out: str) -> None:
    """One row from a train run: its settings as ``params`` (those differing from the
    model's defaults), its interval metrics and fit seconds."""
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    if "interval_coverage" not in metrics:
        raise SystemExit(f"{run}: no interval metrics (was it trained with -p "
                         "uncertainty.method=...?)")
    settings = resolved_settings(config["model"], config["params"])
    params = {"seed": config["seed"],
              **changed_settings(settings, default_settings(config["model"]))}
    threads = config.get("threads", threads)
    if threads is None:
        raise SystemExit(f"{run}: config.json has no thread count; pass --threads")
    row = {"model": config["model"], "dataset": config["data"]["dataset"],
           "split": config["split"], "fold": config["fold"], "seed": config["seed"],
           "params": params, "settings": settings,
           **{k: round(float(metrics[k]), 4) for k in KEYS if k in metrics},
           "seconds": round(float(metrics["seconds"]), 1), "threads": threads,
           "date": config["created"].replace("T", " ")[:16], "versions": config["versions"],
           "run": str(run)}
    put_row(out, row, key="run")


if __name__ == "__main__":
    main()
