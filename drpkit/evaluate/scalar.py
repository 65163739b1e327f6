"""Scalar metrics: one number from one set of (observed, predicted) pairs.

What is here: the regression metrics (:func:`rmse`, :func:`mae`, :func:`pcc`,
:func:`scc`, :func:`r2`) and their bundle :func:`regression_metrics`; the
normalised metrics (:func:`normalised_regression_metrics`, PCC and R2 beyond a
drug + cell main-effects baseline); the classification metrics that rank a
score without a threshold (:func:`auroc`, :func:`auprc`); and the input checks
every metric of :mod:`drpkit.evaluate` shares.

Why a module of its own: these are plain functions of two vectors (no pandas,
no grouping, no fitted threshold), the building blocks of
:mod:`drpkit.evaluate.threshold` and :mod:`drpkit.evaluate.grouped`. The
vectorised per-group code there must reproduce the conventions below exactly,
so they are defined, and stated, once here.

Conventions used throughout :mod:`drpkit.evaluate`:

* All metric functions take 1-D array-likes and return a Python ``float``.
* Correlations (``pcc``, ``scc``) of a constant vector are ``0.0``: a constant
  prediction carries no ranking, so it should score like a random one rather
  than poison averages with NaN. Fewer than two points give ``nan``.
* ``r2`` is ``nan`` for fewer than two points or a constant ``y_true`` (the
  denominator is zero, the score is undefined).
* Classification labels are 0/1 with 1 = *sensitive*; scores are "higher means
  more likely sensitive". ``auroc`` and ``auprc`` are ``nan`` when ``y_true``
  holds a single class (they are undefined, not zero).
* NaNs in inputs raise :class:`~drpkit.errors.DataError`: unlabelled or
  unpredicted pairs must be removed by the caller, not silently skipped here.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

from drpkit.errors import DataError

__all__ = [
    "REGRESSION_METRICS",
    "auprc",
    "auroc",
    "mae",
    "normalised_regression_metrics",
    "pcc",
    "r2",
    "regression_metrics",
    "rmse",
    "scc",
]


# --------------------------------------------------------------------------- input checks


def _vector(values, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float array, rejecting NaN/inf.

    Why: every metric below assumes finite numbers; a NaN in a prediction is a
    bug upstream and must surface as an error rather than a NaN score.
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric: {exc}") from None
    if arr.ndim == 2 and 1 in arr.shape:  # a single row or column vector
        arr = arr.ravel()
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).sum())
        raise DataError(f"{name} contains {bad} NaN/inf value(s); drop those pairs first")
    return arr


def _pair(y_true, y_pred, names: tuple[str, str] = ("y_true", "y_pred")):
    """Validate and return two equal-length finite float vectors."""
    a, b = _vector(y_true, names[0]), _vector(y_pred, names[1])
    if a.shape != b.shape:
        raise DataError(f"{names[0]} and {names[1]} differ in length: {a.size} vs {b.size}")
    return a, b


def _labels(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    """Validate binary 0/1 labels and a same-length finite score vector."""
    y, s = _pair(y_true, score, ("y_true", "score"))
    if y.size and not np.all((y == 0) | (y == 1)):
        found = np.unique(y[(y != 0) & (y != 1)])[:5]
        raise DataError(f"classification labels must be 0/1, found {found.tolist()}")
    return y.astype(bool), s

# --------------------------------------------------------------------------- regression


def rmse(y_true, y_pred) -> float:
    """Root mean squared error; ``nan`` for empty input."""
    y, p = _pair(y_true, y_pred)
    if y.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((y - p) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error; ``nan`` for empty input."""
    y, p = _pair(y_true, y_pred)
    if y.size == 0:
        return float("nan")
    return float(np.mean(np.abs(y - p)))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of validated vectors with the module's conventions."""
    if a.size < 2:
        return float("nan")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        # A constant vector has no ranking to agree with: score it 0, not NaN.
        return 0.0
    da, db = a - a.mean(), b - b.mean()
    # np.sum of products, not np.dot: BLAS dot may spawn threads for long
    # vectors, which is slower than the pairwise sum when cores are busy.
    sa, sb = np.sqrt(np.sum(da * da)), np.sqrt(np.sum(db * db))
    r = float(np.sum(da * db) / (sa * sb))
    return float(min(1.0, max(-1.0, r)))


def pcc(y_true, y_pred) -> float:
    """Pearson correlation coefficient.

    Returns ``0.0`` if either vector is constant (a constant prediction carries
    no ranking information) and ``nan`` for fewer than two points.
    """
    return _pearson(*_pair(y_true, y_pred))


