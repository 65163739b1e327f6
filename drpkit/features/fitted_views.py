"""Cell and drug views prepared for kernel similarities, fitted on training rows.

HGACL-DRP compares cells by several omics views and drugs by fingerprints,
each with its own kernel (Gaussian on expression, polynomial on copy number,
Jaccard on mutation and fingerprints). A :class:`FittedView` holds everything
one view needs, fitted on the *training* cells or drugs only: the features
used, their z-score statistics, the kernel's scale and the Frobenius norm
every kernel is divided by; it is saved as plain arrays (no pickle).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from drpkit.errors import DataError
from drpkit.features.expression import fit_expression_scaling
from drpkit.features.kernels import (
    gaussian_gamma,
    gaussian_kernel,
    jaccard_similarity,
    polynomial_kernel,
)


@dataclass(frozen=True)
class Kernel:
    """How a view is prepared and compared.

    Attributes:
        standardise: z-score the features with training statistics (else
            they are read as 0/1 presence).
        fit_gamma: the kernel's scale from training features (n, d).
        compute: ``(rows, columns, view) -> (n, m)`` similarities.
    """

    standardise: bool
    fit_gamma: Callable[[Tensor], float]
    compute: Callable[[Tensor, Tensor, FittedView], Tensor]


KERNELS: dict[str, Kernel] = {
    "gaussian": Kernel(True, gaussian_gamma,
                       lambda x, y, view: gaussian_kernel(x, y, gamma=view.gamma)),
    "polynomial": Kernel(True, lambda x: 1.0 / max(x.shape[1], 1),
                         lambda x, y, view: polynomial_kernel(
                             x, y, degree=view.degree, coef0=1.0, gamma=view.gamma).clamp_min(0)),
    "jaccard": Kernel(False, lambda x: 1.0, lambda x, y, view: jaccard_similarity(x, y)),
}


@dataclass
class FittedView:
    """Features and kernel of one view, fitted on training rows.

    Attributes:
        name: the dataset view (``expression``, ``cnv``, ``mutation``, or a
            drug fingerprint such as ``pubchem920``).
        kernel: key of :data:`KERNELS`.
        columns: the features used, in order (as strings).
        mean, scale: z-score statistics of the training rows (empty when the
            kernel reads 0/1 presence).
        gamma: kernel scale (Gaussian bandwidth, polynomial inner-product scale).
        degree: polynomial degree.
        norm: Frobenius norm of the kernel over the training rows; every
            kernel is divided by it.
    """

    name: str
    kernel: str
    columns: np.ndarray
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gamma: float = 1.0
    degree: int = 3
    norm: float = 1.0

    @classmethod
    def fit(cls, name: str, kernel: str, frame: pd.DataFrame, train_ids: np.ndarray,
            n_features: int | None = None, degree: int = 3) -> FittedView:
        """Fit preprocessing, kernel scale and Frobenius norm on ``train_ids``."""
        if KERNELS[kernel].standardise:
            columns, mean, scale = fit_expression_scaling(frame, train_ids, n_features)
            view = cls(name, kernel, columns, mean, scale, degree=degree)
        else:
            view = cls(name, kernel, np.asarray(frame.columns, dtype=str), degree=degree)
        x = torch.from_numpy(view.features(frame, train_ids)[0])
        view.gamma = float(KERNELS[kernel].fit_gamma(x))
        norm = float(torch.linalg.matrix_norm(view.similarity(x, x)))
        if not np.isfinite(norm) or norm == 0:
            raise DataError(f"the {kernel} kernel of view {name!r} is zero on the training rows")
        view.norm = norm
        return view

    def features(self, frame: pd.DataFrame, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, d) float32 features of ``ids`` (zero rows where the view lacks an
        id) and the (n,) boolean mask of the ids it has."""
        present = np.asarray(pd.Index(ids).isin(frame.index))
        position = pd.Index(frame.columns.astype(str)).get_indexer(self.columns)
        if (position < 0).any():
            absent = self.columns[position < 0]
            raise DataError(f"view {self.name!r} lacks {len(absent)} feature(s) the model was "
                            f"fitted on, e.g. {list(absent[:5])}")
        values = frame.loc[np.asarray(ids)[present]].to_numpy(np.float64)[:, position]
        x = np.zeros((len(ids), len(self.columns)), np.float32)
        x[present] = (values - self.mean) / self.scale if len(self.mean) else values != 0
        return x, present

    def similarity(self, rows: Tensor, columns: Tensor) -> Tensor:
        """Kernel between ``rows`` (n, d) and ``columns`` (m, d) features,
        divided by the fitted Frobenius norm."""
        return KERNELS[self.kernel].compute(rows, columns, self) / self.norm

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        meta = {"name": self.name, "kernel": self.kernel, "gamma": self.gamma,
                "degree": self.degree, "norm": self.norm}
        return {f"{prefix}meta": np.asarray(json.dumps(meta)), f"{prefix}columns": self.columns,
                f"{prefix}mean": self.mean, f"{prefix}scale": self.scale}

    @classmethod
    def from_arrays(cls, state, prefix: str) -> FittedView:
        meta = json.loads(str(state[f"{prefix}meta"]))
        return cls(meta["name"], meta["kernel"], state[f"{prefix}columns"],
                   state[f"{prefix}mean"], state[f"{prefix}scale"], meta["gamma"],
                   meta["degree"], meta["norm"])
