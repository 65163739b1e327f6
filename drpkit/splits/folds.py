"""Folds: train / validation / test rows for one split kind, fold and seed.

``make_folds`` applies a split kind to the whole response table for the
test parts, then applies the *same* kind again inside each training part to
carve the validation rows. Validation drives early stopping, thresholds and
hyperparameter search; the test rows are only ever scored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.splits.kinds import SPLITS


@dataclass(frozen=True)
class Fold:
    """Positional row indices into ``data.responses`` for one fold."""

    kind: str
    fold: int
    seed: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    @property
    def id(self) -> str:
        return f"{self.kind}-s{self.seed}-f{self.fold}"


def split_frame(data: DrugResponseData) -> pd.DataFrame:
    """The columns split kinds look at: cell, drug, label and the cell's tissue."""
    frame = data.responses[["cell", "drug", "label"]].copy()
    if "tissue" in data.cell_info:
        frame["tissue"] = frame["cell"].map(data.cell_info["tissue"])
    return frame


def make_folds(data: DrugResponseData, kind: str, n_folds: int = 5, seed: int = 0,
               val_fraction: float = 0.1) -> list[Fold]:
    """k folds of split kind ``kind`` with an inner validation part per fold.

    Args:
        data: the dataset (only ``responses`` and ``cell_info`` are read).
        kind: a registered split kind (``SPLITS.names()``).
        n_folds: number of test parts (k).
        seed: seeds both the outer assignment and the inner validation split.
        val_fraction: approximate share of each training part used for validation
            (the inner split uses ``round(1 / val_fraction)`` parts and keeps one).
    """
    splitter = SPLITS.get(kind)
    if n_folds < 2:
        raise DataError(f"k-fold splits need at least 2 folds, got {n_folds} (to fit on every "
                        "pair, use the split 'none': a validation part and no test part)")
    if not 0 < val_fraction < 0.5:
        raise DataError(f"val_fraction must be in (0, 0.5), got {val_fraction}")
    frame = split_frame(data)
    rng = np.random.default_rng(seed)
    folds = []
    for k, (train_rows, test_rows) in enumerate(splitter(frame, n_folds, rng)):
        inner = splitter(frame.iloc[train_rows].reset_index(drop=True),
                         max(2, round(1 / val_fraction)), rng)
        inner_train, inner_val = inner[0]
        folds.append(Fold(kind, k, seed, np.sort(train_rows[inner_train]),
                          np.sort(train_rows[inner_val]), np.sort(test_rows)))
    return folds


def holdout_fold(data: DrugResponseData, seed: int = 0, val_fraction: float = 0.1) -> Fold:
    """Every pair trains except a random validation part; no test part (split ``none``).

    For fitting a model to keep (``drpkit train --split none``): validation
    pairs drive early stopping, the decision threshold and penalties, as in
    any fold; nothing is held out for testing, so the metrics such a run
    reports are validation metrics.
    """
    if not 0 < val_fraction < 0.5:
        raise DataError(f"val_fraction must be in (0, 0.5), got {val_fraction}")
    rng = np.random.default_rng(seed)
    train, val = SPLITS.get("random")(split_frame(data), max(2, round(1 / val_fraction)), rng)[0]
    return Fold("none", 0, seed, np.sort(train), np.sort(val), np.zeros(0, dtype=int))


def check_fold(data: DrugResponseData, fold: Fold) -> None:
    """Raise AssertionError if a test pair (or blind entity) reaches train or validation."""
    r = data.responses
    parts = {name: r.iloc[getattr(fold, name)] for name in ("train", "val", "test")}
    pairs = {name: set(zip(p["cell"], p["drug"], strict=True)) for name, p in parts.items()}
    assert not pairs["test"] & pairs["train"], "test pairs in training part"
    assert not pairs["test"] & pairs["val"], "test pairs in validation part"
    assert not pairs["val"] & pairs["train"], "validation pairs in training part"
    # a split kind names the columns it holds out whole (``blind_on``)
    columns = list(getattr(SPLITS.get(fold.kind), "blind_on", ()))
    if columns:
        frame = split_frame(data)
        parts = {name: frame.iloc[getattr(fold, name)] for name in ("train", "val", "test")}
        parts = {name: p.fillna({"tissue": "unknown"}) if "tissue" in p else p
                 for name, p in parts.items()}
    for col in columns:
        test_ids = set(parts["test"][col])
        assert not test_ids & set(parts["train"][col]), f"test {col}s in training part"
        assert not test_ids & set(parts["val"][col]), f"test {col}s in validation part"
        assert not set(parts["val"][col]) & set(parts["train"][col]), \
            f"validation {col}s in training part"
