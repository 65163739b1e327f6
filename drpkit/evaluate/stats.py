"""Significance tests for comparing models across folds and seeds.

Why this module exists: drug response benchmarks often report a new model as
"better" from a difference in mean PCC of a few thousandths over 5 folds.
These helpers make the comparison explicit: paired tests over the same folds,
Holm correction when several models are compared with one reference, and the
Friedman / Nemenyi procedure (Demsar, 2006) for ranking many models.

Conventions:

* Scores are paired by fold: ``a[i]`` and ``b[i]`` must come from the same
  split (and seed). Pairs where either value is NaN are dropped.
* With ``n`` paired folds, an exact two-sided Wilcoxon test cannot give
  ``p < 2 / 2**n``; with 5 folds the smallest p is 0.0625, so nothing can be
  significant at 0.05. Use at least 6 (better 10) folds x seeds.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats as sps

from drpkit.errors import DataError

__all__ = [
    "average_ranks",
    "compare_to_reference",
    "friedman_test",
    "holm_correction",
    "nemenyi_critical_difference",
    "paired_ttest",
    "paired_wilcoxon",
]

_ALTERNATIVES = ("two-sided", "greater", "less")


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Equal-length float vectors with NaN pairs removed."""
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise DataError(f"paired samples differ in length: {x.size} vs {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise DataError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")


def paired_wilcoxon(a, b, alternative: str = "two-sided") -> tuple[float, float]:
    """Wilcoxon signed-rank test on the paired differences ``a - b``.

    Zero differences are discarded (scipy's ``zero_method="wilcox"``); when
    *every* difference is zero the samples are identical and the result is
    ``(0.0, 1.0)`` rather than an error. scipy chooses the exact distribution
    for up to 50 untied non-zero differences; with ties or zeros it runs an
    exhaustive permutation for up to 13 pairs (can take about a second) and
    the normal approximation beyond.

    Args:
        a, b: paired scores (same folds, same order).
        alternative: ``"two-sided"``, ``"greater"`` (a > b) or ``"less"``.

    Returns:
        ``(statistic, p)``; ``(nan, nan)`` for fewer than two pairs.
    """
    _check_alternative(alternative)
    x, y = _paired(a, b)
    if x.size < 2:
        return float("nan"), float("nan")
    if np.all(x - y == 0):
        return 0.0, 1.0
    with warnings.catch_warnings():
        # Few non-zero differences trigger a "sample size too small" warning only.
        warnings.simplefilter("ignore", UserWarning)
        res = sps.wilcoxon(x, y, zero_method="wilcox", alternative=alternative)
    return float(res.statistic), float(res.pvalue)


def paired_ttest(a, b, alternative: str = "two-sided") -> tuple[float, float]:
    """Paired t-test on ``a - b`` (assumes roughly normal differences).

    Returns ``(t, p)``; ``(nan, nan)`` for fewer than two pairs and
    ``(0.0, 1.0)`` when all differences are zero. When the differences are a
    non-zero constant, ``t`` is +-inf and ``p`` is 0 in the direction of the
    difference (1 against it).
    """
    _check_alternative(alternative)
    x, y = _paired(a, b)
    if x.size < 2:
        return float("nan"), float("nan")
    d = x - y
    if np.all(d == 0):
        return 0.0, 1.0
    if np.ptp(d) == 0:
        sign = 1.0 if d[0] > 0 else -1.0
        if alternative == "two-sided":
            p = 0.0
        else:
            p = 0.0 if (sign > 0) == (alternative == "greater") else 1.0
        return sign * math.inf, p
    res = sps.ttest_rel(x, y, alternative=alternative)
    return float(res.statistic), float(res.pvalue)