def scc(y_true, y_pred) -> float:
    """Spearman rank correlation (Pearson of average ranks, so ties are handled).

    Same conventions as :func:`pcc`: constant input -> ``0.0``, fewer than two
    points -> ``nan``.
    """
    y, p = _pair(y_true, y_pred)
    if y.size < 2:
        return float("nan")
    return _pearson(rankdata(y), rankdata(p))


def r2(y_true, y_pred) -> float:
    """Coefficient of determination ``1 - SSE / SST`` (can be negative).

    Returns ``nan`` for fewer than two points or a constant ``y_true``, where
    the total sum of squares is zero and the score is undefined.
    """
    y, p = _pair(y_true, y_pred)
    if y.size < 2:
        return float("nan")
    if np.ptp(y) == 0:
        return float("nan")
    sst = float(np.sum((y - y.mean()) ** 2))
    return float(1.0 - np.sum((y - p) ** 2) / sst)


def normalised_regression_metrics(y, yhat, baseline) -> dict[str, float]:
    """PCC and R2 of the predictions *beyond* the drug + cell mean-effects baseline.

    ``baseline`` is the prediction of an additive model ``mu + drug effect +
    cell effect`` fitted on the training fold (by the caller; fitting it on
    the test pairs would leak). Both the truth and the prediction are taken
    relative to it: ``pcc_norm = pcc(y - baseline, yhat - baseline)`` and
    ``r2_norm = r2(y - baseline, yhat - baseline)``.

    Why: most of the variance in drug response is "this drug is potent" and
    "this cell line is sensitive to everything". A model that only learns
    those two main effects reproduces ``baseline`` exactly, so its residual
    prediction is constant and it scores ``pcc_norm = 0`` and ``r2_norm ~ 0``
    here, however good its raw PCC looks. Only predictions of the *specific*
    drug-cell interaction move these scores above zero; perfect predictions
    score 1. ``r2_norm`` is negative when a model is worse than the baseline.
    """
    y, yhat = _pair(y, yhat, ("y", "yhat"))
    _, base = _pair(y, baseline, ("y", "baseline"))
    resid, resid_hat = y - base, yhat - base
    return {"pcc_norm": _pearson(resid, resid_hat), "r2_norm": r2(resid, resid_hat)}


#: name -> ``f(y_true, y_pred) -> float``.
REGRESSION_METRICS: dict[str, Callable[..., float]] = {
    "rmse": rmse,
    "mae": mae,
    "pcc": pcc,
    "scc": scc,
    "r2": r2,
}


def regression_metrics(y, yhat) -> dict[str, float]:
    """All of :data:`REGRESSION_METRICS` for one set of predictions."""
    y, yhat = _pair(y, yhat, ("y", "yhat"))
    return {name: fn(y, yhat) for name, fn in REGRESSION_METRICS.items()}

# --------------------------------------------------------------------------- score ranking


def auroc(y_true, score) -> float:
    """Area under the ROC curve via the Mann-Whitney rank identity.

    ``AUROC = P(score of a random positive > score of a random negative)``,
    ties counting one half; computed from average ranks in O(n log n).
    Returns ``nan`` when ``y_true`` holds a single class.
    """
    y, s = _labels(y_true, score)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auprc(y_true, score) -> float:
    """Area under the precision-recall curve as average precision.

    ``AP = sum_k (R_k - R_{k-1}) * P_k`` over the distinct score thresholds in
    decreasing order (step interpolation, no trapezoids, which would be
    optimistic). Returns ``nan`` when ``y_true`` holds a single class.
    """
    y, s = _labels(y_true, score)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        return float("nan")
    tp, fp = _cumulative_counts(y, s)
    precision_k = tp / (tp + fp)
    recall_k = tp / n_pos
    gains = np.diff(np.concatenate(([0.0], recall_k)))
    return float(np.sum(gains * precision_k))


def _cumulative_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True/false positive counts when thresholding at each distinct score, high to low.

    Entry ``k`` counts the pairs with ``score >= u_k`` where ``u_0 > u_1 > ...``
    are the distinct scores. Shared by AUPRC and threshold selection.
    """
    uniq, inverse = np.unique(s, return_inverse=True)
    pos = np.bincount(inverse, weights=y.astype(float), minlength=uniq.size)[::-1]
    tot = np.bincount(inverse, minlength=uniq.size).astype(float)[::-1]
    tp = np.cumsum(pos)
    fp = np.cumsum(tot) - tp
    return tp, fp
