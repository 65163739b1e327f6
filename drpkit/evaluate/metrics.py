"""Metrics for drug response predictions: the public names, re-exported from where they live.

This module used to hold every metric (808 lines); it is now split by
concern and this facade keeps ``from drpkit.evaluate.metrics import ...``
working for every name it exported before. It defines nothing itself.

* :mod:`drpkit.evaluate.scalar`: one number from one set of pairs, with the
  conventions every metric follows: ``rmse``, ``mae``, ``pcc``, ``scc``,
  ``r2``, ``auroc``, ``auprc``, ``normalised_regression_metrics``,
  ``regression_metrics``, ``REGRESSION_METRICS``.
* :mod:`drpkit.evaluate.threshold`: decision thresholds and the metrics that
  need one: ``choose_threshold``, ``accuracy``, ``precision``, ``recall``,
  ``f1``, ``mcc``, ``classification_metrics`` and the registries
  ``CLASSIFICATION_METRICS``, ``SCORE_METRICS``, ``THRESHOLD_METRICS``,
  ``THRESHOLD_CRITERIA``.
* :mod:`drpkit.evaluate.grouped`: per-drug / per-cell tables:
  ``grouped_metrics``, ``grouped_regression_metrics``,
  ``grouped_classification_metrics``, ``summarise_grouped``.
* :mod:`drpkit.evaluate.evaluation`: ``evaluate_predictions`` (pooled +
  per-group + normalised metrics of a test fold) and its result ``Evaluation``.
"""
from __future__ import annotations

from drpkit.evaluate.evaluation import Evaluation, evaluate_predictions
from drpkit.evaluate.grouped import (
    grouped_classification_metrics,
    grouped_metrics,
    grouped_regression_metrics,
    summarise_grouped,
)
from drpkit.evaluate.scalar import (
    REGRESSION_METRICS,
    auprc,
    auroc,
    mae,
    normalised_regression_metrics,
    pcc,
    r2,
    regression_metrics,
    rmse,
    scc,
)
from drpkit.evaluate.threshold import (
    CLASSIFICATION_METRICS,
    SCORE_METRICS,
    THRESHOLD_CRITERIA,
    THRESHOLD_METRICS,
    accuracy,
    choose_threshold,
    classification_metrics,
    f1,
    mcc,
    precision,
    recall,
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
    "choose_threshold",
    "classification_metrics",
    "evaluate_predictions",
    "f1",
    "grouped_classification_metrics",
    "grouped_metrics",
    "grouped_regression_metrics",
    "mae",
    "mcc",
    "normalised_regression_metrics",
    "pcc",
    "precision",
    "r2",
    "recall",
    "regression_metrics",
    "rmse",
    "scc",
    "summarise_grouped",
]
