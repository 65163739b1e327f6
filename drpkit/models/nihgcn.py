"""NIHGCN and MTIGCN: neighbourhood-interaction graph models of a cell-drug graph.

**NIHGCN** (Peng et al., Bioinformatics 38:4546, 2022) builds a bipartite graph
whose nodes are cell lines and drugs and whose edges are the *training*
sensitive pairs. Cells carry their expression (z-scored with training-cell
statistics), drugs their PubChem fingerprint; each is projected by
Linear + BatchNorm, passed through neighbourhood-interaction layers
(:class:`~drpkit.nn.NeighborhoodInteractionConv`) and a pair is scored by
``sigmoid(gamma * Pearson(cell embedding, drug embedding))``. Loss: binary
cross-entropy on the labelled training pairs; Adam, full batch.

**MTIGCN** (Methods 222:41, 2024) shares that encoder and adds two auxiliary
tasks: (A) ln IC50 regression from its own linear heads on cells and drugs
(``scale * Pearson``, regressing the standardised ln IC50 of the training
pairs) and (B) reconstruction of cell-cell Gaussian similarities of
expression and drug-drug Jaccard similarities of fingerprints. Joint loss
``0.75 BCE + 0.25 MSE_ic50 + 0.1 MSE_cellsim + 0.25 MSE_drugsim``. It gives a
sensitivity probability (``score``) and an ln IC50 (``value``, original units).

Registered: ``nihgcn``, ``mtigcn``, ``mtigcn-a`` (no regression head) and
``mtigcn-b`` (no similarity head); ``mtigcn-ab`` would be ``nihgcn``.

Departures from the authors' code, on purpose: expression is z-scored per
gene with training-cell statistics (upstream: per cell, all cells); the drug
similarity head has its own linear layer (upstream reused the cell layer);
the IC50 loss averages over known training pairs only (upstream averaged
over masked-out zeros too); epochs are selected by early stopping on the
validation part (upstream: best epoch on the test fold).

Leakage: response edges and loss targets come from ``train.responses`` only.
In the default ``inductive`` node mode (:mod:`drpkit.models.graph`) the
graph's nodes are the training cells and drugs, so BatchNorm statistics,
similarity targets and the compression basis see no held-out cell or drug;
validation and test cells and drugs join as isolated nodes (features, no
edges) when scored, which changes no fitted node's embedding. In the papers'
``transductive`` mode every cell and drug of the dataset is a node during
training, held-out ones with features and no edges.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from drpkit.data.container import DrugResponseData
from drpkit.data.ids import require_ids
from drpkit.errors import DataError
from drpkit.features.expression import fit_expression_scaling, scale_expression
from drpkit.features.kernels import gaussian_gamma, gaussian_kernel, jaccard_similarity
from drpkit.models.base import ModelConfig, register_model
from drpkit.models.graph import (
    GraphConfig,
    GraphModel,
    PairMonitor,
    as_tensor,
    fingerprint_name,
    labelled_pairs,
)
from drpkit.nn import BipartiteAdjacency, bipartite_adjacency
from drpkit.nn.layers import pearson_correlation
from drpkit.nn.lowrank import compress_linear, expand_linear
from drpkit.nn.nihgcn_net import NIHGCNNet
from drpkit.train import Trainer, TrainerConfig, load_weights, select_device

STATE_FILE = "graph.npz"


# --------------------------------------------------------------------- config
class NIHGCNConfig(GraphConfig):
    """Hyperparameters of NIHGCN (defaults: the paper's GDSC settings; the node
    mode, genes, fingerprint and compression settings are :class:`GraphConfig`'s).

    Attributes:
        hidden: size of the Linear + BatchNorm input projections.
        layers: output sizes of the interaction layers (one 1024 layer on
            GDSC in the paper; 512 on CCLE).
        alpha: weight of the neighbourhood-interaction term (0.25 GDSC, 0.45 CCLE).
        gamma: scale of the Pearson correlation before the sigmoid.
        projection_activation: ReLU after the input projection (the authors'
            code has none).
        sparse_graph: sparse aggregation operators (for large graphs).
        trainer: optimisation; early stopping on validation AUROC.
    """

    hidden: int = Field(default=1024, ge=1)
    layers: list[int] = Field(default_factory=lambda: [1024], min_length=1)
    alpha: float = Field(default=0.25, ge=0.0, le=1.0)
    gamma: float = Field(default=8.0, gt=0.0)
    projection_activation: bool = False
    sparse_graph: bool = False
    trainer: TrainerConfig = TrainerConfig(max_epochs=1000, patience=50, lr=1e-3,
                                           weight_decay=1e-5)


class MTIGCNConfig(NIHGCNConfig):
    """Hyperparameters of MTIGCN and its ablations.

    Weights of a head the model does not have (``mtigcn-a``: regression,
    ``mtigcn-b``: similarity) are ignored.

    Attributes:
        bce_weight: weight of the sensitivity BCE.
        ic50_weight: weight of the MSE on standardised ln IC50 (task A).
        cell_sim_weight: weight of the cell-similarity MSE (task B).
        drug_sim_weight: weight of the drug-similarity MSE (task B).
        regression_scale: the regression head outputs ``scale * Pearson``, in
            units of the training standard deviation of ln IC50 (the authors
            used 15 on raw ln IC50, whose sd is ~2.7 on GDSC).
        similarity_scale: similarities are reconstructed as
            ``sigmoid(scale * Pearson)`` (15 in the authors' code).
        regression_calibration: ``affine`` maps the regression head's output
            through ``a * x + b`` fitted by least squares on the validation
            pairs after early stopping (training pairs in a refit, which has no
            validation part); ``none`` keeps the paper's ``scale * Pearson``,
            which has no intercept and can be offset by a constant (-2.1 ln
            IC50 on one GDSC2 fold). Least squares on validation cannot do
            worse there than the identity map, which is how the default was
            chosen.
    """

    bce_weight: float = Field(default=0.75, ge=0.0)
    ic50_weight: float = Field(default=0.25, ge=0.0)
    cell_sim_weight: float = Field(default=0.1, ge=0.0)
    drug_sim_weight: float = Field(default=0.25, ge=0.0)
    regression_scale: float = Field(default=5.0, gt=0.0)
    similarity_scale: float = Field(default=15.0, gt=0.0)
    regression_calibration: Literal["affine", "none"] = "affine"
    trainer: TrainerConfig = TrainerConfig(max_epochs=2000, patience=50, lr=1e-3,
                                           weight_decay=1e-5)


# ----------------------------------------------------------------------- task
class _GraphTask:
    """Full-batch training of the graph model; validation AUROC drives stopping.

    Tensors (on the trainer's device):
        x_cell (n_c, G), x_drug (n_d, B): features of the fitted nodes.
        eval_cell (n_c', G), eval_drug (n_d', B): the fitted nodes followed by
            validation cells / drugs that are not among them (inductive mode);
            the same tensors as ``x_*`` when every validation node is fitted.
        train_idx (2, P): (cell, drug) node indices of the training pairs;
        train_label (P,): 1/0/NaN; train_value (P,): standardised ln IC50.
        val_idx (2, V), val_label (V,): labelled validation pairs among the
            evaluation nodes (empty in a refit).
        cell_sim (n_c, n_c), drug_sim (n_d, n_d): similarity targets or None.
    """

    def __init__(self, model: _NIHGCNModel, net: NIHGCNNet, tensors: dict[str, Tensor],
                 adj: BipartiteAdjacency, eval_adj: BipartiteAdjacency, device: torch.device):
        self.module = net.to(device)
        self.model = model
        self.adj, self.eval_adj = adj.to(device), eval_adj.to(device)
        self.t = {k: v.to(device) for k, v in tensors.items()}
        labelled = ~torch.isnan(self.t["train_label"])
        self.bce_idx = self.t["train_idx"][:, labelled]
        self.bce_y = self.t["train_label"][labelled]
        self.monitor_of = PairMonitor(self.t["val_label"])
        self.monitor, self.mode = self.monitor_of.monitor, self.monitor_of.mode

    def batches(self, epoch: int, generator: torch.Generator):
        yield None  # full batch: the whole graph every step

    def loss(self, batch: None) -> Tensor:
        net, t, model = self.module, self.t, self.model
        h_cell, h_drug = net.encode(t["x_cell"], t["x_drug"], self.adj)
        w = model.loss_weights()
        logits = model.config.gamma * pearson_correlation(h_cell, h_drug)
        total = w["bce"] * F.binary_cross_entropy_with_logits(
            logits[self.bce_idx[0], self.bce_idx[1]], self.bce_y)
        heads = model.config  # an MTIGCNConfig whenever a head is on
        if model.regression_head and w["ic50"] > 0:
            assert isinstance(heads, MTIGCNConfig)
            pred = net.ic50(h_cell, h_drug, heads.regression_scale)
            idx = t["train_idx"]
            total = total + w["ic50"] * F.mse_loss(pred[idx[0], idx[1]], t["train_value"])
        if model.similarity_head and (w["cell_sim"] > 0 or w["drug_sim"] > 0):
            assert isinstance(heads, MTIGCNConfig)
            s_cell, s_drug = net.similarities(h_cell, h_drug, heads.similarity_scale)
            total = total + w["cell_sim"] * F.mse_loss(s_cell, t["cell_sim"]) \
                + w["drug_sim"] * F.mse_loss(s_drug, t["drug_sim"])
        return total

    def validate(self) -> dict[str, float]:
        h_cell, h_drug = self.module.encode(self.t["eval_cell"], self.t["eval_drug"],
                                            self.eval_adj)
        idx = self.t["val_idx"]
        logits = self.model.config.gamma * pearson_correlation(h_cell, h_drug)[idx[0], idx[1]]
        return self.monitor_of(logits)


# ---------------------------------------------------------------------- model
class _NIHGCNModel(GraphModel):
    """Shared NIHGCN / MTIGCN plumbing: features, graph, training, persistence.

    Fitted attributes (besides the graph's, see :class:`GraphModel`):
        genes_, gene_mean_, gene_scale_: the expression preprocessing fitted
            on training cells.
        fingerprint_, fp_columns_: the drug view used and its columns.
        y_mean_, y_std_: training mean and sd of the response (regression).
        calibration_: ``(a, b)`` of the regression head's affine calibration
            (``(1, 0)``: none).
        module_: the trained :class:`NIHGCNNet`; history_: the training history.
    """

    Config: ClassVar[type[ModelConfig]] = NIHGCNConfig
    smoke_config: ClassVar[dict[str, Any]] = {"n_genes": 1000, "hidden": 64, "layers": [64], "drug_fingerprint": "morgan",
                    "trainer": {"max_epochs": 300, "patience": 30}}
    cell_views = ("expression",)
    drug_views = ("pubchem920|smiles",)  # pubchem920 when stored, else PubChem from SMILES
    regression_head: ClassVar[bool] = False
    similarity_head: ClassVar[bool] = False
    config: NIHGCNConfig
    module_: NIHGCNNet
    calibration_: tuple[float, ...]

    def loss_weights(self) -> dict[str, float]:
        """Weights of the loss terms (BCE only for NIHGCN)."""
        return {"bce": 1.0, "ic50": 0.0, "cell_sim": 0.0, "drug_sim": 0.0}

    # ------------------------------------------------------------- features
    def _cell_features(self, data: DrugResponseData, cells: np.ndarray) -> np.ndarray:
        """(n, G) z-scored expression of ``cells`` on the fitted genes."""
        z = scale_expression(data.cell_view("expression"), cells, self.genes_,
                             self.gene_mean_, self.gene_scale_)
        return z.astype(np.float32)

    def _drug_features(self, data: DrugResponseData, drugs: np.ndarray) -> np.ndarray:
        """(n, B) fingerprint bits of ``drugs``."""
        fp = data.drug_view(self.fingerprint_)
        require_ids(drugs, fp.index, "drug", f"fingerprint view {self.fingerprint_!r}")
        columns = pd.Index(fp.columns.astype(str))
        position = columns.get_indexer(self.fp_columns_)
        if (position < 0).any():
            raise DataError(f"fingerprint view {self.fingerprint_!r} lacks bits the model was "
                            f"fitted on")
        return fp.loc[drugs].to_numpy(np.float32)[:, position]

    def _fit_preprocessing(self, train: DrugResponseData) -> None:
        train_cells = np.sort(train.responses["cell"].unique())
        self.genes_, self.gene_mean_, self.gene_scale_ = fit_expression_scaling(
            train.cell_view("expression"), train_cells, self.config.n_genes)
        self.fingerprint_ = fingerprint_name(self.config.drug_fingerprint, train)
        self.fp_columns_ = np.asarray(train.drug_view(self.fingerprint_).columns, dtype=str)

    # ---------------------------------------------------------------- graph
    def graph(self, sparse: bool | None = None, n_cells: int | None = None,
              n_drugs: int | None = None) -> BipartiteAdjacency:
        """The fitted graph (training positive pairs) over the fitted nodes, or
        over ``n_cells`` / ``n_drugs`` nodes whose first ones are the fitted nodes."""
        sparse = self.config.sparse_graph if sparse is None else sparse
        return bipartite_adjacency(torch.from_numpy(self.edge_index_),
                                   n_cells or len(self.cells_), n_drugs or len(self.drugs_),
                                   sparse=sparse)

    # ------------------------------------------------------------------ fit
    def _fit(self, train: DrugResponseData, val: DrugResponseData | None,
             epochs: int | None = None) -> None:
        cfg = self.config
        self._require_labels(train, val)
        self._fit_preprocessing(train)
        self._fit_nodes(train, val, train.cell_view("expression").index,
                        train.drug_view(self.fingerprint_).index, self.fingerprint_)
        self._fit_edges(train)
        r = train.responses
        y = r["value"].to_numpy(np.float64)
        self.y_mean_ = float(y.mean())
        self.y_std_ = float(y.std()) if len(y) > 1 and y.std() > 0 else 1.0

        x_cell = self._cell_features(train, self.cells_)
        x_drug = self._drug_features(train, self.drugs_)
        v = labelled_pairs(val)
        eval_cells, eval_drugs = self.extended_nodes(v)
        tensors: dict[str, Tensor] = {
            "x_cell": torch.from_numpy(x_cell),
            "x_drug": torch.from_numpy(x_drug),
            "eval_cell": torch.from_numpy(np.vstack([x_cell, self._cell_features(
                train, eval_cells[len(self.cells_):])])),
            "eval_drug": torch.from_numpy(np.vstack([x_drug, self._drug_features(
                train, eval_drugs[len(self.drugs_):])])),
            "train_idx": torch.from_numpy(self.pair_index(r, self.cells_, self.drugs_)),
            "train_label": as_tensor(r["label"].to_numpy()),
            "train_value": as_tensor((y - self.y_mean_) / self.y_std_),
            "val_idx": torch.from_numpy(self.pair_index(v, eval_cells, eval_drugs)),
            "val_label": as_tensor(v["label"].to_numpy()),
        }  # + cell_sim, drug_sim: the similarity targets of models with that head
        if self.similarity_head:
            train_rows = pd.Index(self.cells_).get_indexer(np.sort(r["cell"].unique()))
            tensors["cell_sim"], tensors["drug_sim"] = self._similarity_targets(
                x_cell, x_drug, train_rows)
        torch.manual_seed(cfg.seed)
        self.module_ = self._build_net(x_cell.shape[1], x_drug.shape[1])
        basis = None
        if cfg.compress_inputs:
            layer = self.module_.cell_proj[0]
            assert isinstance(layer, nn.Linear)  # NIHGCNNet's input projection
            self.module_.cell_proj[0], basis = compress_linear(layer, tensors["x_cell"])
            if basis is not None:
                tensors["x_cell"] = tensors["x_cell"] @ basis
                tensors["eval_cell"] = tensors["eval_cell"] @ basis
        trainer = Trainer(cfg.trainer, seed=cfg.seed)
        task = _GraphTask(self, self.module_, tensors, self.graph(),
                          self.graph(n_cells=len(eval_cells), n_drugs=len(eval_drugs)),
                          trainer.device)
        self.history_ = trainer.fit(task, description=self.name, epochs=epochs)
        self.module_.cpu().eval()
        if basis is not None:
            layer = self.module_.cell_proj[0]
            assert isinstance(layer, nn.Linear)  # NIHGCNNet's input projection
            self.module_.cell_proj[0] = expand_linear(layer, basis)
        self.calibration_ = (1.0, 0.0)
        if self.regression_head and getattr(cfg, "regression_calibration", "none") == "affine":
            self.calibration_ = self._fit_calibration(train if val is None else val)

    def _fit_calibration(self, part: DrugResponseData) -> tuple[float, float]:
        """Least-squares ``(a, b)`` mapping the head's standardised output onto the
        standardised ln IC50 of ``part``'s pairs (identity when it cannot be fitted)."""
        self.calibration_ = (1.0, 0.0)  # identity while the raw output is read
        r = part.responses
        value = self.predict(part, r[["cell", "drug"]])["value"].to_numpy(np.float64)
        raw = (value - self.y_mean_) / self.y_std_
        target = (r["value"].to_numpy(np.float64) - self.y_mean_) / self.y_std_
        if len(raw) < 3 or np.std(raw) == 0:
            return 1.0, 0.0
        a, b = np.polyfit(raw, target, 1)
        return float(a), float(b)

    def _similarity_targets(self, x_cell: np.ndarray, x_drug: np.ndarray,
                            train_rows: np.ndarray) -> tuple[Tensor, Tensor]:
        """Gaussian similarity of expression (bandwidth from training cells) and
        Jaccard similarity of fingerprints, over the fitted nodes (training
        nodes only in inductive mode)."""
        gamma = gaussian_gamma(x_cell[train_rows].astype(np.float64))
        cell_sim = gaussian_kernel(torch.from_numpy(x_cell), gamma=gamma)
        drug_sim = jaccard_similarity(torch.from_numpy(x_drug))
        return cell_sim.float(), drug_sim.float()

    def _build_net(self, cell_in: int, drug_in: int) -> NIHGCNNet:
        cfg = self.config
        return NIHGCNNet(cell_in, drug_in, cfg.hidden, list(cfg.layers), cfg.alpha,
                         cfg.projection_activation, self.regression_head, self.similarity_head)

    # -------------------------------------------------------------- predict
    @torch.no_grad()
    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        """Scores (and ln IC50 for models with a regression head) of ``pairs``.

        The graph is the fitted one; cells or drugs of ``pairs`` that were not
        nodes at fit time join as isolated nodes (features, no edges), which
        changes no fitted node's embedding.
        """
        cells, drugs = self.extended_nodes(pairs)
        device = select_device(self.config.trainer.device)
        adj = self.graph(n_cells=len(cells), n_drugs=len(drugs)).to(device)
        x_cell = torch.from_numpy(self._cell_features(data, cells)).to(device)
        x_drug = torch.from_numpy(self._drug_features(data, drugs)).to(device)
        net = self.module_.to(device).eval()
        h_cell, h_drug = net.encode(x_cell, x_drug, adj)
        ci, di = self.pair_index(pairs, cells, drugs)
        corr = pearson_correlation(h_cell, h_drug)
        out = {"score": torch.sigmoid(self.config.gamma * corr).cpu().numpy()[ci, di]
               .astype(np.float64)}
        if self.regression_head:
            assert isinstance(self.config, MTIGCNConfig)  # the heads are MTIGCN's
            value = net.ic50(h_cell, h_drug, self.config.regression_scale).cpu().numpy()[ci, di]
            a, b = self.calibration_
            out["value"] = (a * value.astype(np.float64) + b) * self.y_std_ + self.y_mean_
        net.cpu()
        return pd.DataFrame(out, index=pairs.index)

    def input_genes(self) -> dict[str, list[str]]:
        return {"expression": [str(g) for g in self.genes_]}

    # ---------------------------------------------------------- persistence
    def save_state(self, directory: Path) -> None:
        self.save_graph_model(directory, STATE_FILE, {
            "genes": self.genes_, "gene_mean": self.gene_mean_, "gene_scale": self.gene_scale_,
            "fp_columns": self.fp_columns_, "fingerprint": np.asarray(self.fingerprint_),
            "y_stats": np.asarray([self.y_mean_, self.y_std_]),
            "calibration": np.asarray(self.calibration_)},
            {"cell_in": len(self.genes_), "drug_in": len(self.fp_columns_)})

    def load_state(self, directory: Path) -> None:
        with self.open_graph_state(directory, STATE_FILE) as state:
            self.genes_, self.fp_columns_ = state["genes"], state["fp_columns"]
            self.gene_mean_, self.gene_scale_ = state["gene_mean"], state["gene_scale"]
            self.fingerprint_ = str(state["fingerprint"])
            self.y_mean_, self.y_std_ = (float(v) for v in state["y_stats"])
            self.calibration_ = tuple(float(v) for v in state["calibration"]) \
                if "calibration" in state else (1.0, 0.0)
        self.module_ = self._build_net(len(self.genes_), len(self.fp_columns_))
        load_weights(self.module_, directory)
        self.module_.eval()


# ------------------------------------------------------------- registrations
@register_model
class NIHGCN(_NIHGCNModel):
    name = "nihgcn"
    description = ("NIHGCN: neighbourhood-interaction GCN on the cell-drug graph of training "
                   "sensitive pairs, Pearson decoder (classifier)")
    Config = NIHGCNConfig
    outputs = ("score",)


class _MTIGCNBase(_NIHGCNModel):
    Config = MTIGCNConfig
    config: MTIGCNConfig

    def loss_weights(self) -> dict[str, float]:
        cfg = self.config
        return {"bce": cfg.bce_weight,
                "ic50": cfg.ic50_weight if self.regression_head else 0.0,
                "cell_sim": cfg.cell_sim_weight if self.similarity_head else 0.0,
                "drug_sim": cfg.drug_sim_weight if self.similarity_head else 0.0}


@register_model
class MTIGCN(_MTIGCNBase):
    name = "mtigcn"
    description = ("MTIGCN: NIHGCN encoder + ln IC50 regression + similarity reconstruction "
                   "(score and ln IC50)")
    outputs = ("score", "value")
    regression_head = True
    similarity_head = True


@register_model
class MTIGCNA(_MTIGCNBase):
    name = "mtigcn-a"
    description = "MTIGCN ablation without the ln IC50 regression task (classifier)"
    outputs = ("score",)
    regression_head = False
    similarity_head = True


@register_model
class MTIGCNB(_MTIGCNBase):
    name = "mtigcn-b"
    description = "MTIGCN ablation without the similarity reconstruction task"
    outputs = ("score", "value")
    regression_head = True
    similarity_head = False
