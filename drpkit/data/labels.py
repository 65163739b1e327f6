"""Binarisation rules: how a continuous response becomes sensitive (1) / resistant (0).

Rules are registered by name so the CLI and configs can pick one:

* ``zscore``: per drug, z-score the response over its cell lines and call a
  cell sensitive when z < -0.8 (the CCLE convention; direction-aware, so for
  measures where high means sensitive the sign is flipped).
* ``threshold-table``: a per-drug threshold shipped with the dataset (GDSC's
  TableS5C thresholds used by NIHGCN/MTIGCN/HGACL-DRP).
* ``value:X``: one user threshold for every drug.
* ``given``: keep the labels the dataset came with.
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
    grouped = oriented.groupby(responses["drug"])
    std = grouped.transform("std").replace(0.0, np.nan)
    z = (oriented - grouped.transform("mean")) / std
    return (z < ZSCORE_CUTOFF).astype(float)


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
