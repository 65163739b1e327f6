"""Thresholded classification: choosing a decision threshold, and the metrics that need one.

What is here: :func:`choose_threshold` (the cut-off that maximises MCC, F1 or
Youden's J on validation pairs); the threshold metrics :func:`accuracy`,
:func:`precision`, :func:`recall`, :func:`f1` and :func:`mcc`; the
classification registry (:data:`CLASSIFICATION_METRICS`,
:data:`SCORE_METRICS`, :data:`THRESHOLD_METRICS`, :data:`THRESHOLD_CRITERIA`);
and :func:`classification_metrics`, which adds the threshold metrics to the
score metrics (:func:`~drpkit.evaluate.scalar.auroc`,
:func:`~drpkit.evaluate.scalar.auprc`) when a threshold is given.

Why a module of its own: unlike every other metric, a threshold metric
depends on a *fitted* quantity. The threshold must be chosen on validation
pairs and only then applied to the test pairs; choosing it on the pairs it is
scored on inflates every number here. Keeping the choice and its use side by
side keeps that protocol in one place; the threshold-free metrics stay in
:mod:`drpkit.evaluate.scalar`.

Conventions (besides those of :mod:`drpkit.evaluate.scalar`):

* A pair is called positive (sensitive) when ``score >= threshold``; a
  non-finite threshold raises :class:`~drpkit.errors.DataError`.
* ``recall`` and ``mcc`` are ``nan`` when ``y_true`` holds a single class
  (undefined, not zero). ``mcc`` is ``0.0`` when the *prediction* is a single
  class (no information, as with correlations); ``precision`` is ``0.0`` when
  nothing is predicted positive; ``f1`` is ``nan`` when there are no positives
  and none are predicted.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from drpkit.errors import DataError
from drpkit.evaluate.scalar import _cumulative_counts, _labels, auprc, auroc

__all__ = [
    "CLASSIFICATION_METRICS",
    "SCORE_METRICS",
    "THRESHOLD_CRITERIA",
    "THRESHOLD_METRICS",
    "accuracy",
    "choose_threshold",
    "classification_metrics",
    "f1",
    "mcc",
    "precision",
    "recall",
]


# --------------------------------------------------------------------------- threshold metrics


def _confusion(y_true, score, threshold) -> tuple[int, int, int, int]:
    """``(tp, fp, tn, fn)`` when calling ``score >= threshold`` positive."""
    y, s = _labels(y_true, score)
    if threshold is None or not np.isfinite(float(threshold)):
        raise DataError(f"threshold must be a finite number, got {threshold!r}")
    pred = s >= float(threshold)
    tp = int(np.sum(pred & y))
    fp = int(np.sum(pred & ~y))
    fn = int(np.sum(~pred & y))
    tn = int(y.size - tp - fp - fn)
    return tp, fp, tn, fn


def accuracy(y_true, score, threshold: float) -> float:
    """Fraction of pairs classified correctly at ``score >= threshold``; ``nan`` if empty."""
    tp, fp, tn, fn = _confusion(y_true, score, threshold)
    n = tp + fp + tn + fn
    return float((tp + tn) / n) if n else float("nan")


def precision(y_true, score, threshold: float) -> float:
    """``tp / (tp + fp)``; ``0.0`` when nothing is predicted positive (no credit)."""
    tp, fp, _, _ = _confusion(y_true, score, threshold)
    return float(tp / (tp + fp)) if tp + fp else 0.0


def recall(y_true, score, threshold: float) -> float:
    """``tp / (tp + fn)`` (sensitivity); ``nan`` when there are no positives."""
    tp, _, _, fn = _confusion(y_true, score, threshold)
    return float(tp / (tp + fn)) if tp + fn else float("nan")


def f1(y_true, score, threshold: float) -> float:
    """Harmonic mean of precision and recall, ``2tp / (2tp + fp + fn)``.

    ``nan`` when there are no positives and none are predicted (undefined).
    """
    tp, fp, _, fn = _confusion(y_true, score, threshold)
    denom = 2 * tp + fp + fn
    return float(2 * tp / denom) if denom else float("nan")


def mcc(y_true, score, threshold: float) -> float:
    """Matthews correlation coefficient of the thresholded prediction.

    ``nan`` when ``y_true`` holds a single class (undefined); ``0.0`` when the
    prediction is a single class (it carries no information).
    """
    tp, fp, tn, fn = _confusion(y_true, score, threshold)
    if tp + fn == 0 or tn + fp == 0:
        return float("nan")
    denom = np.sqrt(float(tp + fp) * float(tp + fn) * float(tn + fp) * float(tn + fn))
    if denom == 0:
        return 0.0
    return float((tp * tn - fp * fn) / denom)


#: name -> metric. ``auroc``/``auprc`` are ``f(y_true, score)``; the threshold
#: metrics are ``f(y_true, score, threshold)``.
CLASSIFICATION_METRICS: dict[str, Callable[..., float]] = {
    "auroc": auroc,
    "auprc": auprc,
    "acc": accuracy,
    "f1": f1,
    "mcc": mcc,
    "precision": precision,
    "recall": recall,
}

#: Classification metrics that rank a continuous score (no threshold).
SCORE_METRICS: tuple[str, ...] = ("auroc", "auprc")
#: Classification metrics that need a threshold (``score >= threshold`` is positive).
THRESHOLD_METRICS: tuple[str, ...] = ("acc", "f1", "mcc", "precision", "recall")
#: Criteria accepted by :func:`choose_threshold`.
THRESHOLD_CRITERIA: tuple[str, ...] = ("mcc", "f1", "youden")


# --------------------------------------------------------------------------- thresholds


def choose_threshold(y_true_val, score_val, criterion: str = "mcc") -> float:
    """Pick the decision threshold that maximises ``criterion`` on validation data.

    The caller must pass a *validation* split (never the test split): a
    threshold tuned on the pairs it is then scored on inflates every
    threshold metric. Candidates are the lowest distinct score (everything
    positive) and the midpoints between consecutive distinct scores, so the
    chosen value sits between observed scores rather than on one and
    transfers sensibly to unseen scores. Ties between candidates go to the
    lowest threshold.

    Args:
        y_true_val: 0/1 labels of the validation pairs (1 = sensitive).
        score_val: scores of the same pairs, higher = more likely sensitive.
        criterion: ``"mcc"``, ``"f1"`` or ``"youden"`` (sensitivity +
            specificity - 1).

    Returns:
        The threshold ``t``; classify a pair positive when ``score >= t``.

    Raises:
        DataError: unknown criterion, or fewer than both classes present.
    """
    if criterion not in THRESHOLD_CRITERIA:
        raise DataError(f"unknown threshold criterion {criterion!r}; "
                        f"valid: {', '.join(THRESHOLD_CRITERIA)}")
    y, s = _labels(y_true_val, score_val)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise DataError("choose_threshold needs both classes in the validation labels "
                        f"(got {n_pos} positive, {n_neg} negative)")
    uniq = np.unique(s)
    # Candidate k (ascending) calls score >= uniq[k] positive.
    candidates = np.concatenate(([uniq[0]], (uniq[:-1] + uniq[1:]) / 2.0))
    tp, fp = _cumulative_counts(y, s)  # descending thresholds
    tp, fp = tp[::-1], fp[::-1]  # now aligned with ascending candidates
    fn = n_pos - tp
    tn = n_neg - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        if criterion == "mcc":
            denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
            value = np.where(denom > 0, (tp * tn - fp * fn) / denom, 0.0)
        elif criterion == "f1":
            value = 2 * tp / (2 * tp + fp + fn)
        else:
            value = tp / n_pos - fp / n_neg
    return float(candidates[int(np.argmax(value))])


def classification_metrics(y, score, threshold: float | None = None) -> dict[str, float]:
    """Score metrics always, threshold metrics only when ``threshold`` is given.

    Args:
        y: 0/1 labels (1 = sensitive).
        score: continuous score, higher = more likely sensitive.
        threshold: decision threshold chosen on validation data
            (see :func:`choose_threshold`); ``None`` skips acc/f1/mcc/precision/recall.
    """
    y, score = _labels(y, score)
    out = {name: CLASSIFICATION_METRICS[name](y, score) for name in SCORE_METRICS}
    if threshold is not None:
        for name in THRESHOLD_METRICS:
            out[name] = CLASSIFICATION_METRICS[name](y, score, threshold)
    return out
