"""Cell-line omics transforms that are fitted on the training cells of a fold.

Scaling statistics and gene selections learned from *all* cells would leak
information about the test cells into the model, which inflates cell-blind
scores. These transforms follow scikit-learn's conventions so that the leak is
easy to avoid and to test for:

* ``__init__`` only stores parameters;
* ``fit(X)`` learns from the rows of ``X`` (pass the training cells only) and
  sets attributes ending in ``_``, including ``fitted_index_`` (the cell ids
  it saw) so a test can assert which rows were used;
* ``transform(X)`` applies what was learned to any rows and keeps ``X.index``.

Inputs are cells x genes ``pandas.DataFrame`` objects with unique gene columns.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from drpkit.errors import DataError


def _check_frame(X: pd.DataFrame, what: str, columns: Sequence[str] | None = None) -> None:
    """Validate a cells x genes frame (optionally only the ``columns`` used).

    Raises:
        DataError: if ``X`` is not a DataFrame, has duplicated gene columns,
            no rows at fit time, lacks some of ``columns`` (named), or holds
            non-numeric or non-finite values in the used columns.
    """
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"{what}: expected a cells x genes DataFrame, got {type(X).__name__}")
    if X.columns.duplicated().any():
        dup = X.columns[X.columns.duplicated()][0]
        raise DataError(f"{what}: gene column {dup!r} appears more than once")
    if columns is None:
        used = X
    else:
        missing = [gene for gene in columns if gene not in X.columns]
        if missing:
            shown = ", ".join(map(repr, missing[:10])) + (" ..." if len(missing) > 10 else "")
            raise DataError(f"{what}: input lacks {len(missing)} gene column(s) seen at fit "
                            f"time: {shown}")
        used = X[list(columns)]
    non_numeric = [c for c, dtype in used.dtypes.items()
                   if not (pd.api.types.is_numeric_dtype(dtype)
                           and not pd.api.types.is_bool_dtype(dtype))]
    if non_numeric:
        raise DataError(f"{what}: gene column {non_numeric[0]!r} is not numeric")
    values = used.to_numpy(np.float64)
    if not np.isfinite(values).all():
        row, col = np.argwhere(~np.isfinite(values))[0]
        raise DataError(f"{what}: missing or infinite value for cell {used.index[row]!r}, "
                        f"gene {used.columns[col]!r}")


def _output_dtype(X: pd.DataFrame) -> type:
    """float32 when every input column is float32 (drpkit's storage type), else float64."""
    return np.float32 if (X.dtypes == np.float32).all() else np.float64


class _OmicsTransform(BaseEstimator):
    """Shared fit bookkeeping: input validation, ``fitted_index_``, ``fit_transform``."""

    def _start_fit(self, X: pd.DataFrame) -> None:
        name = type(self).__name__
        _check_frame(X, f"{name}.fit")
        if len(X) == 0:
            raise DataError(f"{name}.fit: no cells to fit on")
        self.fitted_index_ = X.index.copy()
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]

    def _require_fitted(self) -> None:
        if not hasattr(self, "fitted_index_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit first")

    def fit(self, X: pd.DataFrame) -> _OmicsTransform:  # pragma: no cover - overridden
        raise NotImplementedError

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # pragma: no cover - overridden
        raise NotImplementedError

    def fit_transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Fit on the rows of ``X`` and transform them (same as ``fit(X).transform(X)``)."""
        return self.fit(X).transform(X)


class ZScore(_OmicsTransform):
    """Standardise each gene with the mean and standard deviation of the fit rows.

    Uses the population standard deviation (``ddof=0``, as scikit-learn's
    ``StandardScaler``). A gene that is constant on the fit rows gets a scale
    of 1, so it maps to ``x - mean`` rather than dividing by zero.

    Attributes:
        mean_: Per-gene mean on the fit rows (Series indexed by gene, float64).
        scale_: Per-gene standard deviation, 1 where it is 0 (Series, float64).
        fitted_index_: Cell ids of the fit rows.
        feature_names_in_: Gene columns seen at fit time, in order.
    """

    def fit(self, X: pd.DataFrame) -> ZScore:
        """Learn per-gene mean and scale from the rows of ``X`` (training cells only)."""
        self._start_fit(X)
        values = X.to_numpy(np.float64)
        mean = values.mean(axis=0)
        std = values.std(axis=0, ddof=0)
        # Tolerate floating-point noise on constant genes (std of a constant
        # column can come out as ~1e-17 rather than exactly 0).
        constant = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
        std[constant] = 1.0
        self.mean_ = pd.Series(mean, index=X.columns.copy())
        self.scale_ = pd.Series(std, index=X.columns.copy())
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Standardise ``X`` (cells x genes) with the fitted statistics.

        Returns:
            Cells x genes DataFrame with the fit-time gene columns in fit-time
            order and ``X``'s index.

        Raises:
            DataError: naming the gene columns of the fit that ``X`` lacks.
        """
        self._require_fitted()
        genes = list(self.feature_names_in_)
        _check_frame(X, "ZScore.transform", genes)
        used = X[genes]
        values = (used.to_numpy(np.float64) - self.mean_.to_numpy()) / self.scale_.to_numpy()
        return pd.DataFrame(values.astype(_output_dtype(used)), index=X.index,
                            columns=pd.Index(genes))


