"""Reusable layers of bipartite cell-drug graph models.

Three pieces that NIHGCN (Peng et al., Bioinformatics 38:4546, 2022), its
multi-task extension MTIGCN (Methods 222:41, 2024) and later relatives
(HGACL-DRP) share:

* :func:`bipartite_adjacency` turns an edge list of (cell, drug) pairs into
  the degree-normalised aggregation operators and self weights of a
  bipartite graph (:class:`BipartiteAdjacency`);
* :class:`NeighborhoodInteractionConv` is the NIHGCN layer: a heterogeneous
  graph convolution run in parallel with an element-wise "neighbourhood
  interaction" term;
* :func:`pearson_correlation` / :func:`pearson_decoder` /
  :class:`PearsonDecoder` score every (cell, drug) pair, or given pairs, by
  the Pearson correlation of their embeddings.

Notation: ``n_c`` cells, ``n_d`` drugs, ``E`` edges, ``F`` features.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from drpkit.errors import DataError


# --------------------------------------------------------------------- graph
@dataclass(frozen=True)
class BipartiteAdjacency:
    """Normalised operators of a cell-drug bipartite graph.

    With ``A`` the binary (n_c, n_d) adjacency, ``deg_c = A 1 + 1`` and
    ``deg_d = A^T 1 + 1`` (degrees plus one, so isolated nodes are defined):

    * ``agg_cell = D_c^-1/2 A D_d^-1/2``, shape (n_c, n_d): drug -> cell messages;
    * ``agg_drug = agg_cell^T``, shape (n_d, n_c): cell -> drug messages;
    * ``self_cell = 1 + 1 / deg_c``, shape (n_c,): the diagonal of the cells'
      self-loop weight ``diag(1 + 1/(deg+1))``, stored as a vector;
    * ``self_drug = 1 + 1 / deg_d``, shape (n_d,).

    ``agg_cell`` and ``agg_drug`` are either dense tensors or sparse COO
    tensors (see :func:`bipartite_adjacency`); :meth:`aggregate_to_cells` and
    :meth:`aggregate_to_drugs` hide the difference.

    Attributes:
        agg_cell: (n_c, n_d) operator, dense or sparse COO.
        agg_drug: (n_d, n_c) operator, dense or sparse COO.
        self_cell: (n_c,) self weights of the cells.
        self_drug: (n_d,) self weights of the drugs.
        edge_index: (2, E) long tensor of the unique edges (row 0 cell index,
            row 1 drug index), kept so a fitted graph can be inspected.
    """

    agg_cell: Tensor
    agg_drug: Tensor
    self_cell: Tensor
    self_drug: Tensor
    edge_index: Tensor

    @property
    def n_cells(self) -> int:
        return int(self.self_cell.shape[0])

    @property
    def n_drugs(self) -> int:
        return int(self.self_drug.shape[0])

    @property
    def is_sparse(self) -> bool:
        return bool(self.agg_cell.is_sparse)

    def to(self, device: torch.device | str) -> BipartiteAdjacency:
        """The same operators on ``device``."""
        return BipartiteAdjacency(*(t.to(device) for t in (
            self.agg_cell, self.agg_drug, self.self_cell, self.self_drug, self.edge_index)))

    def dense(self) -> Tensor:
        """The (n_c, n_d) normalised operator ``agg_cell`` as a dense tensor."""
        return self.agg_cell.to_dense() if self.is_sparse else self.agg_cell

    def aggregate_to_cells(self, x_drug: Tensor) -> Tensor:
        """``agg_cell @ x_drug``: (n_d, F) drug features -> (n_c, F) cell messages."""
        return _matmul(self.agg_cell, x_drug)

    def aggregate_to_drugs(self, x_cell: Tensor) -> Tensor:
        """``agg_drug @ x_cell``: (n_c, F) cell features -> (n_d, F) drug messages."""
        return _matmul(self.agg_drug, x_cell)


def _matmul(operator: Tensor, x: Tensor) -> Tensor:
    return torch.sparse.mm(operator, x) if operator.is_sparse else operator @ x


def bipartite_adjacency(edge_index: Tensor, n_cells: int, n_drugs: int, *,
                        sparse: bool = False,
                        dtype: torch.dtype = torch.float32) -> BipartiteAdjacency:
    """Degree-normalised operators of the bipartite graph given by an edge list.

    Duplicate edges count once (the graph is binary, as in NIHGCN, whose edges
    are the known sensitive pairs). Nodes without edges are allowed: their
    degree is 1 after the +1, so they keep a self weight of 2 and receive no
    messages; this is how held-out cells or drugs enter the graph.

    Dense is the default because cell-drug graphs are small (GDSC: ~1,000 x
    ~250 nodes, ~10% density) and a dense matrix product is faster than a
    sparse one at that density on CPU and GPU alike; ``sparse=True`` builds
    ``torch.sparse_coo`` operators (memory O(E) instead of O(n_c n_d)) for
    large graphs. Both give the same results up to rounding.

    Args:
        edge_index: (2, E) integer tensor; row 0 holds cell indices in
            ``[0, n_cells)``, row 1 drug indices in ``[0, n_drugs)``.
        n_cells: number of cell nodes.
        n_drugs: number of drug nodes.
        sparse: build sparse COO operators instead of dense ones.
        dtype: floating dtype of the operators.

    Returns:
        The :class:`BipartiteAdjacency` (on ``edge_index``'s device).

    Raises:
        DataError: if ``edge_index`` is not (2, E) or an index is out of range.
    """
    edge_index = torch.as_tensor(edge_index)
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise DataError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
    if edge_index.is_floating_point():
        raise DataError("edge_index must hold integer node indices")
    edge_index = edge_index.long()
    if edge_index.numel():
        rows, cols = edge_index
        if rows.min() < 0 or rows.max() >= n_cells or cols.min() < 0 or cols.max() >= n_drugs:
            raise DataError(f"edge_index has node indices outside [0, {n_cells}) x "
                            f"[0, {n_drugs})")
    # unique edges, sorted by (cell, drug)
    edge_index = torch.unique(edge_index[0] * n_drugs + edge_index[1])
    edge_index = torch.stack([edge_index // n_drugs, edge_index % n_drugs])
    device = edge_index.device
    rows, cols = edge_index
    ones = torch.ones(rows.shape[0], dtype=dtype, device=device)
    deg_cell = torch.zeros(n_cells, dtype=dtype, device=device).index_add_(0, rows, ones) + 1
    deg_drug = torch.zeros(n_drugs, dtype=dtype, device=device).index_add_(0, cols, ones) + 1
    weight = deg_cell[rows].rsqrt() * deg_drug[cols].rsqrt()
    if sparse:
        # indices were validated above, so torch's invariant checks are skipped
        agg_cell = torch.sparse_coo_tensor(edge_index, weight, (n_cells, n_drugs),
                                           check_invariants=False).coalesce()
        agg_drug = torch.sparse_coo_tensor(edge_index.flip(0), weight, (n_drugs, n_cells),
                                           check_invariants=False).coalesce()
    else:
        agg_cell = torch.zeros(n_cells, n_drugs, dtype=dtype, device=device)
        agg_cell[rows, cols] = weight
        agg_drug = agg_cell.t().contiguous()
    return BipartiteAdjacency(agg_cell, agg_drug, 1 + deg_cell.reciprocal(),
                              1 + deg_drug.reciprocal(), edge_index)


# --------------------------------------------------------------------- layer
class NeighborhoodInteractionConv(nn.Module):
    r"""The neighbourhood-interaction graph convolution of NIHGCN.

    From "Predicting cancer drug response using parallel heterogeneous graph
    convolutional networks with neighborhood interactions" (Peng et al.,
    Bioinformatics 2022). For cells (drugs are symmetric, with ``A^T``):

    .. math::
        G_c &= \mathrm{diag}(1 + 1/(d_c + 1))\, X_c
               + D_c^{-1/2} A D_d^{-1/2} X_d \\
        N_c &= G_c \odot X_c \\
        H_c &= \mathrm{ReLU}\big(((1 - \alpha) G_c + \alpha N_c) W_c + b_c\big)

    ``G`` is the heterogeneous graph convolution (node-level aggregation),
    ``N`` the element-wise interaction of a node with its aggregated
    neighbourhood, ``alpha`` balances the two. As in the authors' code, the
    weight ``W`` and bias ``b`` come after the mixture and cells and drugs
    have their own weights (they are different kinds of node); the layer has
    no normalisation of its own (NIHGCN normalises the input projection).

    Args:
        in_channels: size F of the input features of both node types.
        out_channels: size F' of the outputs.
        alpha: weight of the interaction term, in [0, 1] (0.25 GDSC, 0.45 CCLE
            in the paper).
        bias: learn additive biases.
        act: apply the ReLU of the update rule (turn off for a linear last layer).

    Shapes:
        - input: cell features (n_c, F), drug features (n_d, F), a
          :class:`BipartiteAdjacency` of n_c cells and n_d drugs
        - output: cell embeddings (n_c, F'), drug embeddings (n_d, F')
    """

    def __init__(self, in_channels: int, out_channels: int, alpha: float = 0.25,
                 bias: bool = True, act: bool = True):
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise DataError(f"alpha must be in [0, 1], got {alpha!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.alpha = alpha
        self.act = act
        self.lin_cell = nn.Linear(in_channels, out_channels, bias=bias)
        self.lin_drug = nn.Linear(in_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise both linear maps (PyTorch's default initialisation)."""
        self.lin_cell.reset_parameters()
        self.lin_drug.reset_parameters()

    def forward(self, x_cell: Tensor, x_drug: Tensor,
                adj: BipartiteAdjacency) -> tuple[Tensor, Tensor]:
        """Update cell and drug features (see the class docstring for shapes)."""
        if x_cell.shape[0] != adj.n_cells or x_drug.shape[0] != adj.n_drugs:
            raise DataError(f"features of {x_cell.shape[0]} cells and {x_drug.shape[0]} drugs "
                            f"do not match a graph of {adj.n_cells} cells and "
                            f"{adj.n_drugs} drugs")
        g_cell = adj.self_cell[:, None] * x_cell + adj.aggregate_to_cells(x_drug)
        g_drug = adj.self_drug[:, None] * x_drug + adj.aggregate_to_drugs(x_cell)
        h_cell = self.lin_cell(self._mix(g_cell, x_cell))
        h_drug = self.lin_drug(self._mix(g_drug, x_drug))
        if self.act:
            h_cell, h_drug = torch.relu(h_cell), torch.relu(h_drug)
        return h_cell, h_drug

    def _mix(self, gcn: Tensor, x: Tensor) -> Tensor:
        """``(1 - alpha) * gcn + alpha * (gcn * x)``, element-wise."""
        return (1.0 - self.alpha) * gcn + self.alpha * (gcn * x)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"alpha={self.alpha})")


