"""CSG2A's networks (Bang, Koo & Kim, Bioinformatics 40 Suppl 1, ISMB 2024).

Three modules, smallest first:

* :class:`ConditionEncoder` (the paper's CCE): ``D(S, d, t) = MLP([enc(S), d W_dose,
  t W_time])``, a drug encoder part of :mod:`drpkit.nn.encoders` for the structure
  (the paper's pretrained MAT weights are not reachable here), dose in units of
  100 uM and time in units of 72 h, each expanded to 2 dims by a bias-free linear
  map, then a bias-free linear layer to one value per gene, BatchNorm, ReLU, dropout.
* :class:`CSG2ABlock`: per-gene query ``Q = g0 (.) W_gene + D (.) W_comp`` (both
  ``W`` are ``genes x b``, a weight vector per gene), attention
  ``A = Q Q^T / sqrt(b) + A_PPI``, then ``A`` is the weight of the first linear
  layer over genes: ``h = A g0``, then LayerNorm, ReLU, dropout and a bias-free
  linear layer give the perturbed expression. ``form`` selects

  - ``gene-to-gene`` (the paper's equations, default): ``h_i = sum_j A_ij g0_j``;
  - ``gene-wise`` (the public code's ``einsum('ij,ijk->ij')``):
    ``h_i = g0_i sum_j A_ij``;
  - ``linear`` (the paper's no-attention variant): ``h = g0 + D``.

  ``A`` is never built during training: ``A g0 = Q (Q^T g0) / sqrt(b) + A_PPI g0``
  and ``sum_j A_ij = Q_i . (sum_j Q_j) / sqrt(b) + sum_j A_PPI,ij`` cost
  O(genes x b) per sample instead of O(genes^2 x b) (see :meth:`CSG2ABlock.first_layer`); :meth:`CSG2ABlock.attention`
  builds ``A`` for explanations and tests. The LayerNorm before the ReLU is the
  public code's (``A g0`` grows with the number of genes; the norm keeps it in range).
* :class:`CSG2ANet`: the fine-tuning network on ln IC50: a learnable scaling
  ``g0' = (g0 - mu) / sigma`` (two scalars) before the block, then three branches
  (basal expression, predicted perturbed expression, condition vector ``D``),
  each Linear-BatchNorm-ReLU-dropout, concatenated into an MLP head. With
  ``frozen`` the block (and its condition encoder) keeps its pretrained weights
  and stays in eval mode (no dropout, BatchNorm statistics unchanged).
"""
from __future__ import annotations

import math
from itertools import pairwise

import torch
from torch import Tensor, nn

from drpkit.nn.encoders import DrugEncoder

FORMS = ("gene-to-gene", "gene-wise", "linear")
DOSE_UNIT_UM, TIME_UNIT_H = 100.0, 72.0  # the paper scales dose by 100 uM and time by 72 h


class ConditionEncoder(nn.Module):
    """Compound + dose + time -> one value per gene (shapes: drug vectors (n, dim),
    dose (n,) uM, time (n,) h -> (n, genes))."""

    def __init__(self, drug: DrugEncoder, n_genes: int, dropout: float) -> None:
        super().__init__()
        self.drug = drug
        self.dose = nn.Linear(1, 2, bias=False)
        self.time = nn.Linear(1, 2, bias=False)
        self.proj = nn.Sequential(nn.Linear(drug.config.dim + 4, n_genes, bias=False),
                                  nn.BatchNorm1d(n_genes), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, drug_vectors: Tensor, dose_um: Tensor, time_h: Tensor) -> Tensor:
        dose = self.dose((dose_um / DOSE_UNIT_UM).unsqueeze(-1))
        time = self.time((time_h / TIME_UNIT_H).unsqueeze(-1))
        return self.proj(torch.cat([drug_vectors, dose, time], dim=-1))


