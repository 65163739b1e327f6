"""Layers of heterogeneous cell-drug graphs with similarity edges (HGACL-DRP).

HGACL-DRP (Li, Jin, Deng, medRxiv 2025.09.22.25336318) joins two kinds of
edge in one graph: cell-cell and drug-drug *similarity* edges, chosen by a
learned "reliable neighbour" filter over fused omics kernels, and cell-drug
*response* edges (the training sensitive pairs). The pieces, each usable on
its own:

* :class:`ViewFusion` and :func:`fuse_kernels`: per-cell weights of several
  omics views (static softmax weights mixed with per-cell attention) applied
  to the views' embeddings and, pair by pair, to their kernels; a cell that
  lacks a view is fused over the views it has;
* :class:`NodeAttention` and :func:`reliable_neighbours`: a node's
  reliability score re-weights its similarities and each node keeps its
  top-k neighbours;
* :func:`heterogeneous_adjacency`: ``I + D^-1/2 M D^-1/2`` with
  ``M = [[S_c, A], [A^T, S_d]]``; :class:`GCNEncoder` propagates over it;
* :func:`drop_edges` and :func:`add_feature_noise`: the structural and the
  feature perturbation of graph contrastive learning; :func:`info_nce`: a
  multi-positive InfoNCE loss with "neutral" pairs that count neither as
  positives nor as negatives.

Notation: ``n_c`` cells, ``n_d`` drugs, ``N = n_c + n_d`` nodes (cells first),
``V`` views, ``F`` features. Similarity matrices may be rectangular,
(n, m) with ``n >= m``: the first ``m`` nodes are the *candidates* (the nodes
of the fitted graph) and later rows are nodes that join it afterwards; such
rows receive edges from candidates but send none, so adding them never
changes a candidate's embedding.
"""
from __future__ import annotations

import math
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drpkit.errors import DataError
from drpkit.features.kernels import top_k_neighbours


# -------------------------------------------------------------------- fusion
class ViewFusion(nn.Module):
    r"""Per-cell weights of ``V`` omics views and the fused cell embedding.

    .. math::
        w_i = (1 - \rho)\,\mathrm{softmax}(s) + \rho\,\mathrm{softmax}(
              W_2\,\mathrm{ReLU}(W_1 \bar e_i))

    with ``s`` one learned logit per view (static weights), ``\bar e_i`` the
    mean of cell ``i``'s view embeddings (dynamic, per-cell weights) and
    ``rho`` the dynamic share. Views a cell lacks get weight 0 and the others
    are renormalised to sum 1; the fused embedding is ``sum_v w_iv e_iv``.

    Args:
        n_views: number of views ``V``.
        channels: embedding size ``F`` of every view.
        attention_dim: hidden size of the dynamic-weight MLP.
        dynamic_share: ``rho`` in [0, 1] (0.5 mixes static and dynamic 1:1).

    Shapes:
        - input: embeddings (V, n, F), present (n, V) 0/1 mask (every cell
          must have at least one view)
        - output: fused embeddings (n, F), weights (n, V)
    """

    def __init__(self, n_views: int, channels: int, attention_dim: int = 32,
                 dynamic_share: float = 0.5):
        super().__init__()
        self.n_views = n_views
        self.dynamic_share = dynamic_share
        self.static_logits = nn.Parameter(torch.zeros(n_views))
        self.attention = nn.Sequential(nn.Linear(channels, attention_dim), nn.ReLU(),
                                       nn.Linear(attention_dim, n_views))

    def forward(self, embeddings: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
        present = present.to(embeddings.dtype)
        counts = present.sum(1, keepdim=True)
        if bool((counts == 0).any()):
            raise DataError("every cell needs at least one view to fuse")
        mean = (embeddings * present.t()[:, :, None]).sum(0) / counts
        dynamic = torch.softmax(self.attention(mean), dim=1)
        mixed = (1 - self.dynamic_share) * torch.softmax(self.static_logits, 0) \
            + self.dynamic_share * dynamic
        weights = mixed * present
        weights = weights / weights.sum(1, keepdim=True)
        return (embeddings * weights.t()[:, :, None]).sum(0), weights


def fuse_kernels(kernels: Tensor, weights: Tensor, present: Tensor) -> Tensor:
    """Pairwise fusion of view kernels with per-cell view weights.

    ``S_ij = sum_v p_ijv K_v[i, j]`` where ``p_ijv`` is proportional to
    ``(w_iv + w_jv) / 2`` over the views that both ``i`` and ``j`` have (and 0
    otherwise), so the fused kernel is symmetric on the candidate block and a
    view missing for either cell does not pull the similarity to 0.

    Args:
        kernels: (V, n, m) view kernels (any value where a view is missing).
        weights: (n, V) per-cell view weights (rows sum to 1 over present views).
        present: (n, V) 0/1 mask of the views each cell has.

    Returns:
        (n, m) fused similarity; 0 for pairs that share no view.
    """
    m = kernels.shape[2]
    p = present.to(kernels.dtype).t()[:, :, None]  # (V, n, 1)
    w = (weights.t()[:, :, None] * p)
    pair_weights = w * p[:, :m].transpose(1, 2) + p * w[:, :m].transpose(1, 2)  # (V, n, m)
    return (pair_weights * kernels).sum(0) / pair_weights.sum(0).clamp_min(1e-12)


# ------------------------------------------------------- reliable neighbours
class NodeAttention(nn.Module):
    """Reliability score of each node, ``sigmoid(w_2 ReLU(W_1 h + b_1) + b_2)``.

    Args:
        channels: input embedding size ``F``.
        attention_dim: hidden size.

    Shapes:
        - input: (n, F) node embeddings
        - output: (n,) scores in (0, 1)
    """

    def __init__(self, channels: int, attention_dim: int = 32):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, attention_dim), nn.ReLU(),
                                 nn.Linear(attention_dim, 1))

    def forward(self, h: Tensor) -> Tensor:
        return torch.sigmoid(self.mlp(h)).squeeze(-1)


