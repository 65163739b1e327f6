"""Expression scaling shared by models: fitted on training cells, applied to any cells.

Fitting keeps the ``n_genes`` most variable genes among the training cells
(all genes when ``n_genes`` is None) and their z-score statistics; applying
checks that every requested cell and every fitted gene is present, so a model
never silently scores a cell on the wrong genes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from drpkit.data.ids import name_list
from drpkit.errors import DataError
from drpkit.features.omics import VarianceGeneSelector, ZScore


def fit_expression_scaling(expression: pd.DataFrame, train_cells,
                           n_genes: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Genes, per-gene mean and scale (float64) fitted on ``train_cells`` only."""
    missing = pd.Index(train_cells).difference(expression.index)
    if len(missing):
        raise DataError(f"{len(missing)} training cell(s) have no expression, "
                        f"e.g. {name_list(missing)}")
    x = expression.loc[train_cells].astype(np.float64)
    if n_genes is not None and n_genes < x.shape[1]:
        x = VarianceGeneSelector(n_genes).fit_transform(x)
    scaler = ZScore().fit(x)
    return (np.asarray(x.columns, dtype=str), scaler.mean_.to_numpy(np.float64),
            scaler.scale_.to_numpy(np.float64))


def scale_expression(expression: pd.DataFrame, cells, genes: np.ndarray, mean: np.ndarray,
                     scale: np.ndarray) -> np.ndarray:
    """(n_cells, n_genes) z-scores of ``cells``, computed in the dtype of ``mean``."""
    missing = pd.Index(cells).difference(expression.index)
    if len(missing):
        raise DataError(f"no expression for {len(missing)} cell(s), e.g. {name_list(missing)}")
    absent = pd.Index(genes).difference(expression.columns)
    if len(absent):
        raise DataError(f"expression lacks {len(absent)} gene(s) the model was fitted on, "
                        f"e.g. {name_list(absent)}")
    x = expression.loc[cells, list(genes)].to_numpy(mean.dtype)
    return (x - mean) / scale
