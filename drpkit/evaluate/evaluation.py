"""Whole evaluation of one set of test predictions: :func:`evaluate_predictions`.

What is here: :func:`evaluate_predictions`, which checks a prediction frame
(``cell``, ``drug`` and ``y``/``yhat`` or ``label``/``score``, plus an optional
baseline column) and reports, in one flat dict, the pooled metrics, the
per-drug and per-cell tables with their mean/median summaries and, given a
baseline, the normalised metrics; and :class:`Evaluation`, its result.

Why several views of the same predictions: the pooled numbers are dominated
by between-drug differences (see :mod:`drpkit.evaluate.grouped`); the per-drug
and per-cell tables and the normalised metrics
(:func:`~drpkit.evaluate.scalar.normalised_regression_metrics`, which remove
both the drug and the cell main effect) show what a model adds beyond them.

Why a module of its own: this is the one place that knows the column layout
of a prediction frame, and it composes the other three modules (pooled
metrics from :mod:`~drpkit.evaluate.scalar` and
:mod:`~drpkit.evaluate.threshold`, tables from
:mod:`~drpkit.evaluate.grouped`) without adding a metric of its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from drpkit.errors import DataError
from drpkit.evaluate.grouped import (
    grouped_classification_metrics,
    grouped_regression_metrics,
    summarise_grouped,
)
from drpkit.evaluate.scalar import normalised_regression_metrics, regression_metrics
from drpkit.evaluate.threshold import classification_metrics

__all__ = ["Evaluation", "evaluate_predictions"]


@dataclass
class Evaluation:
    """Result of :func:`evaluate_predictions`.

    Attributes:
        overall: flat ``{name: value}`` with pooled metrics (``"pcc"``), per-drug
            and per-cell summaries (``"drug_pcc_mean"``, ``"cell_pcc_median"``,
            ``"drug_n_groups"``), normalised metrics (``"pcc_norm"``) when a
            baseline was given, and ``"n"`` (number of pairs).
        per_drug: one row per drug with at least ``min_group_size`` pairs.
        per_cell: one row per cell line with at least ``min_group_size`` pairs.
    """

    overall: dict = field(default_factory=dict)
    per_drug: pd.DataFrame = field(default_factory=pd.DataFrame)
    per_cell: pd.DataFrame = field(default_factory=pd.DataFrame)


def _require(frame: pd.DataFrame, columns: list[str], task: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{task} evaluation needs columns {columns}; missing {missing}")
    for col in columns[:2]:
        n_bad = int(frame[col].isna().sum())
        if n_bad:
            raise DataError(f"column {col!r} has {n_bad} missing id(s)")
    for col in columns[2:]:  # numeric columns (cell/drug come first)
        n_bad = int(pd.to_numeric(frame[col], errors="coerce").isna().sum())
        if n_bad:
            raise DataError(f"column {col!r} has {n_bad} missing/non-numeric value(s); "
                            "drop unlabelled or unpredicted pairs before evaluating")


def evaluate_predictions(frame: pd.DataFrame, task: str, threshold: float | None = None,
                         baseline_col: str | None = None,
                         min_group_size: int = 10) -> Evaluation:
    """Evaluate test-set predictions pooled, per drug, per cell and (optionally) normalised.

    Args:
        frame: one row per (cell, drug) pair with columns ``cell``, ``drug`` and,
            for regression, ``y`` (observed) and ``yhat`` (predicted); for
            classification, ``label`` (0/1, 1 = sensitive) and ``score`` (higher =
            more likely sensitive). Optional ``baseline_col`` holds the
            train-fold drug+cell mean-effects prediction.
        task: ``"regression"`` or ``"classification"``.
        threshold: classification decision threshold, chosen beforehand on
            validation data; ``None`` reports only AUROC/AUPRC.
        baseline_col: name of the baseline column (regression only); adds
            ``pcc_norm``/``r2_norm`` overall and per group.
        min_group_size: drugs/cells with fewer test pairs are left out of the
            per-group tables and their summaries.

    Returns:
        :class:`Evaluation` with the flat ``overall`` dict and the per-drug and
        per-cell tables.

    Raises:
        DataError: unknown task, missing columns, NaNs, non-0/1 labels, or a
            baseline given for classification.
    """
    if task == "regression":
        cols = ["cell", "drug", "y", "yhat"] + ([baseline_col] if baseline_col else [])
        _require(frame, cols, task)

        def metric_fn(sub: pd.DataFrame) -> dict[str, float]:
            out = regression_metrics(sub["y"].to_numpy(float), sub["yhat"].to_numpy(float))
            if baseline_col:
                out.update(normalised_regression_metrics(
                    sub["y"].to_numpy(float), sub["yhat"].to_numpy(float),
                    sub[baseline_col].to_numpy(float)))
            return out

    elif task == "classification":
        if baseline_col:
            raise DataError("baseline_col only applies to regression; normalised metrics "
                            "are not defined for classification")
        _require(frame, ["cell", "drug", "label", "score"], task)

        def metric_fn(sub: pd.DataFrame) -> dict[str, float]:
            return classification_metrics(sub["label"].to_numpy(float),
                                          sub["score"].to_numpy(float), threshold)

    else:
        raise DataError(f"unknown task {task!r}; valid tasks: classification, regression")

    if len(frame) == 0:
        raise DataError("evaluate_predictions got an empty prediction frame")
    overall: dict = {"n": len(frame), **metric_fn(frame)}
    # The per-group tables use the vectorised equivalents of ``metric_fn``
    # (``grouped_metrics(frame, col, metric_fn)`` gives the same tables, ~30x slower).
    if task == "regression":
        def per_group(col: str) -> pd.DataFrame:
            return grouped_regression_metrics(frame, col, baseline_col=baseline_col,
                                              min_size=min_group_size)
    else:
        def per_group(col: str) -> pd.DataFrame:
            return grouped_classification_metrics(frame, col, threshold=threshold,
                                                  min_size=min_group_size)
    per_drug = per_group("drug")
    per_cell = per_group("cell")
    for prefix, table in (("drug", per_drug), ("cell", per_cell)):
        overall.update({f"{prefix}_{k}": v for k, v in summarise_grouped(table).items()})
    return Evaluation(overall=overall, per_drug=per_drug, per_cell=per_cell)
