"""Network of ``mmgnn``: drug tokens and cell tokens read each other by cross-attention.

The parts are the composable encoders of :mod:`drpkit.nn.encoders`; this module
only turns their outputs into token sequences and adds the attention and the
head, so an ablation (fingerprints, pretrained vectors, no pathway tokens, no
cross-attention) changes which parts exist, not this code.

* **drug tokens**: the atom embeddings of ``mol-gnn`` (``MolGNN.forward_tokens``,
  padded per drug by ``torch_geometric.utils.to_dense_batch``); a drug encoder
  without atoms (``fingerprint-mlp``, ``mol-encoder``) gives one token, its vector;
* **cell tokens**: one token per gene set (``PathwayTokens.forward_tokens``);
  without pathway tokens, one token, the expression MLP's vector.

Both token kinds are projected to ``dim``. Cross-attention runs both ways
(drug -> cell: each atom is a query over the pathway tokens; cell -> drug: each
pathway token is a query over the atoms, padding masked), each followed by a
residual and LayerNorm and a masked mean over its queries. The head reads
``[z_d || z_c || pool(drug -> cell) || pool(cell -> drug)]`` (without
cross-attention: ``[z_d || z_c || mean pathway token]``) and gives two
numbers per pair: the standardised ln IC50 and the sensitivity logit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from drpkit.nn.encoders import CellMLP, DrugEncoder, MolGNN, PathwayTokens, mlp


@dataclass(frozen=True)
class HeadShape:
    """Sizes of the attention and head (the encoders carry their own).

    Attributes:
        dim: width of the tokens inside the attention.
        heads: attention heads (``dim`` must be a multiple).
        cross_attention: False: concatenation only (the ablation).
        attention_dropout: dropout on the attention weights.
        head_hidden: hidden sizes of the pair MLP.
        dropout: dropout in the pair MLP.
    """

    dim: int
    heads: int
    cross_attention: bool
    attention_dropout: float
    head_hidden: tuple[int, ...]
    dropout: float


class Tokens(NamedTuple):
    """A padded token sequence per row: ``h`` (n, L, dim), ``mask`` (n, L) True = real."""

    h: Tensor
    mask: Tensor


class PairOutput(NamedTuple):
    """Per pair: standardised value (B,), sensitivity logit (B,) and, when asked,
    the head-averaged drug -> cell attention (B, L_drug, L_cell) with the drug mask."""

    value: Tensor
    logit: Tensor
    attention: Tensor | None
    drug_mask: Tensor | None


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``h`` (B, L, d) over the positions where ``mask`` (B, L) is True."""
    weight = mask.unsqueeze(-1).to(h.dtype)
    return (h * weight).sum(1) / weight.sum(1).clamp_min(1.0)