def reliable_neighbours(similarity: Tensor, scores: Tensor | None,
                        k: int) -> tuple[Tensor, Tensor]:
    """Keep, for every node, the ``k`` candidates of largest ``S_ij * a_j``.

    The weighted similarity ``S_ij * a_j`` (``a`` the candidates' reliability
    scores; ``None`` = plain k nearest neighbours of ``S``) ranks the
    candidates of row ``i``; a node is never its own neighbour. The kept
    weights of each row are scaled to sum 1 (so a node's similarity edges
    weigh as much in total as one response edge, whatever the kernel's scale;
    this also makes any global normalisation of ``a`` irrelevant) and the
    candidate block is symmetrised, ``(R + R^T) / 2``. Selection is not
    differentiable; the kept weights are, in ``S`` and ``a``.

    Args:
        similarity: (n, m) non-negative similarities to the ``m`` candidates,
            which are the first ``m`` of the ``n`` nodes.
        scores: (m,) reliability scores of the candidates, or None.
        k: neighbours per node (capped at ``m - 1``).

    Returns:
        weights: (n, n) similarity edge weights; columns of non-candidates are 0.
        kept: (n, m) boolean mask of each row's chosen neighbours.
    """
    n, m = similarity.shape
    if n < m:
        raise DataError(f"a similarity of shape {(n, m)} has fewer nodes than candidates")
    weighted = similarity if scores is None else similarity * scores[None, :]
    ranked = weighted.detach().clone()
    diagonal = torch.arange(m, device=similarity.device)
    ranked[diagonal, diagonal] = -math.inf
    kept = top_k_neighbours(ranked, min(int(k), m - 1), exclude_self=False)
    chosen = weighted * kept
    rows = chosen / chosen.sum(1, keepdim=True).clamp_min(1e-12)
    weights = torch.zeros(n, n, dtype=rows.dtype, device=rows.device)
    weights[:, :m] = rows
    weights[:m, :m] = (rows[:m] + rows[:m].t()) / 2
    return weights, kept


# ------------------------------------------------------------------- graph
def heterogeneous_adjacency(s_cell: Tensor, s_drug: Tensor, edge_index: Tensor) -> Tensor:
    """GCN operator ``I + D^-1/2 M D^-1/2`` of ``M = [[S_c, A], [A^T, S_d]]``.

    ``A`` is the binary (n_c, n_d) response matrix of ``edge_index`` (the
    training sensitive pairs only) and ``D`` the row sums of ``M``. As in the
    authors' code the self-loop is added after the normalisation, so a node
    keeps its own features at full weight next to its normalised
    neighbourhood (with Kipf's ``D^-1/2 (M + I) D^-1/2`` a cell with 20
    sensitive drugs would keep 1/21 of itself; on GDSC that learned more
    slowly and no better); a node without edges keeps only itself.
    Differentiable in ``S_c`` and ``S_d``.

    Args:
        s_cell: (n_c, n_c) cell-cell weights (see :func:`reliable_neighbours`).
        s_drug: (n_d, n_d) drug-drug weights.
        edge_index: (2, E) (cell, drug) node indices of response edges.

    Returns:
        (N, N) dense operator, cells first.
    """
    n_c, n_d = s_cell.shape[0], s_drug.shape[0]
    if s_cell.shape != (n_c, n_c) or s_drug.shape != (n_d, n_d):
        raise DataError(f"similarity blocks must be square, got {tuple(s_cell.shape)} and "
                        f"{tuple(s_drug.shape)}")
    response = torch.zeros(n_c, n_d, dtype=s_cell.dtype, device=s_cell.device)
    response[edge_index[0], edge_index[1]] = 1.0
    m = torch.cat([torch.cat([s_cell, response], 1), torch.cat([response.t(), s_drug], 1)])
    scale = m.sum(1).clamp_min(1e-12).rsqrt()
    eye = torch.eye(n_c + n_d, dtype=m.dtype, device=m.device)
    return eye + scale[:, None] * m * scale[None, :]


