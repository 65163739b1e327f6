"""Cell encoders: expression MLP and gene-set (pathway) tokens."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import Tensor, nn

from drpkit.errors import DataError
from drpkit.registry import Registry

if TYPE_CHECKING:  # pragma: no cover

    from drpkit.data.container import DrugResponseData

from drpkit.nn.encoders.base import Part, PartConfig, mlp


class CellEncoder(Part):
    """A cell encoder: ``fit`` on training cells, ``prepare(expression)``, then
    ``forward(prepared) -> (n_cells, dim)``."""

    def fit(self, expression_train: pd.DataFrame,
            gene_sets: dict[str, set[str]] | None = None) -> CellEncoder:  # pragma: no cover
        """Learn genes (and statistics) from the training cells' rows only."""
        raise NotImplementedError

    def gene_sets(self, data: DrugResponseData) -> dict[str, set[str]] | None:
        """The gene sets ``fit`` needs, from ``data``'s declared resources (None: none)."""
        return None

    @property
    def input_genes(self) -> list[str]:
        """Expression columns ``prepare`` reads, in order."""
        raise NotImplementedError

    def _matrix(self, expression: pd.DataFrame, genes: list[str]) -> np.ndarray:
        if not isinstance(expression, pd.DataFrame):
            raise DataError(f"{self.name!r}: expected a cells x genes DataFrame, "
                            f"got {type(expression).__name__}")
        missing = pd.Index(genes).difference(expression.columns)
        if len(missing):
            raise DataError(f"{self.name!r}: expression lacks {len(missing)} gene(s) it was "
                            f"fitted on, e.g. {list(missing[:5])}")
        x = expression[genes].to_numpy(np.float64)
        if not np.isfinite(x).all():
            raise DataError(f"{self.name!r}: expression has missing or infinite values")
        return x


CELL_ENCODERS: Registry[type[CellEncoder]] = Registry("cell encoder")
CellEncoder.registry = CELL_ENCODERS


class CellMLPConfig(PartConfig):
    """Settings of the ``mlp`` cell encoder.

    Attributes:
        hidden: hidden layer sizes.
    """

    hidden: list[int] = Field(default_factory=lambda: [256])


@CELL_ENCODERS.register("mlp")
class CellMLP(CellEncoder):
    """Expression -> MLP: ``z = MLP(x)``. Pass features already scaled with
    statistics of the training cells (:mod:`drpkit.features.expression`).

    Shapes: prepared (n_cells, n_genes) float32 -> (n_cells, dim).
    """

    name, Config, fitted = "mlp", CellMLPConfig, ("genes",)
    config: CellMLPConfig

    @property
    def input_genes(self) -> list[str]:
        self._require_fitted()
        return list(self.genes)

    def _build(self) -> None:
        self.net = mlp([len(self.genes), *self.config.hidden, self.config.dim],
                       self.config.dropout)
        self.reset_parameters()

    def fit(self, expression_train: pd.DataFrame, gene_sets=None) -> CellMLP:
        self._matrix(expression_train, list(expression_train.columns))
        self.genes = [str(g) for g in expression_train.columns]
        self._build()
        return self

    def prepare(self, expression: pd.DataFrame) -> Tensor:
        self._require_fitted()
        return torch.from_numpy(self._matrix(expression, self.genes).astype(np.float32))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class PathwayTokensConfig(PartConfig):
    """Settings of ``pathway-tokens``.

    Attributes:
        collections: gene-set collections of the ``gene-sets`` resource
            (``kegg``, ``reactome``, ``wikipathways``, ``cpdb``).
        min_genes: keep a set only if at least this many of its genes are
            expression columns at fit time.
    """

    collections: list[str] = Field(default_factory=lambda: ["kegg"])
    min_genes: int = Field(default=5, ge=1)


