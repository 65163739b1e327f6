"""drGT: attention over a drug-cell-gene graph, with drug-gene explanations.

**drGT** (Inoue, Lee, Fu, Kuang, Luna; arXiv 2405.08979 v4; public code
inoue0426/drGT, MIT) puts drugs, cell lines and genes in one graph
(:mod:`drpkit.models.drgt_graph`: genes = the most variable 10% plus the
drugs' known targets; features = rows of RBF similarity matrices; edges =
training sensitive pairs, positive expression z-scores, drug-target links),
runs 2-4 attention layers over it (:class:`~drpkit.nn.drgt_net.DrGTNet`:
GAT, GATv2 or TransformerConv with edge attributes, norm, dropout) and scores
a pair by an MLP on the concatenated drug and cell embeddings: a sensitivity
logit (BCE) and, with ``regression``, a standardised ln IC50 (MSE), so the
model is scored as a classifier and as a regressor. Its attention
coefficients rank drug-gene links (:meth:`DrGT.explain`,
:mod:`drpkit.explain.attention`).

**Training** is full batch: the graph has ~2,000 nodes but ~10^5 edges
concentrated at the cells, so a sampled 2-hop neighbourhood of any batch of
pairs is nearly the whole graph (every cell reaches its genes, every gene
hundreds of cells); sampling would save no memory, add gradient noise and
cost, and lose the one-pass attention over every edge the explanations read.
The last layer only computes messages into drugs and cells (gene embeddings
after it are never read), and ``genes_per_cell`` caps the cell-gene edges.

**Departures from the authors' code, on purpose**: epochs are chosen by
early stopping on the fold's validation part (upstream: best epoch and Optuna
trials on the held-out fold); norms are per node (GraphNorm would tie a
prediction to the other held-out nodes scored with it); expression is
z-scored per gene with training-cell statistics and kernel bandwidths come
from the reference rows; cell-gene edges are capped per cell by default (see
the setting); the regression head is drpkit's (upstream scored regression
with separate runs); held-out cells and drugs are not nodes while training
(``nodes="inductive"``, drpkit's default; ``transductive`` is upstream's).

Leakage: response edges and loss targets come from ``train.responses`` only;
z-scores and variances from training cells; in the inductive mode the kernels'
reference rows, gene profiles and gene choice see training cells and drugs
only, and held-out nodes join with edges into them only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from drpkit.data.container import DrugResponseData
from drpkit.models.base import ModelConfig, register_model
from drpkit.models.drgt_graph import GraphState, HeteroGraph, build_graph, fit_state
from drpkit.models.graph import GraphConfig, GraphModel, PairMonitor, as_tensor
from drpkit.nn.drgt_net import ConvKind, DrGTNet, NetShape, NormKind
from drpkit.nn.lowrank import compress_linear, expand_linear
from drpkit.train import Trainer, TrainerConfig, load_weights, select_device

STATE_FILE = "drgt.npz"


class DrGTConfig(GraphConfig):
    """Hyperparameters of drGT (defaults: sizes near the authors' GDSC2 optimum,
    scaled for a 2-core CPU; the node mode is :class:`GraphConfig`'s).

    Attributes:
        n_genes: most variable genes among training cells to make gene nodes;
            None = the top ``variable_share`` of the expression genes. The
            drugs' measured targets are added either way.
        variable_share: share of the most variable genes used when ``n_genes``
            is None (10% upstream).
        drug_fingerprint: fingerprint the drug similarity is computed on
            (Morgan, 2048 bits, radius 2 upstream).
        compress_inputs: train each input projection on the row space of its
            node features (:mod:`drpkit.nn.lowrank`); similarity rows are about
            as wide as their node sets, so this seldom removes anything here.
        conv: attention layer: ``gat`` (GATConv), ``gatv2`` (GATv2Conv) or
            ``transformer`` (TransformerConv), all with edge attributes.
        layers: number of attention layers (2-4 in the paper).
        hidden: size of the per-type input projections.
        channels: output channels per head of each attention layer.
        heads: attention heads per layer (concatenated).
        norm: ``layer`` (LayerNorm) or ``batch`` (BatchNorm) after each layer,
            or ``none``; GraphNorm (upstream's default) is not offered, as it
            ties a prediction to the other nodes scored with it.
        activation: ``relu`` or ``gelu``.
        dropout: dropout after each attention layer.
        attention_dropout: dropout on the attention coefficients.
        head_hidden: hidden sizes of the pair MLPs on drug || cell.
        head_dropout: dropout in the pair MLPs (upstream 0.1-0.5; 0 by default:
            on ~10^5 training pairs the random masks cost more than the
            whole attention pass, and the layers' dropout regularises already).
        genes_per_cell: cell-gene edges per cell: its genes with the largest
            positive z-score, at most this many; None = every gene with z > 0
            (upstream; ~5x the edges and the training time on GDSC2).
        relation_features: append a one-hot of the relation (drug-cell,
            cell-gene, drug-gene) to each edge's weight.
        use_genes: False drops the gene nodes (ablation "no gene nodes": a
            drug-cell graph only).
        use_dti: False drops the drug-gene edges (ablation "no DTI edges").
        dti_sources: drug-target tables of the ``dti`` resource to use.
        hide_dti: share of the known drug-gene links (among graph genes) left
            out of the graph at random, recorded in the ``hidden_dti``
            artifact: the DTI-recovery check of ``drpkit explain --validate``.
        regression: add the ln IC50 head (else a classifier only).
        regression_weight: weight of the ln IC50 MSE (standardised) next to the BCE.
        monitor: what early stopping follows on the validation pairs: ``loss``
            (the training objective, BCE + weighted MSE: smooth, and it watches
            both heads) or ``auroc`` (the classifier only, as upstream's
            accuracy; noisy in the first epochs).
        explain_reading: how drug-gene attention flows are ranked: ``flow``
            (each drug's share of flow from each gene) or ``specific`` (that
            share divided by the gene's mean share over all drugs, so genes every
            drug attends to, such as hub genes, do not fill every drug's top list);
            see :mod:`drpkit.explain.attention`.
        explain_top: genes kept per drug in the ``drug_gene_scores`` artifact
            (and per cell in ``cell_gene_scores``); known targets are always kept.
        trainer: optimisation; full batch, early stopping as ``monitor`` says.
    """

    n_genes: int | None = Field(default=None, ge=1)
    variable_share: float = Field(default=0.1, gt=0.0, le=1.0)
    drug_fingerprint: str = "morgan"
    conv: ConvKind = "gatv2"
    layers: int = Field(default=2, ge=1, le=4)
    hidden: int = Field(default=128, ge=1)
    channels: int = Field(default=32, ge=1)
    heads: int = Field(default=2, ge=1)
    norm: NormKind = "layer"
    activation: Literal["relu", "gelu"] = "relu"
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    attention_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    head_hidden: list[int] = Field(default_factory=lambda: [64])
    head_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    genes_per_cell: int | None = Field(default=50, ge=1)
    relation_features: bool = False
    use_genes: bool = True
    use_dti: bool = True
    dti_sources: list[Literal["drugbank", "chembl"]] = Field(
        default_factory=lambda: ["drugbank", "chembl"], min_length=1)  # type: ignore[arg-type]
    hide_dti: float = Field(default=0.0, ge=0.0, lt=1.0)
    regression: bool = True
    regression_weight: float = Field(default=0.5, ge=0.0)
    monitor: Literal["loss", "auroc"] = "loss"
    explain_reading: Literal["flow", "specific"] = "flow"
    explain_top: int = Field(default=50, ge=1)
    trainer: TrainerConfig = TrainerConfig(max_epochs=400, patience=25, lr=2e-3,
                                           weight_decay=1e-5, grad_clip=1.0)


class _DrGTTask:
    """Full-batch BCE (+ weighted ln IC50 MSE) on the labelled training pairs;
    the same objective (or the AUROC) on the validation pairs, over ``g_eval``
    (the fitted graph with the validation cells and drugs joined), drives
    early stopping."""

    mode: Literal["min", "max"]

    def __init__(self, net: DrGTNet, g: HeteroGraph, g_eval: HeteroGraph,
                 pairs: dict[str, Tensor], weight: float, monitor: str,
                 device: torch.device):
        self.module = net.to(device)
        self.g, self.g_eval = g.to(device), (g if g_eval is g else g_eval).to(device)
        self.mask, self.eval_mask = self.g.last_mask(), self.g_eval.last_mask()
        self.t = {k: v.to(device) for k, v in pairs.items()}
        self.weight = weight
        self.val_known = ~torch.isnan(self.t["val_label"])
        self.monitor_of = PairMonitor(self.t["val_label"][self.val_known])
        if monitor == "loss":
            self.monitor, self.mode = "val_loss", "min"
        else:
            self.monitor, self.mode = self.monitor_of.monitor, self.monitor_of.mode

    def batches(self, epoch: int, generator: torch.Generator):
        yield None  # full batch

    def _pairs(self, g: HeteroGraph, mask: Tensor, part: str) -> tuple[Tensor, Tensor | None]:
        h, _ = self.module.encode(*g.inputs(), last_mask=mask)
        d, c = self.t[f"{part}_idx"]
        n_d = g.n_drugs
        return self.module.heads(h[:n_d], h[n_d:n_d + g.n_cells], d, c)

    def _objective(self, logits: Tensor, value: Tensor | None, part: str) -> Tensor:
        label, target = self.t[f"{part}_label"], self.t[f"{part}_value"]
        known = ~torch.isnan(label)
        loss = F.binary_cross_entropy_with_logits(logits[known], label[known])
        has_value = ~torch.isnan(target)
        if value is not None and self.weight > 0 and bool(has_value.any()):
            loss = loss + self.weight * F.mse_loss(value[has_value], target[has_value])
        return loss

    def loss(self, batch: None) -> Tensor:
        return self._objective(*self._pairs(self.g, self.mask, "train"), "train")

    def validate(self) -> dict[str, float]:
        logits, value = self._pairs(self.g_eval, self.eval_mask, "val")
        known = self.val_known
        out = self.monitor_of(logits[known]) if bool(known.any()) else {}
        return {**out, "val_loss": float(self._objective(logits, value, "val"))}


@register_model
class DrGT(GraphModel):
    """drGT (see the module docstring).

    Fitted attributes (besides the graph's, see :class:`GraphModel`):
        state_: the :class:`~drpkit.models.drgt_graph.GraphState` (genes,
            kernels, drug-target links, hidden links).
        y_mean_, y_std_: training mean and sd of the response (regression head).
        module_: the trained :class:`DrGTNet`; history_: the training history.
    """

    name = "drgt"
    description = ("drGT: GATv2/GAT/Transformer attention over a drug-cell-gene graph (training "
                   "sensitive pairs, expression, drug targets); score and ln IC50; attention "
                   "ranks drug-gene links")
    Config: ClassVar[type[ModelConfig]] = DrGTConfig
    cell_views = ("expression",)
    drug_views = ("smiles",)
    resources = ("dti",)
    outputs = ("score", "value")
    smoke_config: ClassVar[dict[str, Any]] = {
        "n_genes": 200, "hidden": 32, "channels": 16, "heads": 2, "head_hidden": [32],
        "genes_per_cell": 30, "trainer": {"max_epochs": 300, "patience": 30, "lr": 3e-3}}
    config: DrGTConfig
    module_: DrGTNet

    # ------------------------------------------------------------ targets
    def _targets(self, data: DrugResponseData, drugs) -> pd.DataFrame:
        """(drug, gene) known targets of ``drugs`` (none with ``use_dti=False``)."""
        if not self.config.use_dti or not len(drugs):
            return pd.DataFrame(columns=["drug", "gene"])
        found = data.resource("dti").match(drugs, data.smiles, tuple(self.config.dti_sources))
        return found[["drug", "gene"]].drop_duplicates().reset_index(drop=True)

    def _new_targets(self, data: DrugResponseData, drugs: np.ndarray) -> pd.DataFrame:
        """Targets of drugs joining the fitted graph, never a hidden link."""
        new = drugs[len(self.drugs_):]
        found = self._targets(data, new)
        hidden = set(zip(self.state_.hidden["drug"], self.state_.hidden["gene"], strict=True))
        keep = [(d, g) not in hidden for d, g in zip(found["drug"], found["gene"], strict=True)]
        return found.loc[keep]

    # ---------------------------------------------------------------- graph
    def graph(self, data: DrugResponseData, cells: np.ndarray | None = None,
              drugs: np.ndarray | None = None) -> HeteroGraph:
        """The fitted graph, extended with ``cells`` / ``drugs`` (fitted nodes first)."""
        cells = self.cells_ if cells is None else cells
        drugs = self.drugs_ if drugs is None else drugs
        g = build_graph(self.state_, data, self.config.drug_fingerprint, cells, drugs,
                        len(self.cells_), len(self.drugs_), self.edge_index_,
                        self._new_targets(data, drugs), self.config.genes_per_cell,
                        self.config.relation_features)
        return g if self.config.use_genes else _without_genes(g)

    # ------------------------------------------------------------------ fit
    def _fit(self, train: DrugResponseData, val: DrugResponseData | None,
             epochs: int | None = None) -> None:
        cfg = self.config
        self._require_labels(train, val)
        view = cfg.drug_fingerprint
        self._fit_nodes(train, val, train.cell_view("expression").index,
                        train.drug_view(view).index, view)
        self._fit_edges(train)
        self.state_ = fit_state(train, self.cells_, self.drugs_, view,
                                self._targets(train, self.drugs_), cfg.n_genes,
                                cfg.variable_share, cfg.hide_dti, cfg.seed)
        r = train.responses
        y = r["value"].to_numpy(np.float64)
        finite = np.isfinite(y)
        self.y_mean_ = float(y[finite].mean()) if finite.any() else 0.0
        self.y_std_ = float(y[finite].std()) if finite.sum() > 1 and y[finite].std() > 0 else 1.0
        g = self.graph(train)
        v = val.responses if val is not None else _EMPTY
        eval_cells, eval_drugs = self.extended_nodes(v)
        g_eval = g if (len(eval_cells), len(eval_drugs)) == (len(self.cells_), len(
            self.drugs_)) else self.graph(train, eval_cells, eval_drugs)
        pairs = {"train_idx": self._pair_tensor(r, self.cells_, self.drugs_),
                 "train_label": as_tensor(r["label"].to_numpy()),
                 "train_value": as_tensor((y - self.y_mean_) / self.y_std_),
                 "val_idx": self._pair_tensor(v, eval_cells, eval_drugs),
                 "val_label": as_tensor(v["label"].to_numpy()),
                 "val_value": as_tensor((v["value"].to_numpy(np.float64) - self.y_mean_)
                                        / self.y_std_)}
        torch.manual_seed(cfg.seed)
        self.module_ = self._build_net(g)
        bases = self._compress(g, g_eval) if cfg.compress_inputs else {}
        trainer = Trainer(cfg.trainer, seed=cfg.seed)
        task = _DrGTTask(self.module_, g, g_eval, pairs,
                         cfg.regression_weight if cfg.regression else 0.0, cfg.monitor,
                         trainer.device)
        self.history_ = trainer.fit(task, description=self.name, epochs=epochs)
        self.module_.cpu().eval()
        for kind, basis in bases.items():
            self.module_.proj[kind] = expand_linear(self.module_.projection(kind), basis)

    def _pair_tensor(self, frame: pd.DataFrame, cells: np.ndarray, drugs: np.ndarray) -> Tensor:
        """(2, P) [drug, cell] indices of ``frame``'s pairs."""
        cell_idx, drug_idx = self.pair_index(frame, cells, drugs)
        return torch.from_numpy(np.stack([drug_idx, cell_idx]))

    def _compress(self, g: HeteroGraph, g_eval: HeteroGraph) -> dict[str, Tensor]:
        """Restrict each projection to its features' row space (features too)."""
        bases = {}
        for kind in ("drug", "cell", "gene"):
            if not len(getattr(g, f"x_{kind}")):
                continue  # no such nodes (the "no gene nodes" ablation)
            layer, basis = compress_linear(self.module_.projection(kind), getattr(g, f"x_{kind}"))
            if basis is None:
                continue
            self.module_.proj[kind] = layer
            bases[kind] = basis
            for graph in {id(g): g, id(g_eval): g_eval}.values():
                setattr(graph, f"x_{kind}", getattr(graph, f"x_{kind}") @ basis)
        return bases

    def _build_net(self, g: HeteroGraph) -> DrGTNet:
        cfg = self.config
        return DrGTNet(NetShape(
            drug_in=g.x_drug.shape[1], cell_in=g.x_cell.shape[1],
            gene_in=g.x_gene.shape[1], hidden=cfg.hidden, channels=cfg.channels,
            heads=cfg.heads, layers=cfg.layers, conv=cfg.conv,
            edge_dim=g.edge_attr.shape[1], norm=cfg.norm, activation=cfg.activation,
            dropout=cfg.dropout, attention_dropout=cfg.attention_dropout,
            head_hidden=list(cfg.head_hidden), head_dropout=cfg.head_dropout,
            regression=cfg.regression))

    # -------------------------------------------------------------- predict
    @torch.no_grad()
    def encode(self, data: DrugResponseData, cells: np.ndarray | None = None,
               drugs: np.ndarray | None = None, attention: bool = False):
        """Embeddings of the fitted graph extended with ``cells`` / ``drugs``
        (CPU), the graph, and with ``attention`` each layer's coefficients."""
        g = self.graph(data, cells, drugs)
        device = select_device(self.config.trainer.device)
        net = self.module_.to(device).eval()
        gd = g.to(device)
        h, att = net.encode(*gd.inputs(), last_mask=gd.last_mask(), attention=attention)
        net.cpu()
        return h.cpu(), g, [type(a)(a.edge_index.cpu(), a.alpha.cpu()) for a in att]

    @torch.no_grad()
    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        """Sensitivity probability (``score``) and ln IC50 (``value``) of ``pairs``;
        cells and drugs that are not fitted nodes join the graph from their
        features, expression and targets, with edges into them only."""
        cells, drugs = self.extended_nodes(pairs)
        h, g, _ = self.encode(data, cells, drugs)
        cell_idx, drug_idx = self.pair_index(pairs, cells, drugs)
        n_d = g.n_drugs
        logits, value = self.module_.heads(h[:n_d], h[n_d:n_d + g.n_cells],
                                           torch.from_numpy(drug_idx), torch.from_numpy(cell_idx))
        out = {"score": torch.sigmoid(logits).numpy().astype(np.float64)}
        if value is not None:
            out["value"] = value.numpy().astype(np.float64) * self.y_std_ + self.y_mean_
        else:
            out["value"] = np.full(len(pairs), self.y_mean_)
        return pd.DataFrame(out, index=pairs.index)

    def explain(self, data: DrugResponseData) -> dict[str, pd.DataFrame]:
        """Attention-based drug-gene (and cell-gene) rankings, the raw drug-gene
        coefficients per layer and head, and the hidden target links; see
        :func:`drpkit.explain.attention.attention_artifacts`."""
        from drpkit.explain.attention import attention_artifacts

        return attention_artifacts(self, data)

    def input_genes(self) -> dict[str, list[str]]:
        return {"expression": [str(g) for g in self.state_.genes]}

    # ---------------------------------------------------------- persistence
    def save_state(self, directory: Path) -> None:
        self.save_graph_model(directory, STATE_FILE, {
            **self.state_.to_arrays(), "y_stats": np.asarray([self.y_mean_, self.y_std_])})

    def load_state(self, directory: Path) -> None:
        with self.open_graph_state(directory, STATE_FILE) as state:
            self.state_ = GraphState.from_arrays(state)
            self.y_mean_, self.y_std_ = (float(v) for v in state["y_stats"])
        # rebuilding the graph needs data; its widths are known from the state
        n_genes = len(self.state_.genes) if self.config.use_genes else 1
        shape_graph = HeteroGraph(torch.zeros(0, len(self.state_.drug_kernel.reference)),
                                  torch.zeros(0, len(self.state_.cell_kernel.reference)),
                                  torch.zeros(0, n_genes), torch.zeros(2, 0, dtype=torch.long),
                                  torch.zeros(0, 1 + 3 * self.config.relation_features),
                                  torch.zeros(0, dtype=torch.long))
        self.module_ = self._build_net(shape_graph)
        load_weights(self.module_, directory)
        self.module_.eval()


_EMPTY = pd.DataFrame({"cell": pd.Series(dtype=str), "drug": pd.Series(dtype=str),
                       "value": pd.Series(dtype=float), "label": pd.Series(dtype=float)})


def _without_genes(g: HeteroGraph) -> HeteroGraph:
    """``g`` without gene nodes and their edges (the "no gene nodes" ablation)."""
    keep = g.kind < 2
    return HeteroGraph(g.x_drug, g.x_cell, torch.zeros(0, 1), g.edge_index[:, keep],
                       g.edge_attr[keep], g.kind[keep])
