"""The leaderboard in the terminal: what a newcomer sees after ``make demo``.

One small table per (dataset, split kind), read from the ``leaderboard.csv``
that :func:`drpkit.report.build_report` wrote: for each headline metric, the
best model and its mean ± sd, then the value of every naive baseline, so the
gap between "a model" and "a mean" is visible without opening the HTML.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from drpkit.report.tables import DASH, higher_is_better, label, mean_sd

CONSOLE_METRICS = ("auroc", "pcc", "drug_pcc_mean", "rmse")


def console_leaderboard(leaderboard_csv: str | Path) -> str:
    """Markdown text: per dataset and split, best model per metric and the naive rows."""
    board = pd.read_csv(leaderboard_csv)
    blocks = []
    for (dataset, split), part in board.groupby(["dataset", "split"], sort=False):
        part = part.set_index("model")
        naive = [m for m in part.index if m.startswith("naive-")]
        metrics = [m for m in CONSOLE_METRICS
                   if f"{m}_mean" in part and part[f"{m}_mean"].notna().any()]
        rows = []
        for metric in metrics:
            means = part[f"{metric}_mean"].dropna()
            best = means.idxmax() if higher_is_better(metric) else means.idxmin()
            row = {"metric": label(metric), "best model": best,
                   "best": mean_sd(means[best], part.at[best, f"{metric}_sd"])}
            for name in naive:
                value = part.at[name, f"{metric}_mean"]
                row[name] = DASH if pd.isna(value) else f"{value:.3f}"
            rows.append(row)
        folds, seeds = int(part["folds"].iloc[0]), int(part["seeds"].iloc[0])
        blocks.append(f"## {dataset}, {split} ({folds} folds x {seeds} seed(s), mean ± sd)\n\n"
                      + pd.DataFrame(rows).to_markdown(index=False))
    return "\n\n".join(blocks)