def holm_correction(pvalues) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values, in the input order.

    Sort the ``m`` p-values ascending; the ``i``-th smallest (1-based) is
    multiplied by ``m - i + 1``, then a running maximum keeps the adjusted
    values monotone, and everything is capped at 1. Rejecting where the
    adjusted p is below alpha controls the family-wise error rate at alpha,
    uniformly more powerful than plain Bonferroni. NaN p-values stay NaN and
    do not count towards ``m``.
    """
    p = np.asarray(pvalues, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    if np.any((p[valid] < 0) | (p[valid] > 1)):
        raise DataError("p-values must lie in [0, 1]")
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def _within_row_ranks(matrix: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Average ranks inside each row; rank 1 is the best model of that fold."""
    oriented = -matrix if higher_is_better else matrix
    return np.apply_along_axis(sps.rankdata, 1, oriented)


def _complete_rows(score_matrix: pd.DataFrame) -> np.ndarray:
    if not isinstance(score_matrix, pd.DataFrame):
        score_matrix = pd.DataFrame(score_matrix)
    values = score_matrix.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return values[~np.isnan(values).any(axis=1)]


def friedman_test(score_matrix: pd.DataFrame) -> tuple[float, float]:
    """Friedman rank test that all models perform equally.

    Each row (fold / dataset) is a block, each column a model. Scores are
    ranked within rows (average ranks for ties) and the chi-square statistic
    is corrected for ties, so it equals ``scipy.stats.friedmanchisquare`` for
    three or more models; two models are also accepted. Rows with any NaN
    are dropped.

    Returns:
        ``(statistic, p)`` with ``p`` from chi-square with ``k - 1`` degrees of
        freedom; ``(nan, nan)`` with fewer than 2 complete rows or 2 models;
        ``(0.0, 1.0)`` when every row is a complete tie.
    """
    values = _complete_rows(score_matrix)
    n, k = values.shape
    if n < 2 or k < 2:
        return float("nan"), float("nan")
    ranks = _within_row_ranks(values, higher_is_better=True)
    rank_sums = ranks.sum(axis=0)
    stat = 12.0 / (n * k * (k + 1)) * np.sum(rank_sums ** 2) - 3.0 * n * (k + 1)
    tie_term = 0.0
    for row in values:
        _, counts = np.unique(row, return_counts=True)
        tie_term += float(np.sum(counts ** 3 - counts))
    correction = 1.0 - tie_term / (n * k * (k * k - 1))
    if correction <= 0:
        return 0.0, 1.0
    stat = max(float(stat / correction), 0.0)
    return stat, float(sps.chi2.sf(stat, k - 1))


def nemenyi_critical_difference(n_models: int, n_datasets: int, alpha: float = 0.05) -> float:
    """Critical difference in average rank for the Nemenyi post-hoc test.

    Two models whose average ranks (over ``n_datasets`` folds) differ by more
    than ``CD = q_alpha * sqrt(k (k + 1) / (6 N))`` differ significantly, where
    ``q_alpha`` is the studentised range quantile for ``k`` groups and infinite
    degrees of freedom divided by sqrt(2) (Demsar, 2006: 1.960, 2.343, 2.569
    for k = 2, 3, 4 at alpha = 0.05).
    """
    k, n = int(n_models), int(n_datasets)
    if k < 2 or n < 1:
        raise DataError(f"Nemenyi needs >= 2 models and >= 1 dataset, got {k} and {n}")
    if not 0 < alpha < 1:
        raise DataError(f"alpha must lie in (0, 1), got {alpha}")
    q_alpha = sps.studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0)
    return float(q_alpha * math.sqrt(k * (k + 1) / (6.0 * n)))


def average_ranks(score_matrix: pd.DataFrame, higher_is_better: bool = True) -> pd.Series:
    """Mean within-fold rank of each model (1 = best), sorted best first.

    Rows are folds, columns models; rows with NaN are dropped. Ties share the
    average rank. Use with :func:`nemenyi_critical_difference`.
    """
    if not isinstance(score_matrix, pd.DataFrame):
        score_matrix = pd.DataFrame(score_matrix)
    values = _complete_rows(score_matrix)
    if values.shape[0] == 0:
        raise DataError("average_ranks: no fold has a score for every model")
    ranks = _within_row_ranks(values, higher_is_better).mean(axis=0)
    series = pd.Series(ranks, index=score_matrix.columns, name="average_rank")
    return series.sort_values(kind="stable")


