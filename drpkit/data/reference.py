"""A user's expression file against the training cells' per-gene statistics.

``drpkit predict`` (:mod:`drpkit.predict`) reads a run's reference (per-gene mean,
sd and median of the training cells, :func:`expression_reference`), checks how
far a new file sits from it (:func:`scale_check`), optionally maps the file onto
it (:func:`standardise_within`) and puts the file on the training genes, imputing
the missing ones (:func:`align_expression`). Everything here reads training
cells' statistics only.
"""
from __future__ import annotations

import warnings as py_warnings
from typing import Any, Literal

import numpy as np
import pandas as pd

from drpkit.errors import DataError

MissingGenes = Literal["impute", "error"]
# scale_check flags a file whose typical gene is this many training sds away
# from the training median, or whose spread differs by more than this factor.
LOCATION_LIMIT = 2.0
SPREAD_FACTOR = 3.0
MIN_CELLS_FOR_SPREAD = 5


def expression_reference(expression: pd.DataFrame, cells) -> pd.DataFrame:
    """Per-gene ``mean``, ``sd`` and ``median`` of ``cells`` (genes as rows)."""
    x = expression.loc[pd.Index(cells).intersection(expression.index)].to_numpy(np.float64)
    if not len(x):
        raise DataError("no training cell has expression; cannot build the reference statistics")
    with py_warnings.catch_warnings():  # missing values (a run trained with --impute median)
        py_warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(x, axis=0, ddof=1) if len(x) > 1 else np.zeros(x.shape[1])
        mean, median = np.nanmean(x, axis=0), np.nanmedian(x, axis=0)
    return pd.DataFrame({"mean": mean, "sd": sd, "median": median},
                        index=pd.Index(expression.columns.astype(str), name="gene"))


def scale_check(matrix: pd.DataFrame, reference: pd.DataFrame) -> dict[str, Any]:
    """How far the file's genes sit from the training cells' distribution.

    ``location``: median over genes of |file median - training median| in
    training sds; ``spread``: median over genes of file sd / training sd
    (only with at least five cells). ``flagged`` when location > 2 or the
    spread is off by more than a factor of 3.
    """
    genes = matrix.columns.intersection(reference.index)
    ref = reference.loc[genes]
    usable = ref["sd"].to_numpy() > 0
    x = matrix[genes].to_numpy(np.float64)[:, usable]
    sd_train = ref["sd"].to_numpy()[usable]
    location = float(np.median(np.abs(np.nanmedian(x, axis=0) - ref["median"].to_numpy()[usable])
                               / sd_train)) if usable.any() else float("nan")
    spread = float("nan")
    if len(x) >= MIN_CELLS_FOR_SPREAD and usable.any():
        spread = float(np.median(np.nanstd(x, axis=0, ddof=1) / sd_train))
    flagged = bool(location > LOCATION_LIMIT or (np.isfinite(spread) and not
                   1 / SPREAD_FACTOR <= spread <= SPREAD_FACTOR))
    return {"genes_compared": int(usable.sum()), "location_shift_sd": round(location, 3),
            "spread_ratio": None if np.isnan(spread) else round(spread, 3), "flagged": flagged}


def standardise_within(matrix: pd.DataFrame, reference: pd.DataFrame,
                       source: str) -> pd.DataFrame:
    """Z-score each gene within the file, then map it onto the training
    cells' mean and sd of that gene (genes unknown to training are kept as is)."""
    if len(matrix) < 3:
        raise DataError(f"{source}: --standardise within needs at least 3 cells to estimate "
                        f"per-gene statistics; the file has {len(matrix)}")
    genes = matrix.columns.intersection(reference.index)
    x = matrix[genes].to_numpy(np.float64)
    sd = np.nanstd(x, axis=0, ddof=1)
    z = np.divide(x - np.nanmean(x, axis=0), sd, out=np.zeros_like(x), where=sd > 0)
    ref = reference.loc[genes]
    out = matrix.copy()
    out[genes] = (z * ref["sd"].to_numpy() + ref["mean"].to_numpy()).astype(np.float32)
    return out


def align_expression(matrix: pd.DataFrame, reference: pd.DataFrame, needed: list[str],
                     *, policy: MissingGenes, max_missing: float,
                     source: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The file on the training genes, missing ones imputed with the training mean.

    Raises:
        DataError: when genes the model reads are missing and ``policy`` is
            ``"error"``, or more than ``max_missing`` of them are missing.
    """
    duplicated = matrix.columns[matrix.columns.duplicated()]
    if len(duplicated):
        raise DataError(f"{source}: {len(duplicated)} gene column(s) appear more than once, "
                        f"e.g. {list(duplicated[:5])}; keep one column per gene")
    missing = [str(g) for g in needed if g not in matrix.columns]
    share = len(missing) / max(len(needed), 1)
    if missing and policy == "error":
        raise DataError(f"{source}: lacks {len(missing)} of the {len(needed)} genes the model "
                        f"reads, e.g. {missing[:5]} (--missing-genes impute fills them in)")
    if share > max_missing:
        raise DataError(f"{source}: lacks {len(missing)} of the {len(needed)} genes the model "
                        f"reads ({share:.0%} > the {max_missing:.0%} allowed), e.g. "
                        f"{missing[:5]}; predictions would mostly be imputation. Check that "
                        "the columns are gene symbols, or raise --max-missing")
    aligned = matrix.reindex(columns=reference.index)
    absent = aligned.columns[aligned.isna().all(axis=0).to_numpy()]
    aligned[absent] = np.broadcast_to(reference.loc[absent, "mean"].to_numpy(np.float32),
                                      (len(aligned), len(absent)))
    info = {"genes_read_by_model": len(needed), "genes_missing": len(missing),
            "genes_imputed": len(missing), "missing_examples": missing[:20],
            "extra_genes_ignored": len(matrix.columns.difference(reference.index))}
    return aligned.astype(np.float32), info
