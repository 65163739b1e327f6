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
targets come from ``train.responses`` only. In the default ``inductive`` node
mode (:mod:`drpkit.models.graph`) the nodes are the training cells and drugs,
so kernels, reliable-neighbour candidates, contrastive terms and the
compression basis see no held-out cell or drug. Cells or drugs that are not
nodes at fit time (validation and test ones in inductive mode) join the graph
when scored, with similarity edges *from* their reliable neighbours among the
fitted nodes and none *to* them, which changes no fitted node's embedding. In
the papers' ``transductive`` mode every cell and drug of the dataset is a node
during training, held-out ones with similarity edges but no response edges.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from drpkit.data.container import DrugResponseData
from drpkit.data.ids import extend_ids, require_ids
from drpkit.features.fitted_views import FittedView
from drpkit.models.base import register_model
from drpkit.models.graph import (
    GraphConfig,
    GraphModel,
    PairMonitor,
    as_tensor,
    fingerprint_name,
    labelled_pairs,
)
from drpkit.nn import info_nce
from drpkit.nn.hgacl_net import PERTURBATIONS, GraphInputs, HGACLNet, Propagation
from drpkit.nn.lowrank import expand_linear, restrict_linear, row_space_basis
from drpkit.train import Trainer, TrainerConfig, load_weights, select_device

STATE_FILE = "hgacl.npz"
CELL_VIEW_KERNELS = {"expression": "gaussian", "cnv": "polynomial", "mutation": "jaccard"}


# --------------------------------------------------------------------- config
class HGACLConfig(GraphConfig):
    """Hyperparameters of HGACL-DRP (defaults: the paper's optimum for the
    perturbations, the authors' code for sizes, temperature and loss weight).

    The node mode, ``n_genes`` (expression only: CNV and mutation always use
    all genes), fingerprint and compression settings are :class:`GraphConfig`'s.

    Attributes:
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
        trainer: optimisation; full batch, early stopping on validation AUROC
            (1000 epochs at most, patience 50; Adam 1e-3 without weight decay
            as upstream).
    """

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
        # mypy infers list[str] for the lambda against pydantic's union of factory types
        default_factory=lambda: ["feature", "structure"], min_length=1)  # type: ignore[arg-type]
    neutral_weight: float = Field(default=0.0, ge=0.0, le=1.0)
    trainer: TrainerConfig = TrainerConfig(max_epochs=1000, patience=50, lr=1e-3,
                                           weight_decay=0.0)


# ----------------------------------------------------------------------- task
class _HGACLTask:
    """Full-batch training; the "batch" of an epoch is the trainer's random
    generator, which draws that epoch's perturbations.

    Tensors (on the trainer's device): ``train_idx`` (2, P) / ``train_y`` (P,)
    labelled training pairs; ``val_idx`` (2, Q) / ``val_y`` (Q,) validation
    pairs among the nodes of ``g_eval`` (the fitted graph ``g``, followed in
    inductive mode by the validation cells and drugs it lacks); ``links``
    (N, N) training sensitive pairs in both directions.
    """

    def __init__(self, net: HGACLNet, g: GraphInputs, g_eval: GraphInputs,
                 pairs: dict[str, Tensor], config: HGACLConfig, device: torch.device):
        self.module, self.g, self.cfg = net.to(device), g.to(device), config
        self.g_eval = self.g if g_eval is g else g_eval.to(device)
        self.t = {k: v.to(device) for k, v in pairs.items()}
        n_c, n = g.n_cells, g.n_cells + g.drug_kernel.shape[0]
        self.links = torch.zeros(n, n, dtype=torch.bool, device=device)
        self.links[self.g.edge_index[0], n_c + self.g.edge_index[1]] = True
        self.links |= self.links.t().clone()
        self.positive = self.links | torch.eye(n, dtype=torch.bool, device=device)
        self.monitor_of = PairMonitor(self.t["val_y"])
        self.monitor, self.mode = self.monitor_of.monitor, self.monitor_of.mode

    def batches(self, epoch: int, generator: torch.Generator):
        yield generator

    def _pair_logits(self, out: Propagation, part: str, n_cells: int) -> Tensor:
        idx = self.t[f"{part}_idx"]
        return self.module.logits(out.z, n_cells)[idx[0], idx[1]]

    def loss(self, generator: torch.Generator) -> Tensor:
        out = self.module(self.g)
        loss = F.binary_cross_entropy_with_logits(
            self._pair_logits(out, "train", self.g.n_cells), self.t["train_y"])
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
        out = self.module(self.g_eval)
        return self.monitor_of(self._pair_logits(out, "val", self.g_eval.n_cells))


