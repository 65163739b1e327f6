"""Binarisation rules: how a continuous response becomes sensitive (1) / resistant (0).

Rules are registered by name so the CLI and configs can pick one:

* ``zscore``: per drug, z-score the response over its cell lines and call a
  cell sensitive when z < -0.8 (the CCLE convention; direction-aware, so for
  measures where high means sensitive the sign is flipped).
* ``threshold-table``: a per-drug threshold shipped with the dataset (GDSC's
  TableS5C thresholds used by NIHGCN/MTIGCN/HGACL-DRP).
* ``value:X``: one user threshold for every drug.
* ``given``: keep the labels the dataset came with.

Rules that read other pairs' responses (``zscore``: a drug's mean and sd) are
*fitted per fold* (:func:`fold_labels`): the per-drug statistics come from
the fold's training pairs only and are applied to its validation and test
pairs, so no held-out response shapes a training label. A drug with no
training pair (drug-blind, disjoint splits) is labelled by its own response
distribution within the part it is held out in (validation or test); those
statistics make labels only and never reach a model. The labels a dataset
carries from loading (``with_labels``) are for description (``drpkit data
info``) and for splitting by label (the papers' ``nihgcn-*`` protocols, meant
for ``given`` labels). ``given``, ``threshold-table`` and ``value:X`` label
each pair from its own value and a fixed threshold, as the papers define
them, so they need no fitting.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from drpkit.errors import DataError
from drpkit.registry import Registry

LabelRule = Callable[[pd.DataFrame, str, "pd.Series | None"], pd.Series]
LABEL_RULES: Registry[LabelRule] = Registry("label rule")

ZSCORE_CUTOFF = -0.8


def _oriented(values: pd.Series, sensitive_if: str) -> pd.Series:
    """Values oriented so that *lower* means more sensitive."""
    if sensitive_if not in ("low", "high"):
        raise DataError(f"sensitive_if must be 'low' or 'high', got {sensitive_if!r}")
    return values if sensitive_if == "low" else -values


@LABEL_RULES.register("zscore")
def zscore_labels(responses: pd.DataFrame, sensitive_if: str, thresholds=None) -> pd.Series:
    """1 where the per-drug z-score of the (oriented) response is below -0.8."""
    oriented = _oriented(responses["value"], sensitive_if)
    return _zscore_apply(oriented, responses["drug"], _zscore_stats(oriented, responses["drug"]))


def _zscore_stats(oriented: pd.Series, drugs: pd.Series) -> pd.DataFrame:
    """Per-drug mean and sd (ddof 1; 0 -> NaN, which labels every pair 0)."""
    stats = oriented.groupby(drugs.to_numpy()).agg(["mean", "std"])
    stats["std"] = stats["std"].replace(0.0, np.nan)
    return stats


def _zscore_apply(oriented: pd.Series, drugs: pd.Series, stats: pd.DataFrame) -> pd.Series:
    """Labels from per-drug statistics; NaN for drugs ``stats`` lacks."""
    mean, std = drugs.map(stats["mean"]), drugs.map(stats["std"])
    labels = ((oriented - mean) / std < ZSCORE_CUTOFF).astype(float)
    labels[mean.isna().to_numpy()] = np.nan
    return labels


# Rules whose labels depend on other pairs' responses, and so are refitted per fold.
FITTED_RULES = ("zscore",)


def fold_labels(responses: pd.DataFrame, rule: str, sensitive_if: str, train_rows: np.ndarray,
                parts: list[np.ndarray]) -> np.ndarray | None:
    """Labels of every row under a fitted rule, fitted on ``train_rows`` only.

    Args:
        responses: the whole response table (``drug``, ``value``).
        rule: the dataset's label rule; None is returned for rules that need
            no fitting (their load-time labels stand).
        sensitive_if: ``"low"`` or ``"high"``.
        train_rows: positional rows of the fold's training part.
        parts: positional rows of each held-out part (validation, test).

    Returns:
        float labels (1 / 0 / NaN) aligned with ``responses``: training rows by
        training statistics; a held-out row by training statistics of its drug,
        or, for a drug with no training pair, by that drug's statistics within
        the row's own part. Rows in no part are NaN.
    """
    if rule not in FITTED_RULES:
        return None
    oriented = _oriented(responses["value"].astype(float), sensitive_if).reset_index(drop=True)
    drugs = responses["drug"].reset_index(drop=True)
    train_rows = np.asarray(train_rows, dtype=int)
    stats = _zscore_stats(oriented.iloc[train_rows], drugs.iloc[train_rows])
    labels = np.full(len(responses), np.nan)
    for rows in [train_rows, *map(np.asarray, parts)]:
        rows = rows.astype(int)
        part = _zscore_apply(oriented.iloc[rows], drugs.iloc[rows], stats).to_numpy(copy=True)
        unseen = ~drugs.iloc[rows].isin(stats.index).to_numpy()
        if unseen.any():
            own = rows[unseen]
            part[unseen] = zscore_labels(
                pd.DataFrame({"value": responses["value"].to_numpy(float)[own],
                              "drug": drugs.to_numpy()[own]}), sensitive_if, None).to_numpy()
        labels[rows] = part
    return labels


@LABEL_RULES.register("threshold-table")
def threshold_table_labels(responses: pd.DataFrame, sensitive_if: str,
                           thresholds: pd.Series | None = None) -> pd.Series:
    """1 where the response is on the sensitive side of the drug's own threshold.

    Pairs of drugs without a threshold get NaN (unlabelled), not a guess.
    """
    if thresholds is None:
        raise DataError("label rule 'threshold-table' needs a per-drug threshold table; "
                        "this dataset has none (use 'zscore' or 'value:X')")
    thr = responses["drug"].map(thresholds)
    oriented = _oriented(responses["value"], sensitive_if)
    oriented_thr = _oriented(thr, sensitive_if)
    labels = (oriented < oriented_thr).astype(float)
    labels[thr.isna()] = np.nan
    return labels


def apply_label_rule(responses: pd.DataFrame, rule: str, sensitive_if: str,
                     thresholds: pd.Series | None = None) -> pd.Series:
    """Labels (float 0/1, NaN = unlabelled) for ``responses`` under ``rule``."""
    if rule == "given":
        if "label" not in responses:
            raise DataError("label rule 'given' but the dataset carries no labels")
        return responses["label"].astype(float)
    if rule.startswith("value:"):
        try:
            cutoff = float(rule.split(":", 1)[1])
        except ValueError:
            raise DataError(f"label rule {rule!r}: expected a number after 'value:'") from None
        oriented = _oriented(responses["value"], sensitive_if)
        return (oriented < _oriented(pd.Series(cutoff), sensitive_if).iloc[0]).astype(float)
    return LABEL_RULES.get(rule)(responses, sensitive_if, thresholds)


def label_rule_names() -> list[str]:
    return [*LABEL_RULES.names(), "given", "value:X"]


def value_to_score(train: pd.DataFrame, pairs: pd.DataFrame, predicted: np.ndarray, rule: str,
                   sensitive_if: str, thresholds: pd.Series | None = None) -> np.ndarray:
    """Turn predicted response values into sensitivity scores matching a label rule.

    A regressor's raw prediction mixes drug potency with cell sensitivity, while
    ``zscore`` and ``threshold-table`` labels are relative to each drug. So the
    score is the predicted value expressed the way the label was made: the
    per-drug z-score (training mean and sd of the drug; global ones for unseen
    drugs) for ``zscore``, the distance to the drug's threshold for
    ``threshold-table``, the oriented value otherwise. Higher = more sensitive.
    Only training responses are used.
    """
    value = pd.Series(np.asarray(predicted, float), index=pairs.index)
    oriented = _oriented(value, sensitive_if)
    if rule == "zscore":
        train_oriented = _oriented(train["value"], sensitive_if)
        stats = train_oriented.groupby(train["drug"]).agg(["mean", "std"])
        mean = pairs["drug"].map(stats["mean"]).fillna(train_oriented.mean())
        std = pairs["drug"].map(stats["std"]).where(lambda s: s > 0)
        std = std.fillna(train_oriented.std())
        return (-(oriented - mean) / std).to_numpy(float)
    if rule == "threshold-table" and thresholds is not None:
        thr = pairs["drug"].map(thresholds)
        thr = thr.fillna(float(np.nanmedian(thresholds.to_numpy(float))))
        return (-(oriented - _oriented(thr, sensitive_if))).to_numpy(float)
    return (-oriented).to_numpy(float)
