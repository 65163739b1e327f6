"""Helpers shared by the table generators of BENCHMARKS.md and README.md.

``doc_tables.py`` is the command; its generators and those of
``doc_tables_honest.py`` register here (``GENERATORS``) and read committed
result files under ``benchmarks/results/`` only.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from bench_graph import _derive_balanced_acc

CCLE_SIZES = '{"alpha": 0.45, "hidden": 512, "layers": [512]}'
LOWER_IS_BETTER = {"rmse", "mae"}
GENERATORS: dict[str, Callable[[list[str]], str]] = {}


def generator(name: str):
    def register(func):
        GENERATORS[name] = func
        return func
    return register


# ------------------------------------------------------------------ helpers
def read_jsonl(*names: str) -> list[dict]:
    return [json.loads(line) for name in names
            for line in (RESULTS / name).read_text().splitlines() if line.strip()]


def load(*names: str) -> pd.DataFrame:
    """Per-fold lines of ``bench_graph.py cv`` files; ``params`` as sorted JSON text,
    ``protocol`` defaulting to honest, ACC of nihgcn-random rows derived where missing
    (column ``acc_derived``), as ``bench_graph.py table`` does."""
    frame = pd.DataFrame(read_jsonl(*names))
    frame["params"] = frame["params"].map(lambda p: json.dumps(p or {}, sort_keys=True))
    if "protocol" not in frame:
        frame["protocol"] = "honest"
    frame["protocol"] = frame["protocol"].fillna("honest")
    frame["acc_derived"] = _derive_balanced_acc(frame)
    return frame


def select(frame: pd.DataFrame, dataset: str, split: str, model: str, params: str = "{}",
           protocol: str = "honest") -> pd.DataFrame:
    part = frame[(frame["dataset"] == dataset) & (frame["split"] == split)
                 & (frame["model"] == model) & (frame["params"] == params)
                 & (frame["protocol"] == protocol)]
    if part.empty:
        raise SystemExit(f"no results for {dataset} {split} {model} {params} {protocol}")
    return part


def paired_difference_text(ours: pd.DataFrame, theirs: pd.DataFrame, metric: str,
                           min_pairs: int = 2) -> str:
    """``ours - theirs`` in ``metric``, the mean over the index values (folds) both have,
    with the paired t-test p from ``min_pairs`` pairs on (``""`` when none are shared)."""
    from drpkit.evaluate.stats import paired_ttest

    both = ours[[metric]].join(theirs[[metric]], rsuffix="_other", how="inner").dropna()
    if both.empty:
        return ""
    diff = (both[metric] - both[f"{metric}_other"]).mean()
    if len(both) < min_pairs:
        return f"{diff:+.3f}"
    return f"{diff:+.3f} (p={paired_ttest(both[metric], both[f'{metric}_other'])[1]:.2g})"


def on_the_same_folds(tasks: pd.DataFrame, ours: str, split: str, metrics: list[str],
                      min_pairs: int):
    """Per model of ``tasks`` (task rows: model, split, fold, metrics) in order of first
    appearance: ``(model, its rows of split, differences)``, every model restricted to
    the folds ``ours`` finished in ``split``; differences: ``ours - model`` in each of
    ``metrics`` (``paired_difference_text``), empty strings for ``ours`` itself."""
    part = tasks[tasks["split"] == split]
    part = part[part["fold"].isin(set(part.loc[part["model"] == ours, "fold"]))]
    reference = part[part["model"] == ours].set_index("fold")
    for model, runs in part.groupby("model", sort=False):
        yield model, runs, ["" if model == ours else paired_difference_text(
            reference, runs.set_index("fold"), metric, min_pairs) for metric in metrics]


def mean_sd_text(values: pd.Series, digits: int = 3, empty: str = "") -> str:
    """``mean ± sd`` of the non-missing ``values`` (just the mean for one value,
    ``empty`` for none)."""
    values = values.dropna().astype(float)
    if values.empty:
        return empty
    if len(values) == 1:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def mean_sd(part: pd.DataFrame, column: str) -> str:
    """``mean ± sd`` over the folds that have ``column``; ``(k folds)`` if not all do."""
    if column not in part:
        return ""
    values = part[column].dropna().astype(float)
    if values.empty:
        return ""
    text = f"{values.mean():.4f} ± {values.std(ddof=1):.4f}" if len(values) > 1 \
        else f"{values.mean():.4f}"
    if len(values) < len(part):
        text += f" ({len(values)} folds)"
    if column == "acc" and part.loc[values.index, "acc_derived"].any():
        text += " †"
    return text


def bold(text: str) -> str:
    return f"**{text}**" if text else text


def best_index(means: dict, metric: str) -> set:
    """Keys of the best mean (ties all), none if fewer than two values."""
    means = {k: v for k, v in means.items() if pd.notna(v)}
    if len(means) < 2:
        return set()
    best = (min if metric in LOWER_IS_BETTER else max)(means.values())
    return {k for k, v in means.items() if np.isclose(v, best)}


def seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 100 else f"{value:.1f} s"


def gib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB"


def md_table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def report_tables(path: Path, heading: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the table under ``## heading`` of a report's leaderboard.md,
    bold removed."""
    lines = path.read_text().splitlines()
    start = lines.index(f"## {heading}")
    table = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            table.append([c.strip().replace("**", "") for c in line.strip()[1:-1].split(" | ")])
        elif table:
            break
    return table[0], table[2:]


def transfer_grid() -> tuple[list[str], list[dict[str, str]]]:
    """The transfer grid's GDSC2 -> CCLE rows (``gdsc2_all/leaderboard.md``): the columns
    of its main table, and per model (in that table's order) the cells of the main table
    and of the by-novelty table, by column name ("Model", "PCC", "AUROC seen", ...)."""
    board = RESULTS / "gdsc2_all" / "leaderboard.md"
    head, rows = report_tables(board, "Transfer gdsc2 → ccle, 1 seed")
    head2, rows2 = report_tables(board, "Transfer gdsc2 → ccle, 1 seed, by novelty of the pair")
    novelty = {r[0]: dict(zip(head2, r)) for r in rows2}
    return head, [{**novelty[r[0]], **dict(zip(head, r))} for r in rows]