class GCNEncoder(nn.Module):
    """Graph convolution layers ``H' = ReLU(Â H W + b)`` over a dense operator.

    Args:
        in_channels: input size ``F``.
        layers: output size of each layer.

    Shapes:
        - input: (N, F) node features, (N, N) operator (e.g.
          :func:`heterogeneous_adjacency`)
        - output: (N, layers[-1])
    """

    def __init__(self, in_channels: int, layers: list[int]):
        super().__init__()
        sizes = [in_channels, *layers]
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        for lin in self.lins:
            x = torch.relu(lin(adj @ x))
        return x

    def __repr__(self) -> str:
        sizes = [self.lins[0].in_features, *(lin.out_features for lin in self.lins)]
        return f"{type(self).__name__}({sizes})"


# ------------------------------------------------------------ perturbations
def drop_edges(edge_index: Tensor, fraction: float,
               generator: torch.Generator | None = None) -> Tensor:
    """The structural view: ``edge_index`` (2, E) without ``round(fraction * E)``
    edges chosen uniformly at random (from ``generator``, a CPU generator)."""
    if not 0.0 <= fraction <= 1.0:
        raise DataError(f"edge drop fraction must be in [0, 1], got {fraction!r}")
    n_edges = edge_index.shape[1]
    order = torch.randperm(n_edges, generator=generator).to(edge_index.device)
    return edge_index[:, order[round(fraction * n_edges):]]


def add_feature_noise(x: Tensor, strength: float,
                      generator: torch.Generator | None = None) -> Tensor:
    """The feature view: ``x + strength * eps`` with standard normal ``eps``
    (drawn from ``generator``, a CPU generator)."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x + strength * noise.to(x.device)


# ------------------------------------------------------------- contrastive
def info_nce(anchor: Tensor, candidate: Tensor, positive: Tensor,
             neutral: Tensor | None = None, temperature: float = 0.2,
             neutral_weight: float = 0.0, exclude_diagonal: bool = False) -> Tensor:
    r"""Multi-positive InfoNCE with neutral pairs.

    With cosine similarities ``s_ij / tau`` between ``anchor`` rows and
    ``candidate`` rows, for every anchor that has a positive:

    .. math::
        \ell_i = -\log \frac{\sum_{j \in P_i} e^{s_{ij}/\tau}}
                 {\sum_{j \in P_i} e^{s_{ij}/\tau} + \sum_{j \in N_i} e^{s_{ij}/\tau}
                  + \nu \sum_{j \in U_i} e^{s_{ij}/\tau}}

    ``P`` positives, ``U`` neutral pairs (not positive), ``N`` the remaining
    negatives; ``nu`` = ``neutral_weight`` (0 removes neutral pairs from the
    denominator). The loss is the mean over anchors with a positive.

    Args:
        anchor: (n, F) embeddings.
        candidate: (m, F) embeddings of the other view.
        positive: (n, m) boolean mask of positives.
        neutral: (n, m) boolean mask of neutral pairs, or None.
        temperature: ``tau`` > 0.
        neutral_weight: ``nu`` in [0, 1].
        exclude_diagonal: ignore pair (i, i) entirely (for intra-view terms).

    Returns:
        Scalar loss (0 when no anchor has a positive).
    """
    if temperature <= 0:
        raise DataError(f"temperature must be positive, got {temperature!r}")
    logits = F.normalize(anchor, dim=1) @ F.normalize(candidate, dim=1).t() / temperature
    positive = positive.bool()
    ignored = torch.zeros_like(positive)
    if exclude_diagonal:
        ignored = ignored | torch.eye(*positive.shape, dtype=torch.bool, device=positive.device)
    positive = positive & ~ignored
    denominator = logits.masked_fill(ignored, -math.inf)
    if neutral is not None:
        neutral = neutral.bool() & ~positive
        shift = math.log(neutral_weight) if neutral_weight > 0 else -math.inf
        denominator = torch.where(neutral, denominator + shift, denominator)
    has_positive = positive.any(1)
    if not bool(has_positive.any()):
        return logits.sum() * 0.0
    numerator = torch.logsumexp(logits.masked_fill(~positive, -math.inf)[has_positive], 1)
    return (torch.logsumexp(denominator[has_positive], 1) - numerator).mean()