class CSG2ABlock(nn.Module):
    """Condition encoder + condition-specific gene-gene attention network (module
    docstring); ``forward(g0, drug_vectors, dose, time) -> (perturbed, D)``."""

    def __init__(self, condition: ConditionEncoder, n_genes: int, hidden: int, form: str,
                 prior: Tensor | None, dropout: float) -> None:
        super().__init__()
        if form not in FORMS:
            raise ValueError(f"unknown CSG2A form {form!r}; use one of {FORMS}")
        self.condition, self.form, self.hidden = condition, form, hidden
        self.w_gene = nn.Parameter(torch.randn(n_genes, hidden))
        self.w_comp = nn.Parameter(torch.randn(n_genes, hidden))
        # A_PPI (dense, symmetric; zeros = no prior) is data, not a parameter
        self.register_buffer("prior", prior if prior is not None else torch.zeros(
            n_genes, n_genes))
        self.out = nn.Sequential(nn.LayerNorm(n_genes), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(n_genes, n_genes, bias=False))

    def queries(self, g0: Tensor, cond: Tensor) -> Tensor:
        """``Q = g0 (.) W_gene + D (.) W_comp``: (n, genes) x2 -> (n, genes, b)."""
        return g0.unsqueeze(-1) * self.w_gene + cond.unsqueeze(-1) * self.w_comp

    def attention(self, g0: Tensor, cond: Tensor) -> Tensor:
        """The full ``A = Q Q^T / sqrt(b) + A_PPI``, (n, genes, genes)."""
        q = self.queries(g0, cond)
        return q @ q.transpose(1, 2) / math.sqrt(self.hidden) + self.prior_matrix

    @property
    def prior_matrix(self) -> Tensor:
        """``A_PPI`` (genes x genes; zeros without a prior)."""
        prior: Tensor = self.prior  # type: ignore[assignment]  # a registered buffer
        return prior

    def first_layer(self, g0: Tensor, cond: Tensor) -> Tensor:
        """The first layer's output ``h`` without building ``A`` or even ``Q``.

        With ``Q_i = g_i Wg_i + c_i Wc_i`` (rows of the per-gene weights), a vector
        ``t`` of width ``b`` gives ``(Q t)_i = g_i (Wg t)_i + c_i (Wc t)_i``, and
        ``Q^T g = (g*g) Wg + (g*c) Wc``: a handful of (n x genes) x (genes x b)
        matrix products per batch (gene-to-gene uses ``t = Q^T g``, gene-wise the
        column sums ``t = sum_j Q_j = g Wg + c Wc``).
        """
        if self.form == "linear":
            return g0 + cond
        wg, wc = self.w_gene, self.w_comp
        scale = math.sqrt(self.hidden)
        prior = self.prior_matrix

        def q_times(t: Tensor) -> Tensor:  # (n, b) -> (n, genes): Q t
            return g0 * (t @ wg.T) + cond * (t @ wc.T)

        if self.form == "gene-to-gene":
            return q_times((g0 * g0) @ wg + (g0 * cond) @ wc) / scale + g0 @ prior
        row_sums = q_times(g0 @ wg + cond @ wc) / scale + prior.sum(1)
        return g0 * row_sums

    def forward(self, g0: Tensor, drug_vectors: Tensor, dose_um: Tensor,
                time_h: Tensor) -> tuple[Tensor, Tensor]:
        cond = self.condition(drug_vectors, dose_um, time_h)
        return self.out(self.first_layer(g0, cond)), cond


def _branch(d_in: int, d_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU(),
                         nn.Dropout(dropout))


class CSG2ANet(nn.Module):
    """Scaling layer + CSG2A block + three branches + MLP head -> standardised ln IC50."""

    def __init__(self, block: CSG2ABlock, n_genes: int, head_hidden: tuple[int, ...],
                 dropout: float, frozen: bool, decay_queries: bool = True) -> None:
        super().__init__()
        self.block, self.frozen, self.decay_queries = block, frozen, decay_queries
        self.mu = nn.Parameter(torch.zeros(1))
        self.sigma = nn.Parameter(torch.ones(1))
        width = head_hidden[0]
        self.basal = _branch(n_genes, width, dropout)
        self.perturbed = _branch(n_genes, width, dropout)
        self.compound = _branch(n_genes, width, dropout)
        sizes = [3 * width, *head_hidden[1:]]
        self.head = nn.Sequential(*(_branch(a, b, dropout) for a, b in pairwise(sizes)),
                                  nn.Linear(sizes[-1], 1))
        block.requires_grad_(not frozen)

    def no_weight_decay(self) -> set[str]:
        """Parameters the trainer does not decay (``decay_queries=False``): the
        per-gene query weights and the scaling layer. The LayerNorm after the first
        layer hides their scale from the loss, so decay alone would shrink them
        towards 0 and the attention ``Q Q^T`` with them."""
        if self.decay_queries:
            return set()
        return {"block.w_gene", "block.w_comp", "mu", "sigma"}

    def train(self, mode: bool = True) -> CSG2ANet:
        """As ``nn.Module.train``, but a frozen block stays in eval mode."""
        super().train(mode)
        if self.frozen:
            self.block.eval()
        return self

    def scale(self, g0: Tensor) -> Tensor:
        """The learnable scaling layer ``(g0 - mu) / sigma`` in front of the block."""
        return (g0 - self.mu) / self.sigma.abs().clamp_min(1e-6)

    def forward(self, g0: Tensor, drug_vectors: Tensor, dose_um: Tensor,
                time_h: Tensor) -> tuple[Tensor, Tensor]:
        """(standardised ln IC50 (n,), predicted perturbed expression (n, genes))."""
        perturbed, cond = self.block(self.scale(g0), drug_vectors, dose_um, time_h)
        joined = torch.cat([self.basal(g0), self.perturbed(perturbed), self.compound(cond)], -1)
        return self.head(joined).squeeze(-1), perturbed