@CELL_ENCODERS.register("pathway-tokens")
class PathwayTokens(CellEncoder):
    """One token per gene set (pathway), as in gene-module attention models.

    ``fit`` keeps the sets with >= ``min_genes`` expression genes and the
    per-gene mean ``mu_g`` and standard deviation ``sd_g`` of the *training*
    cells (buffers ``mean``, ``scale``; 1 for constant genes). ``prepare``
    scores cell ``c`` on set ``S_j``: ``s_cj = mean_{g in S_j} (x_cg - mu_g) / sd_g``.
    Tokens add a learned set embedding ``E_j`` to a per-set value projection,
    ``t_cj = Dropout(E_j + s_cj W_j)``; ``forward`` pools them by the mean.

    Shapes: prepared (n_cells, n_sets) -> tokens (n_cells, n_sets, dim)
    -> pooled (n_cells, dim).
    """

    name, Config, fitted = "pathway-tokens", PathwayTokensConfig, ("sets",)
    resources = ("gene-sets",)
    config: PathwayTokensConfig
    sets: dict[str, list[str]] | None  # fitted: set name -> its expression genes
    mean: Tensor  # buffers made by _build
    scale: Tensor

    @property
    def input_genes(self) -> list[str]:
        self._require_fitted()
        assert self.sets is not None  # _require_fitted: every fitted value is set
        return sorted(set().union(*self.sets.values()))

    def gene_sets(self, data: DrugResponseData) -> dict[str, set[str]]:
        return data.resource("gene-sets").load(self.config.collections)

    def _build(self) -> None:
        from scipy.sparse import csr_matrix

        assert self.sets is not None  # _build runs only once fitted (Part.__init__, fit)
        genes = self.input_genes
        position = {g: i for i, g in enumerate(genes)}
        n_sets, dim = len(self.sets), self.config.dim
        rows = [j for j, members in enumerate(self.sets.values()) for _ in members]
        columns = [position[g] for members in self.sets.values() for g in members]
        weights = [1.0 / len(m) for m in self.sets.values() for _ in m]
        # (n_sets, n_genes), sparse: row j averages the genes of set j
        self._membership = csr_matrix((weights, (rows, columns)), shape=(n_sets, len(genes)))
        self.register_buffer("mean", torch.zeros(len(genes)))
        self.register_buffer("scale", torch.ones(len(genes)))
        self.set_embedding = nn.Parameter(torch.empty(n_sets, dim))
        self.value_weight = nn.Parameter(torch.empty(n_sets, dim))
        self.dropout = nn.Dropout(self.config.dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.set_embedding)
        nn.init.xavier_uniform_(self.value_weight)

    def fit(self, expression_train: pd.DataFrame,
            gene_sets: dict[str, set[str]] | None = None) -> PathwayTokens:
        from drpkit.features.omics import ZScore

        if not gene_sets:
            raise DataError("'pathway-tokens' needs gene sets: fit(x_train, "
                            "encoder.gene_sets(data))")
        x = expression_train.set_axis(list(map(str, expression_train.columns)), axis=1)
        self._matrix(x, list(x.columns))
        columns = set(x.columns)
        kept = {name: sorted(columns & set(genes)) for name, genes in sorted(gene_sets.items())}
        self.sets = {k: v for k, v in kept.items() if len(v) >= self.config.min_genes}
        if not self.sets:
            self.sets = None
            raise DataError(f"no gene set has >= {self.config.min_genes} of the "
                            f"{len(columns)} expression genes")
        self._build()
        scaler = ZScore().fit(x[self.input_genes])
        self.mean.copy_(torch.from_numpy(scaler.mean_.to_numpy(np.float32)))
        self.scale.copy_(torch.from_numpy(scaler.scale_.to_numpy(np.float32)))
        return self

    def prepare(self, expression: pd.DataFrame) -> Tensor:
        self._require_fitted()
        x = self._matrix(expression.set_axis(list(map(str, expression.columns)), axis=1),
                         self.input_genes)
        mean, scale = (b.detach().cpu().double().numpy() for b in (self.mean, self.scale))
        scores = self._membership @ ((x - mean) / scale).T  # (n_sets, n_cells)
        return torch.from_numpy(np.ascontiguousarray(scores.T, dtype=np.float32))

    def forward_tokens(self, s: Tensor) -> Tensor:
        """Set tokens ``(n_cells, n_sets, dim)`` from set scores ``(n_cells, n_sets)``."""
        return self.dropout(self.set_embedding + s.unsqueeze(-1) * self.value_weight)

    def forward(self, s: Tensor) -> Tensor:
        return self.forward_tokens(s).mean(dim=1)
