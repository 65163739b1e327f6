"""Per-group metrics: one row of metrics per drug, or per cell line.

What is here: :func:`grouped_metrics` (the generic path: any metric function,
called once per group), :func:`summarise_grouped` (mean and median of each
metric across groups), and the vectorised :func:`grouped_regression_metrics`
and :func:`grouped_classification_metrics`, which compute the built-in metric
sets (including the normalised ones) for all groups at once.

Why per group: a pooled correlation over all (cell, drug) pairs is dominated
by *between-drug* differences (some drugs are simply more potent than
others), so a model that only memorises each drug's mean response already
scores a high pooled PCC. Per-drug metrics (rank the cells for one drug) and
per-cell metrics (rank the drugs for one cell) answer the questions a user
actually asks.

Why vectorised: the generic loop costs ~1 ms per group, and a test fold has
hundreds of drugs and cells; the whole-array versions are ~30x faster
(``benchmarks/bench_metrics.py --reference``). They must return the same
tables as the generic loop over the scalar functions of
:mod:`drpkit.evaluate.scalar` and :mod:`drpkit.evaluate.threshold`, with the
same conventions, up to floating-point rounding; ``tests/test_metrics.py``
checks this.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from drpkit.errors import DataError
from drpkit.evaluate.scalar import _vector

__all__ = [
    "grouped_classification_metrics",
    "grouped_metrics",
    "grouped_regression_metrics",
    "summarise_grouped",
]


# --------------------------------------------------------------------------- grouped, generic


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
# functions (drpkit.evaluate.scalar and drpkit.evaluate.threshold).
# ``grouped_metrics`` stays the path for custom metric_fns.


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
    """Per-group ``scalar._pearson``: nan below two points, 0.0 if either side is constant."""
    da, db = groups.centred(a), groups.centred(b)
    sa, sb = np.sqrt(groups.sum(da * da)), np.sqrt(groups.sum(db * db))
    r = np.clip(groups.sum(da * db) / (sa * sb), -1.0, 1.0)
    r = np.where(groups.constant(a) | groups.constant(b), 0.0, r)
    return np.where(groups.counts < 2, np.nan, r)


def _grouped_r2(groups: _Groups, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-group ``scalar.r2``: nan below two points or for a constant ``y``."""
    dy = groups.centred(y)
    sst = groups.sum(dy * dy)
    sse = groups.sum((y - p) ** 2)
    out = 1.0 - sse / sst
    return np.where((groups.counts < 2) | groups.constant(y), np.nan, out)


def grouped_regression_metrics(frame: pd.DataFrame, group_col: str, y_col: str = "y",
                               pred_col: str = "yhat", baseline_col: str | None = None,
                               min_size: int = 10) -> pd.DataFrame:
    """Vectorised per-group :func:`~drpkit.evaluate.scalar.regression_metrics` (+ normalised).

    Equal to ``grouped_metrics(frame, group_col, fn, min_size)`` where ``fn``
    returns :func:`~drpkit.evaluate.scalar.regression_metrics` of the group
    and, if ``baseline_col`` is given,
    :func:`~drpkit.evaluate.scalar.normalised_regression_metrics` too: same
    columns (``group``, ``n``, ``rmse``, ``mae``, ``pcc``, ``scc``, ``r2`` and
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
    """Vectorised per-group :func:`~drpkit.evaluate.threshold.classification_metrics`.

    Equal to ``grouped_metrics(frame, group_col, fn, min_size)`` where ``fn``
    returns ``classification_metrics(label, score, threshold)`` of the group:
    ``auroc`` from within-group average ranks (Mann-Whitney), ``auprc`` as the
    step-wise average precision of :func:`~drpkit.evaluate.scalar.auprc`
    (cumulative counts over distinct scores, high to low), and, when
    ``threshold`` is given, ``acc``, ``f1``, ``mcc``, ``precision``,
    ``recall`` from per-group confusion counts, all with the single-class
    conventions of the scalar functions.

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