# ---------------------------------------------------------------------- model
@register_model
class HGACL(GraphModel):
    """HGACL-DRP (see the module docstring).

    Fitted attributes (besides the graph's, see :class:`GraphModel`):
        views_: the fitted cell views (:class:`FittedView`), expression first;
            fewer than three when the dataset (or ``fusion=False``) has fewer.
        drug_view_: the fitted fingerprint view.
        module_: the trained :class:`HGACLNet`; history_: the training history.
    """

    name = "hgacl"
    description = ("HGACL-DRP: GCN on fused multi-omics similarity + training response graph "
                   "with reliable neighbours and dual-perturbation contrastive learning "
                   "(classifier)")
    Config = HGACLConfig
    smoke_config: ClassVar[dict[str, Any]] = {"n_genes": 500, "drug_fingerprint": "morgan", "embed_dim": 64,
                    "layers": [64], "decoder_dim": 32,
                    "trainer": {"max_epochs": 300, "patience": 30}}
    cell_views = ("expression",)
    optional_cell_views = ("cnv", "mutation")
    drug_views = ("pubchem920|smiles",)  # pubchem920 when stored, else PubChem from SMILES
    outputs = ("score",)
    config: HGACLConfig
    module_: HGACLNet

    # ------------------------------------------------------------- features
    def _fit_views(self, train: DrugResponseData) -> None:
        cfg = self.config
        train_cells = np.sort(train.responses["cell"].unique())
        require_ids(train_cells, train.cell_view("expression").index, "cell", "expression")
        wanted = list(CELL_VIEW_KERNELS) if cfg.fusion else ["expression"]
        self.views_ = []
        for name in wanted:
            frame = train.cell_views.get(name)
            if frame is None:
                continue
            rows = train_cells[np.isin(train_cells, frame.index)]
            if len(rows):
                self.views_.append(FittedView.fit(
                    name, CELL_VIEW_KERNELS[name], frame, rows,
                    cfg.n_genes if name == "expression" else None, cfg.cnv_degree))
        skipped = [name for name in wanted if name not in self.view_names]
        if skipped:
            warnings.warn(f"hgacl: dataset {train.name!r} has no {' or '.join(skipped)} for its "
                          f"training cells; fusing {self.view_names} only", stacklevel=3)
        fingerprint = fingerprint_name(cfg.drug_fingerprint, train)
        frame = train.drug_view(fingerprint)
        train_drugs = np.sort(train.responses["drug"].unique())
        require_ids(train_drugs, frame.index, "drug", f"fingerprint view {fingerprint!r}")
        self.drug_view_ = FittedView.fit(fingerprint, "jaccard", frame, train_drugs)

    @property
    def view_names(self) -> list[str]:
        """Names of the fitted cell views."""
        return [view.name for view in self.views_]

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
        self._require_labels(train, val)
        self._fit_views(train)
        self._fit_nodes(train, val, train.cell_view("expression").index,
                        train.drug_view(self.drug_view_.name).index, self.drug_view_.name)
        self._fit_edges(train)
        g = self._inputs(train, self.cells_, self.drugs_)
        labelled, v = labelled_pairs(train), labelled_pairs(val)
        eval_cells, eval_drugs = self.extended_nodes(v)
        g_eval = g if (len(eval_cells), len(eval_drugs)) == (len(self.cells_), len(
            self.drugs_)) else self._inputs(train, eval_cells, eval_drugs)
        pairs = {"train_idx": torch.from_numpy(self.pair_index(labelled, self.cells_,
                                                               self.drugs_)),
                 "train_y": as_tensor(labelled["label"].to_numpy()),
                 "val_idx": torch.from_numpy(self.pair_index(v, eval_cells, eval_drugs)),
                 "val_y": as_tensor(v["label"].to_numpy())}
        torch.manual_seed(cfg.seed)
        self.module_ = self._build_net()
        bases = {}
        if cfg.compress_inputs:
            bases = _compress(self.module_.projections, g.features)
            if g_eval is not g:
                g_eval.features = [x @ bases[i] if i in bases else x
                                   for i, x in enumerate(g_eval.features)]
        trainer = Trainer(cfg.trainer, seed=cfg.seed)
        self.history_ = trainer.fit(_HGACLTask(self.module_, g, g_eval, pairs, cfg,
                                               trainer.device),
                                    description=self.name, epochs=epochs)
        self.module_.cpu().eval()
        for i, basis in bases.items():
            layer = self.module_.projections[i]
            assert isinstance(layer, nn.Linear)  # HGACLNet's input projections are Linear
            self.module_.projections[i] = expand_linear(layer, basis)

    def _build_net(self) -> HGACLNet:
        dims = [len(view.columns) for view in (*self.views_, self.drug_view_)]
        return HGACLNet(dims, self.config)

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
        cells, drugs = self.extended_nodes(pairs)
        _, logits = self.propagate(data, cells, drugs)
        ci, di = self.pair_index(pairs, cells, drugs)
        score = torch.sigmoid(logits).numpy()[ci, di].astype(np.float64)
        return pd.DataFrame({"score": score}, index=pairs.index)

    def fusion_weights(self, data: DrugResponseData) -> pd.DataFrame:
        """Per-cell view weights of the fitted nodes (cells x views, rows sum 1)."""
        out, _ = self.propagate(data)
        return pd.DataFrame(out.view_weights.numpy(), index=self.cells_, columns=self.view_names)

    def explain(self, data: DrugResponseData) -> dict[str, pd.DataFrame]:
        """``fusion_weights``: each fitted cell's weight on expression, CNV and
        mutation (how much each omics view shaped its similarities)."""
        weights = self.fusion_weights(data)
        return {"fusion_weights": weights.rename_axis("cell").reset_index()}

    # ---------------------------------------------------------- persistence
    def input_genes(self) -> dict[str, list[str]]:
        return {view.name: [str(g) for g in view.columns] for view in self.views_}

    def save_state(self, directory: Path) -> None:
        arrays = self.drug_view_.to_arrays("drug_")
        for i, view in enumerate(self.views_):
            arrays.update(view.to_arrays(f"view{i}_"))
        self.save_graph_model(directory, STATE_FILE,
                              {"n_views": np.asarray(len(self.views_)), **arrays})

    def load_state(self, directory: Path) -> None:
        with self.open_graph_state(directory, STATE_FILE) as state:
            self.drug_view_ = FittedView.from_arrays(state, "drug_")
            self.views_ = [FittedView.from_arrays(state, f"view{i}_")
                           for i in range(int(state["n_views"]))]
        self.module_ = self._build_net()
        load_weights(self.module_, directory)
        self.module_.eval()


def _compress(projections: nn.ModuleList, features: list[Tensor]) -> dict[int, Tensor]:
    """Restrict each input embedding to the row space of its features (in
    place, features too); returns the bases to expand them back with."""
    bases = {}
    for i, x in enumerate(features):
        basis = row_space_basis(x)
        if basis.shape[1] < x.shape[1]:
            layer = projections[i]
            assert isinstance(layer, nn.Linear)  # HGACLNet's input projections are Linear
            projections[i] = restrict_linear(layer, basis)
            features[i] = x @ basis
            bases[i] = basis
    return bases
