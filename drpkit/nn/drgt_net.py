"""The drGT network: per-type input projections, attention layers over the
drug-cell-gene graph, and classification / ln IC50 heads on drug || cell.

Used by :mod:`drpkit.models.drgt` (model, configuration and training task);
the graph it runs on is built by :mod:`drpkit.models.drgt_graph`.

The three node types share one node space (drugs, then cells, then genes, as
upstream); each type has its own ``Linear`` projection of its features into
it, then 2-4 PyG attention layers (GAT, GATv2 or TransformerConv, chosen by
``conv``) with the edge weights (and optionally relation one-hots) as edge
attributes, each followed by a norm, the activation and dropout. A pair is
scored from the concatenated final embeddings of its drug and its cell by an
MLP (a sensitivity logit) and, optionally, a second MLP (standardised ln IC50)
(:class:`PairHead`).

Norms are per node (``layer``) or use running statistics in evaluation
(``batch``): upstream's default GraphNorm normalises over the whole graph, so
a prediction would depend on which other held-out nodes are scored alongside
it, and attaching a new cell would change every fitted node's embedding.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GATv2Conv, TransformerConv

ConvKind = Literal["gat", "gatv2", "transformer"]
NormKind = Literal["layer", "batch", "none"]
CONVS = {"gat": GATConv, "gatv2": GATv2Conv, "transformer": TransformerConv}
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


@dataclass
class NetShape:
    """Sizes and kinds of a :class:`DrGTNet` (what its weights depend on).

    Attributes:
        drug_in, cell_in, gene_in: widths of the three node feature matrices.
        hidden: size of the input projections.
        channels: output channels per head of every attention layer.
        heads: attention heads (concatenated).
        layers: number of attention layers.
        conv: ``gat``, ``gatv2`` or ``transformer``.
        edge_dim: width of the edge attributes.
        norm: ``layer``, ``batch`` or ``none``.
        activation: ``relu`` or ``gelu``.
        dropout: dropout after each attention layer.
        attention_dropout: dropout on the attention coefficients.
        head_hidden: hidden sizes of the pair MLPs.
        head_dropout: dropout in the pair MLPs.
        regression: add the ln IC50 head.
    """

    drug_in: int
    cell_in: int
    gene_in: int
    hidden: int
    channels: int
    heads: int
    layers: int
    conv: ConvKind
    edge_dim: int
    norm: NormKind
    activation: str
    dropout: float
    attention_dropout: float
    head_hidden: list[int]
    head_dropout: float
    regression: bool


@dataclass
class LayerAttention:
    """Attention coefficients of one layer: ``edge_index`` (2, E) source ->
    destination node ids (self-loops included for GAT / GATv2) and ``alpha``
    (E, heads), each head's coefficients summing to 1 over every node's
    incoming edges."""

    edge_index: Tensor
    alpha: Tensor


class PairHead(nn.Module):
    """An MLP on ``drug embedding || cell embedding`` computed per node first.

    The first layer of an MLP on the concatenation is ``W_d h_drug + W_c h_cell
    + b``; applying ``W_d`` and ``W_c`` to the (few) node embeddings and adding
    the rows of each pair is the same function at a fraction of the cost of
    concatenating and multiplying ~10^5 pair rows every epoch. With no hidden
    layer it is the linear score ``w_d . h_drug + w_c . h_cell + b``.
    """

    def __init__(self, width: int, hidden: list[int], activation: str, dropout: float):
        super().__init__()
        sizes = [*hidden, 1]
        self.drug = nn.Linear(width, sizes[0])
        self.cell = nn.Linear(width, sizes[0], bias=False)
        rest: list[nn.Module] = []
        for d_in, d_out in pairwise(sizes):
            rest += [ACTIVATIONS[activation](), nn.Dropout(dropout), nn.Linear(d_in, d_out)]
        self.rest = nn.Sequential(*rest)

    def forward(self, h_drug: Tensor, h_cell: Tensor, drug_idx: Tensor,
                cell_idx: Tensor) -> Tensor:
        """(P,) outputs of the pairs (``drug_idx``, ``cell_idx``) given all drug
        (n_d, width) and cell (n_c, width) embeddings."""
        # index_select, not [idx]: advanced indexing's backward sums duplicate rows in a
        # thread-dependent order on the CPU (run-to-run differences at 2 threads)
        pair = (self.drug(h_drug).index_select(0, drug_idx)
                + self.cell(h_cell).index_select(0, cell_idx))
        return self.rest(pair).squeeze(-1)


class DrGTNet(nn.Module):
    """Projections, attention layers and pair heads (see the module docstring).

    Shapes:
        - :meth:`encode` input: drug (n_d, drug_in), cell (n_c, cell_in) and
          gene (n_g, gene_in) features, ``edge_index`` (2, E) over the
          n_d + n_c + n_g nodes, ``edge_attr`` (E, edge_dim), and an optional
          boolean mask (E,) of the edges the *last* layer needs (those into
          drugs and cells: gene embeddings after it are never read)
        - :meth:`encode` output: node embeddings (n_d + n_c + n_g, heads * channels)
        - :meth:`heads` input: drug (n_d, width) and cell (n_c, width)
          embeddings and the (P,) drug and cell indices of the pairs
        - :meth:`heads` output: logits (P,) and standardised ln IC50 (P,) or None
    """

    def __init__(self, shape: NetShape):
        super().__init__()
        self.shape = shape
        s = shape
        self.proj = nn.ModuleDict({"drug": nn.Linear(s.drug_in, s.hidden),
                                   "cell": nn.Linear(s.cell_in, s.hidden),
                                   "gene": nn.Linear(s.gene_in, s.hidden)})
        width = s.channels * s.heads
        conv = CONVS[s.conv]
        self.convs = nn.ModuleList(
            conv(s.hidden if i == 0 else width, s.channels, heads=s.heads, edge_dim=s.edge_dim,
                 dropout=s.attention_dropout) for i in range(s.layers))
        self.norms = nn.ModuleList(self._norm(s.norm, width) for _ in range(s.layers))
        self.act = ACTIVATIONS[s.activation]()
        self.drop = nn.Dropout(s.dropout)
        self.cls_head = PairHead(width, s.head_hidden, s.activation, s.head_dropout)
        self.reg_head = PairHead(width, s.head_hidden, s.activation, s.head_dropout) \
            if s.regression else None

    @staticmethod
    def _norm(kind: NormKind, width: int) -> nn.Module:
        if kind == "layer":
            return nn.LayerNorm(width)
        if kind == "batch":
            return nn.BatchNorm1d(width)
        return nn.Identity()

    def projection(self, kind: str) -> nn.Linear:
        """The input projection of node type ``kind`` (``drug``, ``cell``, ``gene``)."""
        layer = self.proj[kind]
        assert isinstance(layer, nn.Linear)  # built as Linear, swapped only for Linear
        return layer

    def project(self, x_drug: Tensor, x_cell: Tensor, x_gene: Tensor) -> Tensor:
        """(n_d + n_c + n_g, hidden) projected node features, drugs first."""
        return torch.cat([self.proj["drug"](x_drug), self.proj["cell"](x_cell),
                          self.proj["gene"](x_gene)])

    def encode(self, x_drug: Tensor, x_cell: Tensor, x_gene: Tensor, edge_index: Tensor,
               edge_attr: Tensor, last_mask: Tensor | None = None,
               attention: bool = False) -> tuple[Tensor, list[LayerAttention]]:
        """Node embeddings after every layer; with ``attention`` also each layer's
        coefficients (else an empty list)."""
        x = self.project(x_drug, x_cell, x_gene)
        kept: list[LayerAttention] = []
        last = len(self.convs) - 1
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            ei, ea = edge_index, edge_attr
            if i == last and last_mask is not None:
                ei, ea = edge_index[:, last_mask], edge_attr[last_mask]
            if attention:
                x, (att_index, alpha) = conv(x, ei, ea, return_attention_weights=True)
                kept.append(LayerAttention(att_index.detach(), alpha.detach()))
            else:
                x = conv(x, ei, ea)
            x = self.drop(self.act(norm(x)))
        return x, kept

    def heads(self, h_drug: Tensor, h_cell: Tensor, drug_idx: Tensor,
              cell_idx: Tensor) -> tuple[Tensor, Tensor | None]:
        """Sensitivity logits and standardised ln IC50 (None without the head)
        of the pairs (``drug_idx``, ``cell_idx``), given every drug (n_d, width)
        and cell (n_c, width) embedding."""
        logits = self.cls_head(h_drug, h_cell, drug_idx, cell_idx)
        value = self.reg_head(h_drug, h_cell, drug_idx, cell_idx) \
            if self.reg_head is not None else None
        return logits, value
