"""HGACL-DRP: heterogeneous graph attention with dual-perturbation contrastive learning.

**HGACL-DRP** (Li, Jin, Deng, medRxiv 10.1101/2025.09.22.25336318) puts cell
lines and drugs in one graph with three kinds of edge and learns node
embeddings with a GCN:

1. *Multi-omics fusion.* Each cell view gets a linear embedding and a kernel:
   Gaussian on expression, polynomial on copy number, Jaccard on mutation
   (drugs: Jaccard on fingerprints), each divided by its Frobenius norm. Per
   cell, view weights are a learned static softmax mixed 1:1 with attention
   weights computed from the cell's own embeddings; they fuse both the
   embeddings (the cell's input to the GCN) and, pair by pair, the kernels
   (:class:`~drpkit.nn.ViewFusion`, :func:`~drpkit.nn.fuse_kernels`).
2. *Reliable neighbours.* A node-attention MLP scores every node; each node
   keeps the ``k`` neighbours of largest similarity x score
   (:func:`~drpkit.nn.reliable_neighbours`).
3. *Heterogeneous graph.* ``[[S_c, A], [A^T, S_d]]`` with ``A`` the training
   sensitive pairs, symmetric-normalised (:func:`~drpkit.nn.heterogeneous_adjacency`),
   propagated by GCN layers; pairs are scored by
   ``sigmoid(gamma * Pearson(W_c z_cell, W_d z_drug))``.
4. *Dual-perturbation contrastive learning.* A feature view (Gaussian noise
   of strength ``beta`` on the GCN's input embeddings) and a structural view
   (a fraction ``alpha`` of the response edges dropped) are contrasted with
   the original embeddings, plus an intra-view term, by InfoNCE with
   temperature ``tau``: positives are a node itself and its training links,
   *neutral* pairs are its reliable neighbours, the rest are negatives.
   Loss: ``BCE + lambda * mean of the InfoNCE terms``.

Neutral pairs: the paper calls reliable neighbours neither positive nor
negative; as in the authors' code they are left out of the InfoNCE
denominator by default (``neutral_weight = 0``); a weight in (0, 1] counts
them as down-weighted negatives instead.

Missing views: expression is required; CNV and mutation are used when the
dataset has them. A cell lacking a view is embedded and compared over the
views it has (its fusion weights are renormalised; a pair's kernel is fused
over the views both cells have). A dataset with fewer views fits with the
kernels it has, warns, and records them in ``views_``.

Ablations (configuration): ``fusion=False`` (expression only),
``neighbour_filter=False`` (plain k nearest neighbours of the fused kernel),
``contrastive_weight=0`` (no perturbations, no contrastive work),
``perturbations=["feature"]`` or ``["structure"]`` (single perturbation).

Departures from the authors' code, on purpose: the response edges come from
the training part of a fold of *pairs* (upstream split over the row count and
trained on ~962 positives), and the epoch is chosen by early stopping on the
validation part (upstream: best epoch on the test fold); the GCN input is the
fused omics embedding (upstream: a linear map of the filtered kernel rows,
which ties the model to a fixed node set); per-cell dynamic weights stay per
cell (upstream averaged them over cells) and mix 1:1 with the static ones
(upstream 0.3:0.7); the node scores re-weight the kept similarities, so they
are trained (upstream used them only to rank, which gives them no gradient);
kept similarity rows are scaled to sum 1 and symmetrised before the graph is
normalised (upstream's Frobenius-scaled kernels were ~1/n next to response
edges of weight 1, so similarity edges barely counted); the Gaussian
bandwidth is ``1 / mean squared distance`` of training cells (upstream's
``sigma = 2`` on thousands of z-scored genes gives ~0 off the diagonal); the
polynomial kernel scales the inner product by ``1 / genes`` and is clipped at
0 (an odd degree gives negative similarities otherwise); neutral pairs are
the reliable cell-cell and drug-drug neighbours, as the paper describes
(upstream: the top-10 training drugs of each cell by attention); z-scores and
kernel scales use training cells only.

Leakage: response edges, the positives of the contrastive loss and the BCE
targets come from ``train.responses`` only. Validation and test cells or drugs
are nodes with features and similarity edges but no response edges. At
predict time cells or drugs that were not nodes at fit time join the graph
with similarity edges *from* their reliable neighbours among the fitted nodes
and none *to* them, which changes no fitted node's embedding.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from drpkit.data.container import DrugResponseData
from drpkit.data.ids import extend_ids, require_ids
from drpkit.errors import DataError
from drpkit.evaluate.metrics import auroc
from drpkit.features.expression import fit_expression_scaling
from drpkit.features.kernels import (
    gaussian_gamma,
    gaussian_kernel,
    jaccard_similarity,
    polynomial_kernel,
)
from drpkit.models.base import EarlyStoppingModel, ModelConfig, register_model
from drpkit.nn import (
    GCNEncoder,
    NodeAttention,
    ViewFusion,
    add_feature_noise,
    drop_edges,
    fuse_kernels,
    heterogeneous_adjacency,
    info_nce,
    pearson_correlation,
    reliable_neighbours,
)
from drpkit.nn.lowrank import expand_linear, restrict_linear, row_space_basis
from drpkit.train import Trainer, TrainerConfig, load_weights, save_weights, select_device

STATE_FILE = "hgacl.npz"
CELL_VIEW_KERNELS = {"expression": "gaussian", "cnv": "polynomial", "mutation": "jaccard"}


# --------------------------------------------------------------------- config
class HGACLConfig(ModelConfig):
    """Hyperparameters of HGACL-DRP (defaults: the paper's optimum for the
    perturbations, the authors' code for sizes, temperature and loss weight).

    Attributes:
        n_genes: keep the most variable expression genes among training
            cells; None = all (CNV and mutation always use all genes).
        drug_fingerprint: drug view; ``auto`` = the dataset's ``pubchem920``
            view when present, else ``pubchem`` (881 bits from SMILES).
        fusion: fuse expression, CNV and mutation; False = the expression
            embedding and kernel only (ablation "no data fusion").
        neighbour_filter: rank neighbours by similarity x node attention
            score; False = plain k nearest neighbours of the fused kernel
            (ablation "no reliable-neighbour filter").
        k: reliable neighbours kept per cell and per drug (10 in the paper).
        cnv_degree: degree of the polynomial CNV kernel (3 upstream).
        embed_dim: size of the per-view linear embeddings (128 upstream).
        attention_dim: hidden size of the fusion and node-attention MLPs (32).
        dynamic_share: share of the per-cell attention weights in the view
            weights; 0.5 mixes them 1:1 with the static softmax weights.
        layers: output sizes of the GCN layers (one layer of 192 upstream).
        decoder_dim: size of the cell and drug heads before the Pearson
            decoder (64 upstream).
        gamma: scale of the Pearson correlation before the sigmoid (8.7 upstream).
        contrastive_weight: ``lambda``, weight of the contrastive loss next to
            the BCE (0.1/0.9 upstream); 0 skips the contrastive work entirely.
        temperature: ``tau`` of InfoNCE (0.2 upstream).
        edge_drop: ``alpha``, fraction of response edges dropped in the
            structural view (0.2, the paper's optimum).
        feature_noise: ``beta``, standard deviation of the Gaussian noise on
            the input embeddings in the feature view (0.1, the paper's optimum).
        perturbations: the perturbed views contrasted with the original one;
            one of them alone is the "single perturbation" ablation.
        neutral_weight: weight of neutral pairs (reliable neighbours) in the
            InfoNCE denominator; 0 leaves them out, as the authors' code does.
        nodes: ``view`` = every cell of the expression view and every drug of
            the fingerprint view is a node (held-out ones get similarity edges
            only); ``responses`` = only the cells and drugs of the training and
            validation parts (others join at predict time).
        compress_inputs: train the wide input embeddings on the row space of
            their features (a reparameterisation; Adam's path differs, see
            :mod:`drpkit.nn.lowrank`).
        trainer: optimisation; full batch, early stopping on validation AUROC
            (1000 epochs at most, patience 50; Adam 1e-3 without weight decay
            as upstream).
    """

    n_genes: int | None = Field(default=None, ge=1)
    drug_fingerprint: str = "auto"
    fusion: bool = True
    neighbour_filter: bool = True
    k: int = Field(default=10, ge=1)
    cnv_degree: int = Field(default=3, ge=1)
    embed_dim: int = Field(default=128, ge=1)
    attention_dim: int = Field(default=32, ge=1)
    dynamic_share: float = Field(default=0.5, ge=0.0, le=1.0)
    layers: list[int] = Field(default_factory=lambda: [192], min_length=1)
    decoder_dim: int = Field(default=64, ge=1)
    gamma: float = Field(default=8.7, gt=0.0)
    contrastive_weight: float = Field(default=0.1, ge=0.0)
    temperature: float = Field(default=0.2, gt=0.0)
    edge_drop: float = Field(default=0.2, ge=0.0, le=1.0)
    feature_noise: float = Field(default=0.1, ge=0.0)
    perturbations: list[Literal["feature", "structure"]] = Field(
        default_factory=lambda: ["feature", "structure"], min_length=1)
    neutral_weight: float = Field(default=0.0, ge=0.0, le=1.0)
    nodes: Literal["view", "responses"] = "view"
    compress_inputs: bool = True
    trainer: TrainerConfig = TrainerConfig(max_epochs=1000, patience=50, lr=1e-3,
                                           weight_decay=0.0)


# -------------------------------------------------------------------- kernels
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


# --------------------------------------------------------------------- module
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


# ----------------------------------------------------------------------- task
class _HGACLTask:
    """Full-batch training; the "batch" of an epoch is the trainer's random
    generator, which draws that epoch's perturbations.

    Tensors (on the trainer's device): ``train_idx`` (2, P) / ``train_y`` (P,)
    labelled training pairs; ``val_idx`` (2, Q) / ``val_y`` (Q,) validation
    pairs; ``links`` (N, N) training sensitive pairs in both directions.
    """

    mode: Literal["min", "max"]

    def __init__(self, net: HGACLNet, g: GraphInputs, pairs: dict[str, Tensor],
                 config: HGACLConfig, device: torch.device):
        self.module, self.g, self.cfg = net.to(device), g.to(device), config
        self.t = {k: v.to(device) for k, v in pairs.items()}
        n_c, n = g.n_cells, g.n_cells + g.drug_kernel.shape[0]
        self.links = torch.zeros(n, n, dtype=torch.bool, device=device)
        self.links[self.g.edge_index[0], n_c + self.g.edge_index[1]] = True
        self.links |= self.links.t().clone()
        self.positive = self.links | torch.eye(n, dtype=torch.bool, device=device)
        self.val_y = self.t["val_y"].cpu().numpy()
        both_classes = len(np.unique(self.val_y)) == 2
        self.monitor, self.mode = ("val_auroc", "max") if both_classes else ("val_bce", "min")

    def batches(self, epoch: int, generator: torch.Generator):
        yield generator

    def _pair_logits(self, out: Propagation, part: str) -> Tensor:
        idx = self.t[f"{part}_idx"]
        return self.module.logits(out.z, self.g.n_cells)[idx[0], idx[1]]

    def loss(self, generator: torch.Generator) -> Tensor:
        out = self.module(self.g)
        loss = F.binary_cross_entropy_with_logits(self._pair_logits(out, "train"),
                                                  self.t["train_y"])
        if self.cfg.contrastive_weight > 0:
            loss = loss + self.cfg.contrastive_weight * self.contrastive(out, generator)
        return loss

    def contrastive(self, out: Propagation, generator: torch.Generator) -> Tensor:
        """Mean of InfoNCE(original, each perturbed view) and the intra-view term."""
        cfg = self.cfg
        neutral = torch.block_diag(out.kept_cell, out.kept_drug)
        neutral = neutral | neutral.t()
        terms = [info_nce(out.z, PERTURBATIONS[name](self.module, self.g, out, cfg, generator),
                          self.positive, neutral, cfg.temperature, cfg.neutral_weight)
                 for name in cfg.perturbations]
        terms.append(info_nce(out.z, out.z, self.links, neutral, cfg.temperature,
                              cfg.neutral_weight, exclude_diagonal=True))
        return torch.stack(terms).mean()

    def validate(self) -> dict[str, float]:
        logits = self._pair_logits(self.module(self.g), "val")
        metrics = {"val_bce": float(F.binary_cross_entropy_with_logits(logits, self.t["val_y"]))}
        if self.monitor == "val_auroc":
            metrics["val_auroc"] = auroc(self.val_y, logits.cpu().numpy())
        return metrics


# ---------------------------------------------------------------------- model
@register_model
class HGACL(EarlyStoppingModel):
    """HGACL-DRP (see the module docstring).

    Fitted attributes:
        views_: the fitted cell views (:class:`FittedView`), expression first;
            fewer than three when the dataset (or ``fusion=False``) has fewer.
        drug_view_: the fitted fingerprint view.
        cells_, drugs_: node ids (arrays of str), in node order.
        edge_index_: (2, E) int64 node indices of the training sensitive pairs.
        module_: the trained :class:`HGACLNet`; history_: the training history.
    """

    name = "hgacl"
    description = ("HGACL-DRP: GCN on fused multi-omics similarity + training response graph "
                   "with reliable neighbours and dual-perturbation contrastive learning "
                   "(classifier)")
    Config = HGACLConfig
    cell_views = ("expression", "cnv", "mutation")
    drug_views = ("pubchem920", "smiles")  # pubchem920 when stored, else PubChem from SMILES
    outputs = ("score",)
    config: HGACLConfig

    # ------------------------------------------------------------- features
    def _fit_views(self, train: DrugResponseData) -> None:
        cfg = self.config
        train_cells = np.sort(train.responses["cell"].unique())
        require_ids(train_cells, train.cell_view("expression").index, "cell", "expression")
        wanted = list(CELL_VIEW_KERNELS) if cfg.fusion else ["expression"]
        self.views_ = []
        for name in wanted:
            frame = train.cell_views.get(name)
            rows = train_cells[np.isin(train_cells, frame.index)] if frame is not None else []
            if len(rows):
                self.views_.append(FittedView.fit(
                    name, CELL_VIEW_KERNELS[name], frame, rows,
                    cfg.n_genes if name == "expression" else None, cfg.cnv_degree))
        skipped = [name for name in wanted if name not in self.view_names]
        if skipped:
            warnings.warn(f"hgacl: dataset {train.name!r} has no {' or '.join(skipped)} for its "
                          f"training cells; fusing {self.view_names} only", stacklevel=3)
        fingerprint = _fingerprint_name(cfg.drug_fingerprint, train)
        frame = train.drug_view(fingerprint)
        train_drugs = np.sort(train.responses["drug"].unique())
        require_ids(train_drugs, frame.index, "drug", f"fingerprint view {fingerprint!r}")
        self.drug_view_ = FittedView.fit(fingerprint, "jaccard", frame, train_drugs)

    @property
    def view_names(self) -> list[str]:
        """Names of the fitted cell views."""
        return [view.name for view in self.views_]

    def _node_sets(self, train: DrugResponseData,
                   val: DrugResponseData | None) -> tuple[np.ndarray, np.ndarray]:
        parts = [train.responses] if val is None else [train.responses, val.responses]
        seen = {side: np.unique(np.concatenate([p[side].unique() for p in parts]))
                for side in ("cell", "drug")}
        expression = train.cell_view("expression").index
        fingerprints = train.drug_view(self.drug_view_.name).index
        require_ids(seen["cell"], expression, "cell", "expression")
        require_ids(seen["drug"], fingerprints, "drug", f"fingerprint view {self.drug_view_.name!r}")
        if self.config.nodes == "responses":
            return seen["cell"].astype(str), seen["drug"].astype(str)
        return np.asarray(expression, dtype=str), np.asarray(fingerprints, dtype=str)

    def _inputs(self, data: DrugResponseData, cells: np.ndarray,
                drugs: np.ndarray) -> GraphInputs:
        """Features and kernels of ``cells`` and ``drugs`` (the fitted nodes first)."""
        require_ids(cells, data.cell_view("expression").index, "cell", "expression")
        require_ids(drugs, data.drug_view(self.drug_view_.name).index, "drug",
                 f"fingerprint view {self.drug_view_.name!r}")
        features, present, kernels = [], [], []
        for view in self.views_:
            frame = data.cell_views.get(view.name, pd.DataFrame(columns=view.columns))
            x, has = view.features(frame, cells)
            x_t = torch.from_numpy(x)
            features.append(x_t)
            present.append(has)
            kernels.append(view.similarity(x_t, x_t[:len(self.cells_)]).float())
        x_drug = torch.from_numpy(self.drug_view_.features(
            data.drug_view(self.drug_view_.name), drugs)[0])
        return GraphInputs(features + [x_drug], torch.from_numpy(np.stack(present, 1)),
                           torch.stack(kernels),
                           self.drug_view_.similarity(x_drug, x_drug[:len(self.drugs_)]).float(),
                           torch.from_numpy(self.edge_index_))

    # ------------------------------------------------------------------ fit
    def _fit(self, train: DrugResponseData, val: DrugResponseData | None,
             epochs: int | None = None) -> None:
        cfg = self.config
        if val is not None and not val.responses["label"].notna().any():
            raise DataError(f"model {self.name!r} needs a validation part with labels for "
                            "early stopping")
        r = train.responses
        if not (r["label"] == 1).any():
            raise DataError(f"model {self.name!r} needs sensitive training pairs (label 1)")
        self._fit_views(train)
        self.cells_, self.drugs_ = self._node_sets(train, val)
        positive = r[r["label"] == 1]
        self.edge_index_ = self._pair_index(positive)
        g = self._inputs(train, self.cells_, self.drugs_)
        labelled = r[r["label"].notna()]
        v = labelled.iloc[:0] if val is None else val.responses[val.responses["label"].notna()]
        pairs = {"train_idx": torch.from_numpy(self._pair_index(labelled)),
                 "train_y": torch.tensor(labelled["label"].to_numpy(np.float32)),
                 "val_idx": torch.from_numpy(self._pair_index(v)),
                 "val_y": torch.tensor(v["label"].to_numpy(np.float32))}
        torch.manual_seed(cfg.seed)
        self.module_ = self._build_net()
        bases = _compress(self.module_.projections, g.features) if cfg.compress_inputs else {}
        trainer = Trainer(cfg.trainer, seed=cfg.seed)
        self.history_ = trainer.fit(_HGACLTask(self.module_, g, pairs, cfg, trainer.device),
                                    description=self.name, epochs=epochs)
        self.module_.cpu().eval()
        for i, basis in bases.items():
            self.module_.projections[i] = expand_linear(self.module_.projections[i], basis)

    def _pair_index(self, frame: pd.DataFrame) -> np.ndarray:
        """(2, P) int64 node indices of the (cell, drug) pairs of ``frame``."""
        return np.stack([pd.Index(self.cells_).get_indexer(frame["cell"].astype(str)),
                         pd.Index(self.drugs_).get_indexer(frame["drug"].astype(str))]
                        ).astype(np.int64)

    def _build_net(self) -> HGACLNet:
        dims = [len(view.columns) for view in (*self.views_, self.drug_view_)]
        return HGACLNet(dims, self.config)

    @property
    def edges(self) -> pd.DataFrame:
        """The response edges of the fitted graph as (cell, drug) ids."""
        return pd.DataFrame({"cell": self.cells_[self.edge_index_[0]],
                             "drug": self.drugs_[self.edge_index_[1]]})

    # -------------------------------------------------------------- predict
    @torch.no_grad()
    def propagate(self, data: DrugResponseData, cells: np.ndarray | None = None,
                  drugs: np.ndarray | None = None) -> tuple[Propagation, Tensor]:
        """The trained network's pass (on CPU tensors) over the fitted nodes,
        followed by ``cells`` / ``drugs`` not among them, and the (n_c, n_d) logits."""
        cells = self.cells_ if cells is None else extend_ids(self.cells_, np.asarray(cells, str))
        drugs = self.drugs_ if drugs is None else extend_ids(self.drugs_, np.asarray(drugs, str))
        device = select_device(self.config.trainer.device)
        g = self._inputs(data, cells, drugs).to(device)
        net = self.module_.to(device).eval()
        out = net(g)
        logits = net.logits(out.z, len(cells))
        net.cpu()
        return Propagation(*(t.cpu() for t in out)), logits.cpu()

    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        """Scores of ``pairs``; cells or drugs that were not nodes at fit time
        join the fitted graph with edges from their reliable neighbours."""
        cell_ids, drug_ids = pairs["cell"].astype(str), pairs["drug"].astype(str)
        cells = extend_ids(self.cells_, cell_ids.unique())
        drugs = extend_ids(self.drugs_, drug_ids.unique())
        _, logits = self.propagate(data, cells, drugs)
        ci, di = pd.Index(cells).get_indexer(cell_ids), pd.Index(drugs).get_indexer(drug_ids)
        score = torch.sigmoid(logits).numpy()[ci, di].astype(np.float64)
        return pd.DataFrame({"score": score}, index=pairs.index)

    def fusion_weights(self, data: DrugResponseData) -> pd.DataFrame:
        """Per-cell view weights of the fitted nodes (cells x views, rows sum 1)."""
        out, _ = self.propagate(data)
        return pd.DataFrame(out.view_weights.numpy(), index=self.cells_, columns=self.view_names)

    # ---------------------------------------------------------- persistence
    def input_genes(self) -> dict[str, list[str]]:
        return {view.name: [str(g) for g in view.columns] for view in self.views_}

    def save_state(self, directory: Path) -> None:
        arrays = {"cells": self.cells_, "drugs": self.drugs_, "edge_index": self.edge_index_,
                  **self.drug_view_.to_arrays("drug_")}
        for i, view in enumerate(self.views_):
            arrays.update(view.to_arrays(f"view{i}_"))
        np.savez(directory / STATE_FILE, n_views=np.asarray(len(self.views_)), **arrays)
        save_weights(self.module_, directory)
        (directory / "history.json").write_text(json.dumps(self.history_.to_dict()))

    def load_state(self, directory: Path) -> None:
        path = directory / STATE_FILE
        if not path.exists():
            raise DataError(f"{directory}: no {STATE_FILE}")
        with np.load(path, allow_pickle=False) as state:
            self.cells_, self.drugs_ = state["cells"], state["drugs"]
            self.edge_index_ = state["edge_index"].astype(np.int64)
            self.drug_view_ = FittedView.from_arrays(state, "drug_")
            self.views_ = [FittedView.from_arrays(state, f"view{i}_")
                           for i in range(int(state["n_views"]))]
        self.module_ = self._build_net()
        load_weights(self.module_, directory)
        self.module_.eval()


def _fingerprint_name(setting: str, data: DrugResponseData) -> str:
    """``auto`` -> the stored ``pubchem920`` view when present, else ``pubchem``."""
    if setting != "auto":
        return setting
    return "pubchem920" if "pubchem920" in data.drug_views else "pubchem"


def _compress(projections: nn.ModuleList, features: list[Tensor]) -> dict[int, Tensor]:
    """Restrict each input embedding to the row space of its features (in
    place, features too); returns the bases to expand them back with."""
    bases = {}
    for i, x in enumerate(features):
        basis = row_space_basis(x)
        if basis.shape[1] < x.shape[1]:
            projections[i] = restrict_linear(projections[i], basis)
            features[i] = x @ basis
            bases[i] = basis
    return bases
