"""The NIHGCN / MTIGCN network: input projections, neighbourhood-interaction
layers and the MTIGCN regression and similarity heads.

Used by :mod:`drpkit.models.nihgcn` (the models, their configuration and
training task); the interaction layer and the bipartite adjacency are in
:mod:`drpkit.nn.layers`.
"""
from __future__ import annotations

from itertools import pairwise

import torch
from torch import Tensor, nn

from drpkit.nn.layers import (
    BipartiteAdjacency,
    NeighborhoodInteractionConv,
    pearson_correlation,
)


class NIHGCNNet(nn.Module):
    """Encoder (projections + interaction layers) and optional MTIGCN heads.

    Args:
        cell_in: number of cell input features (genes).
        drug_in: number of drug input features (fingerprint bits).
        hidden: projection size.
        layers: output sizes of the interaction layers.
        alpha: interaction weight of every layer.
        projection_activation: ReLU after the projections.
        regression_head: add the linear cell/drug heads of the IC50 task.
        similarity_head: add the linear cell/drug heads of the similarity task.

    Shapes:
        - input: cell features (n_c, cell_in), drug features (n_d, drug_in),
          a :class:`~drpkit.nn.BipartiteAdjacency` of n_c cells and n_d drugs
        - output of :meth:`encode`: (n_c, layers[-1]) and (n_d, layers[-1])
    """

    def __init__(self, cell_in: int, drug_in: int, hidden: int, layers: list[int],
                 alpha: float, projection_activation: bool = False,
                 regression_head: bool = False, similarity_head: bool = False):
        super().__init__()
        self.cell_proj = self._projection(cell_in, hidden, projection_activation)
        self.drug_proj = self._projection(drug_in, hidden, projection_activation)
        sizes = [hidden, *layers]
        self.convs = nn.ModuleList(NeighborhoodInteractionConv(a, b, alpha)
                                   for a, b in pairwise(sizes))
        out = sizes[-1]
        self.reg_cell = nn.Linear(out, out) if regression_head else None
        self.reg_drug = nn.Linear(out, out) if regression_head else None
        self.sim_cell = nn.Linear(out, out) if similarity_head else None
        self.sim_drug = nn.Linear(out, out) if similarity_head else None

    @staticmethod
    def _projection(d_in: int, d_out: int, activation: bool) -> nn.Sequential:
        parts: list[nn.Module] = [nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out)]
        if activation:
            parts.append(nn.ReLU())
        return nn.Sequential(*parts)

    def encode(self, x_cell: Tensor, x_drug: Tensor,
               adj: BipartiteAdjacency) -> tuple[Tensor, Tensor]:
        """Node embeddings: (n_c, F) cells and (n_d, F) drugs, F = ``layers[-1]``."""
        h_cell, h_drug = self.cell_proj(x_cell), self.drug_proj(x_drug)
        for conv in self.convs:
            h_cell, h_drug = conv(h_cell, h_drug, adj)
        return h_cell, h_drug

    def ic50(self, h_cell: Tensor, h_drug: Tensor, scale: float) -> Tensor:
        """(n_c, n_d) standardised ln IC50: ``scale * Pearson(W_c h_c, W_d h_d)``."""
        if self.reg_cell is None or self.reg_drug is None:
            raise RuntimeError("this network has no regression head")
        return scale * pearson_correlation(self.reg_cell(h_cell), self.reg_drug(h_drug))

    def similarities(self, h_cell: Tensor, h_drug: Tensor,
                     scale: float) -> tuple[Tensor, Tensor]:
        """(n_c, n_c) and (n_d, n_d) reconstructed similarities in (0, 1)."""
        if self.sim_cell is None or self.sim_drug is None:
            raise RuntimeError("this network has no similarity head")
        z_cell, z_drug = self.sim_cell(h_cell), self.sim_drug(h_drug)
        return (torch.sigmoid(scale * pearson_correlation(z_cell, z_cell)),
                torch.sigmoid(scale * pearson_correlation(z_drug, z_drug)))