class VarianceGeneSelector(_OmicsTransform):
    """Keep the ``n_genes`` genes with the highest variance on the fit rows.

    Selected genes keep the column order of the fit input; ties in variance are
    broken in favour of the earlier column, so the selection is deterministic.
    If ``n_genes`` exceeds the number of genes, all genes are kept (with a warning).

    Args:
        n_genes: Number of genes to keep (>= 1).

    Attributes:
        variances_: Per-gene sample variance (``ddof=1``; 0 for a single row)
            on the fit rows (Series indexed by gene).
        selected_genes_: The kept genes, in input column order.
        fitted_index_: Cell ids of the fit rows.
    """

    def __init__(self, n_genes: int):
        self.n_genes = n_genes

    def fit(self, X: pd.DataFrame) -> VarianceGeneSelector:
        """Rank genes by their variance across the rows of ``X`` (training cells only)."""
        if isinstance(self.n_genes, bool) or not isinstance(self.n_genes, (int, np.integer)) \
                or self.n_genes < 1:
            raise DataError(f"VarianceGeneSelector: n_genes must be a positive integer, "
                            f"got {self.n_genes!r}")
        self._start_fit(X)
        values = X.to_numpy(np.float64)
        variance = values.var(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])
        if self.n_genes > values.shape[1]:
            warnings.warn(f"VarianceGeneSelector: n_genes={self.n_genes} exceeds the "
                          f"{values.shape[1]} genes of the input; keeping all", stacklevel=2)
        order = np.argsort(-variance, kind="stable")[: self.n_genes]
        self.variances_ = pd.Series(variance, index=X.columns.copy())
        self.selected_genes_ = list(X.columns[np.sort(order)])
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Select the fitted genes from ``X``, keeping its index.

        Raises:
            DataError: naming the selected genes that ``X`` lacks.
        """
        self._require_fitted()
        _check_frame(X, "VarianceGeneSelector.transform", self.selected_genes_)
        return X[self.selected_genes_].copy()


class GeneSubset(_OmicsTransform):
    """Restrict to a fixed gene panel, e.g. the L1000 landmark genes.

    Output columns follow the order of ``genes`` (duplicates dropped), so two
    datasets with differently ordered columns give aligned matrices.

    Args:
        genes: Gene names of the panel.

    Attributes:
        genes_present_: Panel genes found in the fit input (in panel order).
        genes_missing_: Panel genes absent from the fit input.
        fitted_index_: Cell ids of the fit rows.
    """

    def __init__(self, genes: list[str]):
        self.genes = genes

    def fit(self, X: pd.DataFrame) -> GeneSubset:
        """Find which panel genes ``X`` has.

        Raises:
            DataError: if none of the panel genes is a column of ``X``.

        Warns:
            UserWarning: with the count (and a few names) of missing panel genes.
        """
        self._start_fit(X)
        panel = list(dict.fromkeys(self.genes))
        columns = set(X.columns)
        present = [gene for gene in panel if gene in columns]
        missing = [gene for gene in panel if gene not in columns]
        if not present:
            raise DataError(f"GeneSubset: none of the {len(panel)} panel genes is a column of "
                            f"the input (e.g. {panel[:5]})")
        if missing:
            warnings.warn(f"GeneSubset: {len(missing)} of {len(panel)} panel genes are missing "
                          f"from the input, e.g. {missing[:5]}", stacklevel=2)
        self.genes_present_ = present
        self.genes_missing_ = missing
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Select the panel genes found at fit time, keeping ``X``'s index.

        Raises:
            DataError: naming the panel genes present at fit time that ``X`` lacks.
        """
        self._require_fitted()
        _check_frame(X, "GeneSubset.transform", self.genes_present_)
        return X[self.genes_present_].copy()


class OmicsPipeline(_OmicsTransform):
    """Chain omics transforms; each step is fitted on the previous step's output
    for the fit rows only.

    Args:
        steps: Transform objects (e.g. ``[GeneSubset(l1000), ZScore()]``),
            fitted in place.

    Attributes:
        fitted_index_: Cell ids of the fit rows.
    """

    def __init__(self, steps: list):
        self.steps = steps

    def fit(self, X: pd.DataFrame) -> OmicsPipeline:
        """Fit every step in turn on the rows of ``X`` (training cells only)."""
        for step in self.steps:
            if not (hasattr(step, "fit") and hasattr(step, "transform")):
                raise TypeError(f"OmicsPipeline step {step!r} has no fit/transform methods")
        self._start_fit(X)
        for step in self.steps:
            X = step.fit_transform(X) if hasattr(step, "fit_transform") else step.fit(X).transform(X)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Apply every fitted step in turn; keeps ``X``'s index.

        Raises:
            DataError: if ``X`` lacks genes a step needs (named).
        """
        self._require_fitted()
        for step in self.steps:
            X = step.transform(X)
        return X