def compare_to_reference(results: pd.DataFrame, reference_model: str, metric: str,
                         higher_is_better: bool = True, alpha: float = 0.05) -> pd.DataFrame:
    """Compare every model with a reference over the folds both were evaluated on.

    Each model's per-fold scores are paired with the reference's by the
    ``fold`` column (make it unique per split x seed), tested with a two-sided
    Wilcoxon signed-rank test, and the p-values of all non-reference models
    are Holm-corrected as one family. A model is *significantly better* when
    its Holm-adjusted p is below ``alpha`` and its mean difference points in
    the good direction.

    Args:
        results: long table with columns ``model``, ``fold`` and ``metric``.
        reference_model: the model everything is compared with.
        metric: name of the value column (e.g. ``"pcc"``).
        higher_is_better: False for error metrics such as RMSE.
        alpha: family-wise significance level.

    Returns:
        One row per model (reference included, with NaN tests), sorted best
        mean first, columns ``model, n, mean, sd, mean_diff, p_value, p_holm,
        significantly_better, significantly_worse``. ``mean_diff`` is model minus
        reference on the paired folds; ``n`` counts those paired folds.

    Raises:
        DataError: missing columns, unknown reference, duplicated (model, fold).
    """
    missing = [c for c in ("model", "fold", metric) if c not in results.columns]
    if missing:
        raise DataError(f"compare_to_reference: results lack columns {missing}")
    table = results[["model", "fold", metric]].copy()
    table[metric] = pd.to_numeric(table[metric], errors="coerce")
    dup = table.duplicated(["model", "fold"])
    if dup.any():
        example = table.loc[dup, ["model", "fold"]].iloc[0].tolist()
        raise DataError(f"compare_to_reference: {int(dup.sum())} duplicated (model, fold) "
                        f"rows, e.g. {example}; make fold unique per split and seed")
    wide = table.pivot(index="fold", columns="model", values=metric)
    if reference_model not in wide.columns:
        raise DataError(f"reference model {reference_model!r} not in results; "
                        f"models: {sorted(map(str, wide.columns))}")
    ref = wide[reference_model]
    rows = []
    for model in wide.columns:
        scores = wide[model].dropna()
        row = {"model": model, "mean": float(scores.mean()) if len(scores) else np.nan,
               "sd": float(scores.std(ddof=1)) if len(scores) > 1 else np.nan}
        if model == reference_model:
            row.update(n=len(scores), mean_diff=0.0, p_value=np.nan)
        else:
            x, y = _paired(wide[model].to_numpy(), ref.to_numpy())
            _, p = paired_wilcoxon(x, y)
            row.update(n=int(x.size), mean_diff=float(np.mean(x - y)) if x.size else np.nan,
                       p_value=p)
        rows.append(row)
    out = pd.DataFrame(rows)
    out["p_holm"] = np.nan
    others = out["model"] != reference_model
    out.loc[others, "p_holm"] = holm_correction(out.loc[others, "p_value"].to_numpy())
    good = out["mean_diff"] > 0 if higher_is_better else out["mean_diff"] < 0
    bad = out["mean_diff"] < 0 if higher_is_better else out["mean_diff"] > 0
    significant = out["p_holm"] < alpha  # NaN compares False
    out["significantly_better"] = (significant & good).astype(bool)
    out["significantly_worse"] = (significant & bad).astype(bool)
    out = out.sort_values("mean", ascending=not higher_is_better, kind="stable",
                          na_position="last")
    columns = ["model", "n", "mean", "sd", "mean_diff", "p_value", "p_holm",
               "significantly_better", "significantly_worse"]
    return out[columns].reset_index(drop=True)
