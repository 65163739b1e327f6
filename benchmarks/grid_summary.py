"""One Markdown table across split kinds from a benchmark's ``leaderboard.csv``.

``drpkit report RUN`` writes one leaderboard per (dataset, split kind); this
puts a chosen metric of every model side by side over the split kinds, with
the difference to that split's best baseline and its paired t-test p value, for
BENCHMARKS.md:

    .venv/bin/python benchmarks/grid_summary.py runs/gdsc2_all/leaderboard.csv --metric auroc
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def cell(row: pd.Series, metric: str) -> str:
    """``mean ± sd``, then ``(Δ vs best baseline, p)`` unless the row is the reference."""
    mean, sd = row[f"{metric}_mean"], row[f"{metric}_sd"]
    if pd.isna(mean):
        return "–"
    text = f"{mean:.3f} ± {sd:.3f}"
    if row.get(f"{metric}_reference") == row["model"]:
        return f"**{text}** (ref.)"
    diff, p = row.get(f"{metric}_diff"), row.get(f"{metric}_p_ttest")
    if pd.notna(diff) and pd.notna(p):
        text += f" ({diff:+.3f}, p={p:.1g})"
    return text


def summary(board: pd.DataFrame, metric: str) -> str:
    """Markdown: models as rows (registry order of the run), split kinds as columns."""
    splits = list(dict.fromkeys(board["split"]))
    models = list(dict.fromkeys(board["model"]))
    lines = ["| model | " + " | ".join(splits) + " |",
             "|---|" + "---:|" * len(splits)]
    for model in models:
        cells = []
        for split in splits:
            row = board[(board["model"] == model) & (board["split"] == split)]
            cells.append(cell(row.iloc[0], metric) if len(row) else "–")
        tag = " (baseline)" if board.loc[board["model"] == model, "baseline"].iloc[0] else ""
        lines.append(f"| {model}{tag} | " + " | ".join(cells) + " |")
    refs = {s: board.loc[board["split"] == s, f"{metric}_reference"].dropna().iloc[0]
            for s in splits if board.loc[board["split"] == s, f"{metric}_reference"].notna().any()}
    lines.append("")
    over = "folds" if board["seeds"].max() <= 1 else "seed x fold blocks"
    lines.append(f"_{metric}: mean ± sd over {over}; in brackets the paired difference to the "
                 "split's best baseline (ref.: " + ", ".join(f"{s} {m}" for s, m in refs.items())
                 + ") and the paired t-test p (uncorrected)._")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("leaderboard", type=Path, help="leaderboard.csv of `drpkit report`")
    parser.add_argument("--metric", default="auroc", help="metric column prefix (auroc, pcc, ...)")
    parser.add_argument("--dataset", default=None, help="only this dataset (default: the first)")
    args = parser.parse_args(argv)
    board = pd.read_csv(args.leaderboard)
    if f"{args.metric}_mean" not in board:
        parser.error(f"{args.leaderboard} has no column {args.metric}_mean")
    dataset = args.dataset or board["dataset"].iloc[0]
    print(summary(board[board["dataset"] == dataset], args.metric))
    return 0


if __name__ == "__main__":
    sys.exit(main())
