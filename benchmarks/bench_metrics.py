"""Time ``evaluate_predictions`` on a test fold of realistic size.

Plain Python, no benchmark framework: run it from the repository root with

    .venv/bin/python benchmarks/bench_metrics.py [--repeats N] [--reference]

It builds 37,000 synthetic (cell, drug) test pairs drawn from a 920 cell x
230 drug grid (the size of one cross-validation test fold on real data) and
prints the best wall-clock seconds over ``--repeats`` calls of
``evaluate_predictions`` for regression (with a baseline column) and for
classification (with a threshold). ``--reference`` also times the generic
per-group path (``grouped_metrics`` with the scalar metric functions) for
the per-drug and per-cell tables, for comparison.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drpkit.evaluate.metrics import (
    classification_metrics,
    evaluate_predictions,
    grouped_metrics,
    normalised_regression_metrics,
    regression_metrics,
)

N_ROWS = 37_000
N_CELLS = 920
N_DRUGS = 230


def synthetic_frame(seed: int = 0) -> pd.DataFrame:
    """37,000 distinct (cell, drug) pairs with additive effects plus interaction noise."""
    rng = np.random.default_rng(seed)
    flat = rng.choice(N_CELLS * N_DRUGS, size=N_ROWS, replace=False)
    cell_idx, drug_idx = np.divmod(flat, N_DRUGS)
    cell_eff = rng.normal(size=N_CELLS)
    drug_eff = rng.normal(scale=2.0, size=N_DRUGS)
    base = cell_eff[cell_idx] + drug_eff[drug_idx]
    y = base + rng.normal(scale=0.5, size=N_ROWS)
    yhat = y + rng.normal(scale=0.4, size=N_ROWS)
    frame = pd.DataFrame({
        "cell": np.array([f"ACH-{i:06d}" for i in range(N_CELLS)])[cell_idx],
        "drug": np.array([f"drug_{j:04d}" for j in range(N_DRUGS)])[drug_idx],
        "y": np.round(y, 3),  # measured responses carry few decimals: ties occur
        "yhat": yhat,
        "baseline": base + rng.normal(scale=0.1, size=N_ROWS),
    })
    frame["label"] = (frame["y"] < frame.groupby("drug")["y"].transform("median")).astype(int)
    frame["score"] = np.round(-frame["yhat"], 2)
    return frame


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reference", action="store_true",
                        help="also time the generic grouped_metrics loop")
    args = parser.parse_args()

    frame = synthetic_frame()
    print(f"{len(frame)} rows, {frame['cell'].nunique()} cells, "
          f"{frame['drug'].nunique()} drugs; best of {args.repeats}")

    reg = best_of(lambda: evaluate_predictions(frame, "regression", baseline_col="baseline"),
                  args.repeats)
    print(f"evaluate_predictions regression (with baseline):      {reg:.4f} s")
    cls = best_of(lambda: evaluate_predictions(frame, "classification", threshold=0.0),
                  args.repeats)
    print(f"evaluate_predictions classification (with threshold): {cls:.4f} s")

    if args.reference:
        def reg_fn(sub):
            y, p, b = (sub[c].to_numpy(float) for c in ("y", "yhat", "baseline"))
            return {**regression_metrics(y, p), **normalised_regression_metrics(y, p, b)}

        def cls_fn(sub):
            return classification_metrics(sub["label"].to_numpy(float),
                                          sub["score"].to_numpy(float), 0.0)

        for name, fn in (("regression", reg_fn), ("classification", cls_fn)):
            ref = best_of(lambda fn=fn: [grouped_metrics(frame, col, fn)
                                         for col in ("drug", "cell")], 1)
            print(f"generic grouped_metrics loop, {name}, drug + cell tables: {ref:.4f} s")


if __name__ == "__main__":
    main()
