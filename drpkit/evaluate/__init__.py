"""Evaluation of drug response predictions: metrics and significance tests.

:mod:`drpkit.evaluate.metrics` re-exports the metrics that score one set of
predictions (pooled, per drug, per cell line, and relative to a drug + cell
main-effects baseline). They live in :mod:`~drpkit.evaluate.scalar` (one
number from one set of pairs), :mod:`~drpkit.evaluate.threshold` (decision
thresholds and the metrics that need one), :mod:`~drpkit.evaluate.grouped`
(per-drug / per-cell tables) and :mod:`~drpkit.evaluate.evaluation`
(``evaluate_predictions``, all of them for a test fold).
:mod:`drpkit.evaluate.stats` decides whether differences between models over
folds and seeds are larger than chance.
"""
from __future__ import annotations

from drpkit.evaluate.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    SCORE_METRICS,
    THRESHOLD_CRITERIA,
    THRESHOLD_METRICS,
    Evaluation,
    accuracy,
    auprc,
    auroc,
    choose_threshold,
    classification_metrics,
    evaluate_predictions,
    f1,
    grouped_metrics,
    mae,
    mcc,
    normalised_regression_metrics,
    pcc,
    precision,
    r2,
    recall,
    regression_metrics,
    rmse,
    scc,
    summarise_grouped,
)
from drpkit.evaluate.stats import (
    average_ranks,
    compare_to_reference,
    friedman_test,
    holm_correction,
    nemenyi_critical_difference,
    paired_ttest,
    paired_wilcoxon,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "SCORE_METRICS",
    "THRESHOLD_CRITERIA",
    "THRESHOLD_METRICS",
    "Evaluation",
    "accuracy",
    "auprc",
    "auroc",
    "average_ranks",
    "choose_threshold",
    "classification_metrics",
    "compare_to_reference",
    "evaluate_predictions",
    "f1",
    "friedman_test",
    "grouped_metrics",
    "holm_correction",
    "mae",
    "mcc",
    "nemenyi_critical_difference",
    "normalised_regression_metrics",
    "paired_ttest",
    "paired_wilcoxon",
    "pcc",
    "precision",
    "r2",
    "recall",
    "regression_metrics",
    "rmse",
    "scc",
    "summarise_grouped",
]
