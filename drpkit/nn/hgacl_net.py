"""The HGACL-DRP network: view fusion, reliable-neighbour graph, GCN, Pearson
decoder, and the two perturbed views of its contrastive loss.

Used by :mod:`drpkit.models.hgacl` (which holds the model, its configuration
and its training task); the building blocks (view fusion, node attention,
reliable neighbours, the heterogeneous adjacency, InfoNCE) are in
:mod:`drpkit.nn.hetero`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor, nn

from drpkit.nn.hetero import (
    GCNEncoder,
    NodeAttention,
    ViewFusion,
    add_feature_noise,
    drop_edges,
    fuse_kernels,
    heterogeneous_adjacency,
    reliable_neighbours,
)
from drpkit.nn.layers import pearson_correlation

if TYPE_CHECKING:  # pragma: no cover
    from drpkit.models.hgacl import HGACLConfig


@dataclass
class GraphInputs:
    """Tensors of one graph, cells first; the first ``n_fit_cells`` cells and
    ``n_fit_drugs`` drugs are the nodes of the fitted graph.

    Attributes:
        features: per cell view (n_c, d_v) features, then the drug
            fingerprints (n_d, B).
        present: (n_c, V) views each cell has.
        cell_kernels: (V, n_c, n_fit_cells) normalised view kernels.
        drug_kernel: (n_d, n_fit_drugs) normalised fingerprint kernel.
        edge_index: (2, E) (cell, drug) node indices of the training sensitive pairs.
    """

    features: list[Tensor]
    present: Tensor
    cell_kernels: Tensor
    drug_kernel: Tensor
    edge_index: Tensor

    @property
    def n_cells(self) -> int:
        return int(self.present.shape[0])

    def to(self, device: torch.device) -> GraphInputs:
        return GraphInputs([x.to(device) for x in self.features], self.present.to(device),
                           self.cell_kernels.to(device), self.drug_kernel.to(device),
                           self.edge_index.to(device))


class Propagation(NamedTuple):
    """One pass of :class:`HGACLNet`: (N, F) input embeddings ``h0``, view
    weights (n_c, V), similarity blocks and their kept-neighbour masks, the
    (N, N) operator and the (N, H) GCN output ``z``."""

    h0: Tensor
    view_weights: Tensor
    s_cell: Tensor
    s_drug: Tensor
    kept_cell: Tensor
    kept_drug: Tensor
    adj: Tensor
    z: Tensor


class HGACLNet(nn.Module):
    """Fusion, reliable-neighbour graph, GCN encoder and Pearson decoder.

    Args:
        input_dims: feature sizes of the cell views, then of the drug fingerprint.
        config: the model's hyperparameters (sizes, ``k``, ``gamma``, ablations).

    Shapes:
        - input: :class:`GraphInputs` of n_c cells and n_d drugs
        - output of ``forward``: a :class:`Propagation`; of :meth:`logits`:
          (n_c, n_d) pair logits
    """

    def __init__(self, input_dims: list[int], config: HGACLConfig):
        super().__init__()
        embed, attention = config.embed_dim, config.attention_dim
        self.k, self.gamma = config.k, config.gamma
        self.projections = nn.ModuleList(nn.Linear(d, embed) for d in input_dims)
        self.fusion = ViewFusion(len(input_dims) - 1, embed, attention, config.dynamic_share)
        self.cell_attention = NodeAttention(embed, attention) if config.neighbour_filter else None
        self.drug_attention = NodeAttention(embed, attention) if config.neighbour_filter else None
        self.encoder = GCNEncoder(embed, list(config.layers))
        self.cell_head = nn.Linear(config.layers[-1], config.decoder_dim)
        self.drug_head = nn.Linear(config.layers[-1], config.decoder_dim)

    def forward(self, g: GraphInputs) -> Propagation:
        *cell_x, drug_x = g.features
        views = torch.stack([proj(x) for proj, x in
                             zip(self.projections[:-1], cell_x, strict=True)])
        h_cell, weights = self.fusion(views, g.present)
        h_drug = self.projections[-1](drug_x)
        cell_similarity = fuse_kernels(g.cell_kernels, weights, g.present)
        s_cell, kept_cell = reliable_neighbours(
            cell_similarity, _scores(self.cell_attention, h_cell, cell_similarity.shape[1]), self.k)
        s_drug, kept_drug = reliable_neighbours(
            g.drug_kernel, _scores(self.drug_attention, h_drug, g.drug_kernel.shape[1]), self.k)
        h0 = torch.cat([h_cell, h_drug])
        adj = heterogeneous_adjacency(s_cell, s_drug, g.edge_index)
        return Propagation(h0, weights, s_cell, s_drug, kept_cell, kept_drug, adj,
                           self.encoder(h0, adj))

    def logits(self, z: Tensor, n_cells: int) -> Tensor:
        """(n_c, n_d) ``gamma * Pearson(W_c z_cell, W_d z_drug)``."""
        return self.gamma * pearson_correlation(self.cell_head(z[:n_cells]),
                                                self.drug_head(z[n_cells:]))


def _scores(attention: NodeAttention | None, h: Tensor, n_candidates: int) -> Tensor | None:
    return None if attention is None else attention(h[:n_candidates])


# ---------------------------------------------------------------- perturbations
def _feature_view(net: HGACLNet, g: GraphInputs, out: Propagation, cfg: HGACLConfig,
                  generator: torch.Generator) -> Tensor:
    """GCN output with Gaussian noise (``feature_noise``) on the input embeddings."""
    return net.encoder(add_feature_noise(out.h0, cfg.feature_noise, generator), out.adj)


def _structure_view(net: HGACLNet, g: GraphInputs, out: Propagation, cfg: HGACLConfig,
                    generator: torch.Generator) -> Tensor:
    """GCN output on the graph without a fraction ``edge_drop`` of the response edges."""
    edges = drop_edges(g.edge_index, cfg.edge_drop, generator)
    return net.encoder(out.h0, heterogeneous_adjacency(out.s_cell, out.s_drug, edges))


PERTURBATIONS: dict[str, Callable[..., Tensor]] = {"feature": _feature_view,
                                                  "structure": _structure_view}
