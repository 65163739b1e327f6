"""Metrics for drug response predictions: overall, per drug, per cell and normalised.

Why several views of the same predictions: a pooled correlation over all
(cell, drug) pairs is dominated by *between-drug* differences (some drugs are
simply more potent than others), so a model that only memorises each drug's
mean response already scores a high pooled PCC. Per-drug metrics (rank the
cells for one drug) and per-cell metrics (rank the drugs for one cell) answer
the questions a user actually asks, and the normalised metrics
(:func:`normalised_regression_metrics`) remove both main effects at once.

Conventions used throughout the module:

* All metric functions take 1-D array-likes and return a Python ``float``.
* Correlations (``pcc``, ``scc``) of a constant vector are ``0.0``: a constant
  prediction carries no ranking, so it should score like a random one rather
  than poison averages with NaN. Fewer than two points give ``nan``.
* ``r2`` is ``nan`` for fewer than two points or a constant ``y_true`` (the
  denominator is zero, the score is undefined).
* Classification labels are 0/1 with 1 = *sensitive*; scores are "higher means
  more likely sensitive". Threshold metrics call a pair positive when
  ``score >= threshold``.
* ``auroc``, ``auprc``, ``recall`` and ``mcc`` are ``nan`` when ``y_true`` holds
  a single class (they are undefined, not zero). ``mcc`` is ``0.0`` when the
  *prediction* is a single class (no information, as with correlations);
  ``precision`` is ``0.0`` when nothing is predicted positive.
* NaNs in inputs raise :class:`~drpkit.errors.DataError`: unlabelled or
  unpredicted pairs must be removed by the caller, not silently skipped here.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from drpkit.errors import DataError

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


# --------------------------------------------------------------------------- classification


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


#: name -> ``f(y_true, y_pred) -> float``.
REGRESSION_METRICS: dict[str, Callable[..., float]] = {
    "rmse": rmse,
    "mae": mae,
    "pcc": pcc,
    "scc": scc,
    "r2": r2,
}

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


# --------------------------------------------------------------------------- bundles


def regression_metrics(y, yhat) -> dict[str, float]:
    """All of :data:`REGRESSION_METRICS` for one set of predictions."""
    y, yhat = _pair(y, yhat, ("y", "yhat"))
    return {name: fn(y, yhat) for name, fn in REGRESSION_METRICS.items()}


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


# --------------------------------------------------------------------------- grouped


def grouped_metrics(frame: pd.DataFrame, group_col: str,
                    metric_fn: Callable[[pd.DataFrame], Mapping[str, float]],
                    min_size: int = 10) -> pd.DataFrame:
    """Compute a metrics dict separately for each group (e.g. each drug or cell).

    Small groups are skipped because a correlation over a handful of pairs is
    mostly noise and would dominate the mean across groups.

    Args:
        frame: predictions, one row per pair.
        group_col: column to group on (``"drug"`` or ``"cell"``).
        metric_fn: called with each group's sub-frame; returns ``{metric: value}``.
        min_size: groups with fewer rows are left out.

    Returns:
        One row per kept group, sorted by group, with columns ``group``, ``n``
        and the metric names (only ``group`` and ``n`` if no group is kept).
    """
    if group_col not in frame.columns:
        raise DataError(f"grouped_metrics: no column {group_col!r} in "
                        f"{list(frame.columns)}")
    rows = []
    for key, sub in frame.groupby(group_col, sort=True, observed=True):
        if len(sub) < min_size:
            continue
        rows.append({"group": key, "n": len(sub), **dict(metric_fn(sub))})
    if not rows:
        return pd.DataFrame({"group": pd.Series(dtype=object), "n": pd.Series(dtype=int)})
    return pd.DataFrame(rows).reset_index(drop=True)


def summarise_grouped(df: pd.DataFrame) -> dict[str, float]:
    """Mean and median of each metric column across groups, skipping NaN groups.

    Returns keys ``"<metric>_mean"`` and ``"<metric>_median"`` for every
    column except ``group`` and ``n``, plus ``"n_groups"`` (rows in ``df``).
    A metric that is NaN in every group summarises to NaN.
    """
    out: dict[str, float] = {"n_groups": len(df)}
    for col in df.columns:
        if col in ("group", "n"):
            continue
        values = pd.to_numeric(df[col], errors="coerce")
        out[f"{col}_mean"] = float(values.mean()) if values.notna().any() else float("nan")
        out[f"{col}_median"] = float(values.median()) if values.notna().any() else float("nan")
    return out


# --------------------------------------------------------------------------- grouped, vectorised
#
# The generic ``grouped_metrics`` calls a Python metric function once per group,
# which costs ~1 ms per group in slicing, validation and scipy calls. The
# functions below compute the same per-group tables for the built-in metric
# sets with whole-array numpy operations (bincount sums, sort-based ranks and
# cumulative counts), following exactly the conventions of the scalar
# functions above. ``grouped_metrics`` stays the path for custom metric_fns.


class _Groups:
    """Integer group codes of a frame plus the reductions the fast metrics need.

    Groups are numbered ``0 .. n_groups-1`` in the order ``frame.groupby(col,
    sort=True, observed=True)`` iterates them, so tables built here line up
    with :func:`grouped_metrics`. Rows whose key is missing belong to no group
    (``rows`` selects the others), as ``groupby`` drops them too.
    """

    def __init__(self, frame: pd.DataFrame, group_col: str):
        if group_col not in frame.columns:
            raise DataError(f"grouped_metrics: no column {group_col!r} in "
                            f"{list(frame.columns)}")
        grouped = frame.groupby(group_col, sort=True, observed=True)
        sizes = grouped.size()
        numbers = grouped.ngroup().to_numpy(dtype=float)
        self.rows = np.isfinite(numbers)  # False only for missing keys
        self.codes = numbers[self.rows].astype(np.intp)
        self.keys = list(sizes.index)
        self.n_groups = len(self.keys)
        self.counts = np.bincount(self.codes, minlength=self.n_groups)
        # A stable sort of 16-bit keys is a radix sort in numpy: much faster.
        self._sort_codes = (self.codes.astype(np.uint16) if self.n_groups <= 1 << 16
                            else self.codes)
        self.order = np.argsort(self._sort_codes, kind="stable")  # rows grouped together
        self.starts = np.concatenate(([0], np.cumsum(self.counts)[:-1])).astype(np.intp)

    def column(self, frame: pd.DataFrame, col: str) -> np.ndarray:
        """Finite float values of ``col`` for the rows that belong to a group."""
        return _vector(frame[col].to_numpy(dtype=float)[self.rows], col)

    def sum(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes, weights=x, minlength=self.n_groups)

    def mean(self, x: np.ndarray) -> np.ndarray:
        return self.sum(x) / self.counts

    def centred(self, x: np.ndarray) -> np.ndarray:
        """``x`` minus its group mean (two-pass, as the scalar functions do)."""
        return x - self.mean(x)[self.codes]

    def constant(self, x: np.ndarray) -> np.ndarray:
        """Per group: is ``x`` constant (``np.ptp == 0``)?"""
        xs = x[self.order]
        return np.maximum.reduceat(xs, self.starts) == np.minimum.reduceat(xs, self.starts)

    def sort_within(self, x: np.ndarray) -> np.ndarray:
        """Row order by group, then by ascending ``x`` (order among ties arbitrary)."""
        by_x = np.argsort(x)
        return by_x[np.argsort(self._sort_codes[by_x], kind="stable")]

    def average_ranks(self, x: np.ndarray) -> np.ndarray:
        """Within-group 1-based ranks, ties sharing their average (``rankdata``)."""
        order = self.sort_within(x)
        g, v = self.codes[order], x[order]
        n = v.size
        pos = np.arange(n)
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = g[1:] != g[:-1]
        new_block = new_group.copy()
        new_block[1:] |= v[1:] != v[:-1]
        group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
        first = pos[new_block]
        last = np.append(first[1:] - 1, n - 1)
        block_rank = (first + last) / 2.0 - group_start[new_block] + 1.0
        ranks = np.empty(n)
        ranks[order] = block_rank[np.cumsum(new_block) - 1]
        return ranks

    def table(self, metrics: dict[str, np.ndarray], min_size: int) -> pd.DataFrame:
        """The per-group table in :func:`grouped_metrics`' layout."""
        keep = np.flatnonzero(self.counts >= min_size)
        if keep.size == 0:
            return pd.DataFrame({"group": pd.Series(dtype=object),
                                 "n": pd.Series(dtype=int)})
        data = {"group": [self.keys[i] for i in keep],
                "n": self.counts[keep].astype(np.int64)}
        data.update({name: np.asarray(values, dtype=float)[keep]
                     for name, values in metrics.items()})
        return pd.DataFrame(data)