# ------------------------------------------------------------------- decoder
def pearson_correlation(x: Tensor, y: Tensor, pairs: Tensor | None = None,
                        eps: float = 1e-8) -> Tensor:
    """Pearson correlation between rows of ``x`` and rows of ``y``.

    Each row is centred over its features and scaled to unit norm; the
    correlation is then a dot product. ``eps`` guards rows with no spread
    (e.g. all-zero ReLU outputs), whose correlation with anything is 0.

    Args:
        x: (n, F) matrix, e.g. cell embeddings.
        y: (m, F) matrix, e.g. drug embeddings.
        pairs: optional (2, P) integer tensor of (row of ``x``, row of ``y``)
            pairs; None gives the full matrix.
        eps: floor of the row norms.

    Returns:
        (n, m) matrix of correlations, or (P,) values for ``pairs``; in [-1, 1].
    """
    if x.shape[-1] != y.shape[-1]:
        raise DataError(f"x and y have different feature sizes: {x.shape[-1]} and {y.shape[-1]}")
    xn = _unit_centred_rows(x, eps)
    yn = _unit_centred_rows(y, eps)
    if pairs is None:
        return xn @ yn.t()
    return (xn[pairs[0]] * yn[pairs[1]]).sum(-1)


def _unit_centred_rows(x: Tensor, eps: float) -> Tensor:
    centred = x - x.mean(dim=-1, keepdim=True)
    return centred / centred.norm(dim=-1, keepdim=True).clamp_min(eps)