class CrossAttention(nn.Module):
    """Queries attend to keys: ``h = LayerNorm(q + MHA(q, k, k))``, then the masked
    mean over the queries (``torch.nn.MultiheadAttention``; Vaswani et al. 2017).

    Shapes: q (B, Q, d), q_mask (B, Q), k (B, K, d), k_mask (B, K) -> pooled (B, d),
    weights (B, Q, K) averaged over heads (rows sum to 1 over the real keys) or None.
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, q: Tokens, k: Tokens, need_weights: bool = False
                ) -> tuple[Tensor, Tensor | None]:
        out, weights = self.attention(q.h, k.h, k.h, key_padding_mask=~k.mask,
                                      need_weights=need_weights, average_attn_weights=True)
        return masked_mean(self.norm(q.h + out), q.mask), weights


class MMGNNNet(nn.Module):
    """Drug encoder + cell MLP (+ pathway tokens) + two-way cross-attention + head.

    Args:
        drug: a fitted drug encoder (``mol-gnn`` gives atom tokens).
        cell: the fitted expression MLP (global cell vector ``z_c``).
        pathways: fitted pathway tokens, or None (ablation ``pathway_tokens=false``).
        shape: attention and head sizes.

    Shapes: ``forward(drug_prepared, x, s, d)`` with ``x`` (B, n_genes) scaled
    expression of each pair's cell, ``s`` (B, n_sets) its gene-set scores (or
    None), ``d`` (B,) long rows of the prepared drugs -> :class:`PairOutput`.
    """

    def __init__(self, drug: DrugEncoder, cell: CellMLP, pathways: PathwayTokens | None,
                 shape: HeadShape) -> None:
        super().__init__()
        self.drug, self.cell, self.pathways, self.shape = drug, cell, pathways, shape
        d = shape.dim
        drug_width, cell_width = drug.config.dim, cell.config.dim
        width = drug_width + cell_width
        if shape.cross_attention:
            atom_width = drug.config.hidden if isinstance(drug, MolGNN) else drug_width
            token_width = pathways.config.dim if pathways is not None else cell_width
            self.drug_tokens = nn.Linear(atom_width, d)
            self.cell_tokens = nn.Linear(token_width, d)
            self.drug_to_cell = CrossAttention(d, shape.heads, shape.attention_dropout)
            self.cell_to_drug = CrossAttention(d, shape.heads, shape.attention_dropout)
            width += 2 * d
        elif pathways is not None:
            width += pathways.config.dim
        self.head = mlp([width, *shape.head_hidden, 2], shape.dropout)

    def encode_drugs(self, prepared: Any) -> tuple[Tensor, Tokens | None]:
        """Global drug vectors (n_drugs, drug dim) and, with cross-attention, drug tokens."""
        if isinstance(self.drug, MolGNN):
            from torch_geometric.nn import global_add_pool, global_mean_pool
            from torch_geometric.utils import to_dense_batch

            h, index = self.drug.forward_tokens(prepared)
            pool = global_mean_pool if self.drug.config.pool == "mean" else global_add_pool
            z = self.drug.out(pool(h, index, size=prepared.num_graphs))
            if not self.shape.cross_attention:
                return z, None
            atoms, mask = to_dense_batch(h, index, batch_size=prepared.num_graphs)
            return z, Tokens(self.drug_tokens(atoms), mask)
        z = self.drug(prepared)
        if not self.shape.cross_attention:
            return z, None
        return z, Tokens(self.drug_tokens(z).unsqueeze(1), _ones(z))

    def forward(self, drug_prepared: Any, x: Tensor, s: Tensor | None, d: Tensor,
                need_weights: bool = False) -> PairOutput:
        z_drugs, drug_tokens = self.encode_drugs(drug_prepared)
        # index_select, not z[d]: the backward of advanced indexing accumulates
        # duplicate rows in parallel on the CPU (run-to-run differences at 2 threads);
        # index_select's backward (index_add_) does not
        z_d, z_c = z_drugs.index_select(0, d), self.cell(x)
        parts = [z_d, z_c]
        attention = drug_mask = None
        if self.shape.cross_attention:
            assert drug_tokens is not None  # encode_drugs gives tokens with cross-attention
            drug = _trimmed(Tokens(drug_tokens.h.index_select(0, d),
                                   drug_tokens.mask.index_select(0, d)))
            if self.pathways is not None:
                assert s is not None
                cell = Tokens(self.cell_tokens(self.pathways.forward_tokens(s)),
                              _ones(s, s.shape[1]))
            else:
                cell = Tokens(self.cell_tokens(z_c).unsqueeze(1), _ones(z_c))
            to_cell, attention = self.drug_to_cell(drug, cell, need_weights)
            to_drug, _ = self.cell_to_drug(cell, drug)
            parts += [to_cell, to_drug]
            drug_mask = drug.mask
        elif self.pathways is not None:
            assert s is not None
            parts.append(self.pathways(s))
        out = self.head(torch.cat(parts, dim=1))
        return PairOutput(out[:, 0], out[:, 1], attention, drug_mask)


def _trimmed(tokens: Tokens) -> Tokens:
    """``tokens`` without the padding columns that no row of this batch uses: drugs are
    padded to the largest of all drugs, a batch needs only its own largest
    (``to_dense_batch`` puts the real atoms first, so this drops padding only)."""
    length = int(tokens.mask.sum(1).max()) if tokens.mask.numel() else 0
    return Tokens(tokens.h[:, :length], tokens.mask[:, :length])


def _ones(like: Tensor, length: int = 1) -> Tensor:
    """An all-True token mask (n, length) for the n rows of ``like``."""
    return torch.ones(like.shape[0], length, dtype=torch.bool, device=like.device)