def _grouped_pearson(groups: _Groups, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-group :func:`_pearson`: nan below two points, 0.0 if either side is constant."""
    da, db = groups.centred(a), groups.centred(b)
    sa, sb = np.sqrt(groups.sum(da * da)), np.sqrt(groups.sum(db * db))
    r = np.clip(groups.sum(da * db) / (sa * sb), -1.0, 1.0)
    r = np.where(groups.constant(a) | groups.constant(b), 0.0, r)
    return np.where(groups.counts < 2, np.nan, r)


def _grouped_r2(groups: _Groups, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-group :func:`r2`: nan below two points or for a constant ``y``."""
    dy = groups.centred(y)
    sst = groups.sum(dy * dy)
    sse = groups.sum((y - p) ** 2)
    out = 1.0 - sse / sst
    return np.where((groups.counts < 2) | groups.constant(y), np.nan, out)


def grouped_regression_metrics(frame: pd.DataFrame, group_col: str, y_col: str = "y",
                               pred_col: str = "yhat", baseline_col: str | None = None,
                               min_size: int = 10) -> pd.DataFrame:
    """Vectorised per-group :func:`regression_metrics` (+ normalised ones).

    Equal to ``grouped_metrics(frame, group_col, fn, min_size)`` where ``fn``
    returns :func:`regression_metrics` of the group and, if ``baseline_col``
    is given, :func:`normalised_regression_metrics` too: same columns
    (``group``, ``n``, ``rmse``, ``mae``, ``pcc``, ``scc``, ``r2`` and
    ``pcc_norm``, ``r2_norm``), group order, ``min_size`` filter and
    conventions, up to floating-point rounding (~1e-15).

    Raises:
        DataError: missing column or NaN/inf values.
    """
    groups = _Groups(frame, group_col)
    with np.errstate(divide="ignore", invalid="ignore"):
        if groups.n_groups == 0:
            return groups.table({}, min_size)
        y = groups.column(frame, y_col)
        p = groups.column(frame, pred_col)
        err = y - p
        out = {
            "rmse": np.sqrt(groups.mean(err ** 2)),
            "mae": groups.mean(np.abs(err)),
            "pcc": _grouped_pearson(groups, y, p),
            "scc": _grouped_pearson(groups, groups.average_ranks(y),
                                    groups.average_ranks(p)),
            "r2": _grouped_r2(groups, y, p),
        }
        if baseline_col:
            base = groups.column(frame, baseline_col)
            resid, resid_hat = y - base, p - base
            out["pcc_norm"] = _grouped_pearson(groups, resid, resid_hat)
            out["r2_norm"] = _grouped_r2(groups, resid, resid_hat)
    return groups.table(out, min_size)


def grouped_classification_metrics(frame: pd.DataFrame, group_col: str,
                                   label_col: str = "label", score_col: str = "score",
                                   threshold: float | None = None,
                                   min_size: int = 10) -> pd.DataFrame:
    """Vectorised per-group :func:`classification_metrics`.

    Equal to ``grouped_metrics(frame, group_col, fn, min_size)`` where ``fn``
    returns ``classification_metrics(label, score, threshold)`` of the group:
    ``auroc`` from within-group average ranks (Mann-Whitney), ``auprc`` as the
    step-wise average precision of :func:`auprc` (cumulative counts over
    distinct scores, high to low), and, when ``threshold`` is given, ``acc``,
    ``f1``, ``mcc``, ``precision``, ``recall`` from per-group confusion counts,
    all with the single-class conventions of the scalar functions.

    Raises:
        DataError: missing column, NaN/inf, labels other than 0/1, or a
            non-finite threshold.
    """
    groups = _Groups(frame, group_col)
    if threshold is not None and not np.isfinite(float(threshold)):
        raise DataError(f"threshold must be a finite number, got {threshold!r}")
    if groups.n_groups == 0:
        return groups.table({}, min_size)
    y = groups.column(frame, label_col)
    s = groups.column(frame, score_col)
    if not np.all((y == 0) | (y == 1)):
        found = np.unique(y[(y != 0) & (y != 1)])[:5]
        raise DataError(f"classification labels must be 0/1, found {found.tolist()}")
    codes, counts = groups.codes, groups.counts
    n_pos = groups.sum(y)
    n_neg = counts - n_pos
    single_class = (n_pos == 0) | (n_neg == 0)

    with np.errstate(divide="ignore", invalid="ignore"):
        # AUROC: Mann-Whitney U from within-group average ranks.
        rank_sum_pos = groups.sum(groups.average_ranks(s) * y)
        u = rank_sum_pos - n_pos * (n_pos + 1) / 2.0
        auroc_g = np.where(single_class, np.nan, u / (n_pos * n_neg))

        # AUPRC: walk each group from the highest score down; every run of tied
        # scores is one threshold k with tp_k / (tp_k + fp_k) as precision and
        # the run's positives / n_pos as the recall gain.
        order = groups.sort_within(-s)
        g, v, lab = codes[order], s[order], y[order]
        n = v.size
        last_in_run = np.ones(n, dtype=bool)
        last_in_run[:-1] = (g[1:] != g[:-1]) | (v[1:] != v[:-1])
        ends = np.flatnonzero(last_in_run)
        end_groups = g[ends]
        before = groups.starts[end_groups]  # rows of the earlier groups
        cum_pos = np.cumsum(lab)
        pos_before = np.concatenate(([0.0], cum_pos))[before]
        tp = cum_pos[ends] - pos_before
        seen = ends + 1 - before
        tp_prev = np.concatenate(([0.0], tp[:-1]))
        tp_prev[np.concatenate(([True], end_groups[1:] != end_groups[:-1]))] = 0.0
        gains = (tp - tp_prev) / n_pos[end_groups]
        ap = np.bincount(end_groups, weights=gains * (tp / seen),
                         minlength=groups.n_groups)
        auprc_g = np.where(single_class, np.nan, ap)

        out = {"auroc": auroc_g, "auprc": auprc_g}
        if threshold is not None:
            called = s >= float(threshold)
            tp_t = np.bincount(codes, weights=called & (y == 1),
                               minlength=groups.n_groups).astype(np.int64)
            fp_t = np.bincount(codes, weights=called & (y == 0),
                               minlength=groups.n_groups).astype(np.int64)
            fn_t = n_pos.astype(np.int64) - tp_t
            tn_t = counts - tp_t - fp_t - fn_t
            out["acc"] = (tp_t + tn_t) / counts
            f1_denom = 2 * tp_t + fp_t + fn_t
            out["f1"] = np.where(f1_denom > 0, 2 * tp_t / f1_denom, np.nan)
            mcc_denom = np.sqrt((tp_t + fp_t).astype(float) * (tp_t + fn_t)
                                * (tn_t + fp_t) * (tn_t + fn_t))
            mcc_g = np.where(mcc_denom == 0, 0.0,
                             (tp_t * tn_t - fp_t * fn_t) / mcc_denom)
            out["mcc"] = np.where((tp_t + fn_t == 0) | (tn_t + fp_t == 0), np.nan, mcc_g)
            out["precision"] = np.where(tp_t + fp_t > 0, tp_t / (tp_t + fp_t), 0.0)
            out["recall"] = np.where(tp_t + fn_t > 0, tp_t / (tp_t + fn_t), np.nan)
    return groups.table(out, min_size)


# --------------------------------------------------------------------------- whole evaluation


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