def pearson_decoder(cells: Tensor, drugs: Tensor, gamma: float = 8.0,
                    pairs: Tensor | None = None, logits: bool = False) -> Tensor:
    """NIHGCN's decoder: ``sigmoid(gamma * Pearson(cell, drug))``.

    The correlation lies in [-1, 1]; ``gamma`` stretches it so the sigmoid can
    approach 0 and 1 (gamma = 8 gives probabilities in [0.0003, 0.9997]).

    Args:
        cells: (n_c, F) cell embeddings.
        drugs: (n_d, F) drug embeddings.
        gamma: scale of the correlation before the sigmoid.
        pairs: optional (2, P) integer tensor of (cell index, drug index).
        logits: return ``gamma * Pearson`` without the sigmoid (for
            ``binary_cross_entropy_with_logits``, which is numerically safer).

    Returns:
        (n_c, n_d) matrix, or (P,) values for ``pairs``: probabilities of
        sensitivity, or their logits.
    """
    scaled = gamma * pearson_correlation(cells, drugs, pairs)
    return scaled if logits else torch.sigmoid(scaled)


class PearsonDecoder(nn.Module):
    """Module form of :func:`pearson_decoder` (no parameters).

    Args:
        gamma: scale of the correlation.
        logits: return scaled correlations instead of probabilities.

    Shapes:
        - input: cells (n_c, F), drugs (n_d, F), optional pairs (2, P)
        - output: (n_c, n_d), or (P,) with pairs
    """

    def __init__(self, gamma: float = 8.0, logits: bool = False):
        super().__init__()
        self.gamma = gamma
        self.logits = logits

    def forward(self, cells: Tensor, drugs: Tensor, pairs: Tensor | None = None) -> Tensor:
        return pearson_decoder(cells, drugs, self.gamma, pairs, self.logits)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(gamma={self.gamma}, logits={self.logits})"
