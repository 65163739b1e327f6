"""Pair features for the classical and MLP baselines, fitted on training data only.

A cell is encoded by its expression: the ``n_genes`` most variable genes
*among training cells*, z-scored with training statistics, then projected on
``cell_components`` principal components fitted on the training cells. A drug
is encoded by a fingerprint (Morgan by default) projected on
``drug_components`` components fitted on the training drugs. A pair is the
concatenation. Everything learned is stored as plain arrays (``.npz``
without pickle) so a saved model can be reloaded safely.

:class:`CellEncoder` is the cell half alone (the per-drug models read no drug
features); :class:`PairFeaturizer` extends it and saves the same keys as before.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from drpkit.data.container import DrugResponseData
from drpkit.data.ids import name_list
from drpkit.errors import DataError
from drpkit.features.expression import fit_expression_scaling, scale_expression

STATE_FILE = "features.npz"


class FeatureConfig(BaseModel):
    """How pairs are encoded (part of every baseline's config).

    Attributes:
        n_genes: keep the most variable genes among training cells.
        cell_components: principal components of the z-scored expression
            (fitted on training cells).
        drug_fingerprint: drug fingerprint (``morgan``, ``pubchem``, ``maccs``
            or a stored drug view).
        drug_components: principal components of the fingerprints (fitted on
            training drugs).
    """

    model_config = ConfigDict(extra="forbid")
    n_genes: int = 2000
    cell_components: int = 64
    drug_fingerprint: str = "morgan"
    drug_components: int = 32


def _fit_projection(matrix: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and top principal axes (components x features) of ``matrix`` rows.

    At most ``n_components`` axes, and only those with non-zero variance.
    """
    mean = matrix.mean(axis=0)
    centred = matrix - mean
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    # Drop directions with (numerically) no variance: standardising them later
    # would blow rounding noise up into features.
    informative = int(np.sum(singular > 1e-6 * max(singular.max(initial=0.0), 1e-12)))
    k = max(1, min(n_components, informative))
    return mean.astype(np.float32), vt[:k].astype(np.float32)


class CellEncoder:
    """Encodes cells by expression PCs fitted on the training cells only.

    The cell half of :class:`PairFeaturizer`, usable alone by models that learn
    one function of the cell per drug (``drpkit.models.perdrug``). ``config``
    is anything with ``n_genes`` and ``cell_components`` attributes.
    """

    _STATE: tuple[str, ...] = ("genes_", "gene_mean_", "gene_std_", "cell_mean_", "cell_axes_",
                               "fitted_cells_")

    def __init__(self, config):
        self.config = config

    def fit(self, train: DrugResponseData) -> CellEncoder:
        self._fit_cells(train)
        return self

    def _fit_cells(self, train: DrugResponseData) -> None:
        cfg = self.config
        expression = train.cell_view("expression")
        train_cells = train.responses["cell"].unique()
        genes, mean, scale = fit_expression_scaling(expression, train_cells, cfg.n_genes)
        self.genes_ = genes
        self.gene_mean_, self.gene_std_ = mean.astype(np.float32), scale.astype(np.float32)
        z = scale_expression(expression, train_cells, genes, mean, scale)
        self.cell_mean_, self.cell_axes_ = _fit_projection(z, cfg.cell_components)
        self.fitted_cells_ = np.asarray(train_cells, dtype=str)

    def encode_cells(self, data: DrugResponseData, cells: np.ndarray,
                     dtype: type = np.float32) -> np.ndarray:
        """(n_cells, components) PC scores of ``cells``, computed in ``dtype`` (float64
        makes a cell's scores independent, to rounding, of the other cells encoded with it)."""
        z = scale_expression(data.cell_view("expression"), cells, self.genes_,
                             self.gene_mean_.astype(dtype), self.gene_std_.astype(dtype))
        return (z - self.cell_mean_.astype(dtype)) @ self.cell_axes_.T.astype(dtype)

    def save(self, directory: Path) -> None:
        np.savez(directory / STATE_FILE, **{k: getattr(self, k) for k in self._STATE})

    def load(self, directory: Path):
        with np.load(directory / STATE_FILE, allow_pickle=False) as state:
            for key in self._STATE:
                setattr(self, key, state[key])
        return self


class PairFeaturizer(CellEncoder):
    """Encodes cells and drugs with transforms fitted on the training part."""

    def fit(self, train: DrugResponseData) -> PairFeaturizer:
        cfg = self.config
        self._fit_cells(train)
        fingerprints = train.drug_view(cfg.drug_fingerprint)
        train_drugs = train.responses["drug"].unique()
        fp = fingerprints.loc[fingerprints.index.intersection(train_drugs)].to_numpy(np.float64)
        self.fp_columns_ = fingerprints.columns.to_numpy(dtype=str)
        self.drug_mean_, self.drug_axes_ = _fit_projection(fp, cfg.drug_components)
        self.fitted_drugs_ = np.asarray(train_drugs, dtype=str)
        return self

    def encode_drugs(self, data: DrugResponseData, drugs: np.ndarray) -> np.ndarray:
        fingerprints = data.drug_view(self.config.drug_fingerprint)
        missing = sorted(set(drugs) - set(fingerprints.index))
        if missing:
            raise DataError(f"no {self.config.drug_fingerprint} fingerprint for "
                            f"{len(missing)} drug(s) in dataset {data.name!r}: "
                            f"{name_list(missing)}")
        fp = fingerprints.loc[drugs].to_numpy(np.float32)
        return (fp - self.drug_mean_) @ self.drug_axes_.T

    def transform(self, data: DrugResponseData, pairs: pd.DataFrame) -> np.ndarray:
        """Pair feature matrix (n_pairs x (cell_components + drug_components))."""
        cells, cell_pos = np.unique(pairs["cell"].to_numpy(str), return_inverse=True)
        drugs, drug_pos = np.unique(pairs["drug"].to_numpy(str), return_inverse=True)
        c = self.encode_cells(data, cells)
        d = self.encode_drugs(data, drugs)
        return np.hstack([c[cell_pos], d[drug_pos]]).astype(np.float32)

    _STATE = (*CellEncoder._STATE, "fp_columns_", "drug_mean_", "drug_axes_", "fitted_drugs_")
