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

Leakage: response edges and loss targets come from ``train.responses`` only;
validation and test cells or drugs are nodes with features and no edges.
At predict time the graph is the fitted one; cells or drugs never seen at fit
time are added as isolated nodes, which changes no other node's embedding.
"""
from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import ClassVar, Literal

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
from drpkit.features.expression import fit_expression_scaling, scale_expression
from drpkit.features.kernels import gaussian_gamma, gaussian_kernel, jaccard_similarity
from drpkit.models.base import EarlyStoppingModel, ModelConfig, register_model
from drpkit.nn import BipartiteAdjacency, NeighborhoodInteractionConv, bipartite_adjacency
from drpkit.nn.layers import pearson_correlation
from drpkit.nn.lowrank import expand_linear, restrict_linear, row_space_basis
from drpkit.train import Trainer, TrainerConfig, load_weights, save_weights, select_device

STATE_FILE = "graph.npz"


# --------------------------------------------------------------------- config
class NIHGCNConfig(ModelConfig):
    """Hyperparameters of NIHGCN (defaults: the paper's GDSC settings).

    Attributes:
        n_genes: keep the most variable genes among training cells; None = all.
        drug_fingerprint: drug view; ``auto`` = the dataset's ``pubchem920``
            view when present, else ``pubchem`` (881 bits from SMILES).
        hidden: size of the Linear + BatchNorm input projections.
        layers: output sizes of the interaction layers (one 1024 layer on
            GDSC in the paper; 512 on CCLE).
        alpha: weight of the neighbourhood-interaction term (0.25 GDSC, 0.45 CCLE).
        gamma: scale of the Pearson correlation before the sigmoid.
        projection_activation: ReLU after the input projection (the authors'
            code has none).
        nodes: ``view`` = every cell of the expression view and every drug of
            the fingerprint view is a node; ``responses`` = only the cells and
            drugs of the training and validation parts (others are added as
            isolated nodes at predict time).
        sparse_graph: sparse aggregation operators (for large graphs).
        compress_inputs: train the cell projection on the row space of the
            cell features (a reparameterisation, see :mod:`drpkit.nn.lowrank`):
            same initial function, ``genes / cells`` times less work in the
            largest layer, but Adam follows another path than without it;
            folded back into an ordinary layer after training.
        trainer: optimisation; early stopping on validation AUROC.
    """

    n_genes: int | None = Field(default=None, ge=1)
    drug_fingerprint: str = "auto"
    hidden: int = Field(default=1024, ge=1)
    layers: list[int] = Field(default_factory=lambda: [1024], min_length=1)
    alpha: float = Field(default=0.25, ge=0.0, le=1.0)
    gamma: float = Field(default=8.0, gt=0.0)
    projection_activation: bool = False
    nodes: Literal["view", "responses"] = "view"
    sparse_graph: bool = False
    compress_inputs: bool = True
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


# --------------------------------------------------------------------- module
class NIHGCNNet(nn.Module):
    """Encoder (projections + interaction layers) and optional MTIGCN heads.

    Args:
        cell_in: number of cell input features (genes).
        drug_in: number of drug input features (fingerprint bits).
        hidden: projection size.
        layers: output sizes of the interaction layers.
        alpha: interaction weight of every layer.
        projection_activation: ReLU after the projections.
        regression_head: add the linear cell/drug heads of the IC50 task.
        similarity_head: add the linear cell/drug heads of the similarity task.

    Shapes:
        - input: cell features (n_c, cell_in), drug features (n_d, drug_in),
          a :class:`~drpkit.nn.BipartiteAdjacency` of n_c cells and n_d drugs
        - output of :meth:`encode`: (n_c, layers[-1]) and (n_d, layers[-1])
    """

    def __init__(self, cell_in: int, drug_in: int, hidden: int, layers: list[int],
                 alpha: float, projection_activation: bool = False,
                 regression_head: bool = False, similarity_head: bool = False):
        super().__init__()
        self.cell_proj = self._projection(cell_in, hidden, projection_activation)
        self.drug_proj = self._projection(drug_in, hidden, projection_activation)
        sizes = [hidden, *layers]
        self.convs = nn.ModuleList(NeighborhoodInteractionConv(a, b, alpha)
                                   for a, b in pairwise(sizes))
        out = sizes[-1]
        self.reg_cell = nn.Linear(out, out) if regression_head else None
        self.reg_drug = nn.Linear(out, out) if regression_head else None
        self.sim_cell = nn.Linear(out, out) if similarity_head else None
        self.sim_drug = nn.Linear(out, out) if similarity_head else None

    @staticmethod
    def _projection(d_in: int, d_out: int, activation: bool) -> nn.Sequential:
        parts: list[nn.Module] = [nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out)]
        if activation:
            parts.append(nn.ReLU())
        return nn.Sequential(*parts)

    def encode(self, x_cell: Tensor, x_drug: Tensor,
               adj: BipartiteAdjacency) -> tuple[Tensor, Tensor]:
        """Node embeddings: (n_c, F) cells and (n_d, F) drugs, F = ``layers[-1]``."""
        h_cell, h_drug = self.cell_proj(x_cell), self.drug_proj(x_drug)
        for conv in self.convs:
            h_cell, h_drug = conv(h_cell, h_drug, adj)
        return h_cell, h_drug

    def ic50(self, h_cell: Tensor, h_drug: Tensor, scale: float) -> Tensor:
        """(n_c, n_d) standardised ln IC50: ``scale * Pearson(W_c h_c, W_d h_d)``."""
        if self.reg_cell is None or self.reg_drug is None:
            raise RuntimeError("this network has no regression head")
        return scale * pearson_correlation(self.reg_cell(h_cell), self.reg_drug(h_drug))

    def similarities(self, h_cell: Tensor, h_drug: Tensor,
                     scale: float) -> tuple[Tensor, Tensor]:
        """(n_c, n_c) and (n_d, n_d) reconstructed similarities in (0, 1)."""
        if self.sim_cell is None or self.sim_drug is None:
            raise RuntimeError("this network has no similarity head")
        z_cell, z_drug = self.sim_cell(h_cell), self.sim_drug(h_drug)
        return (torch.sigmoid(scale * pearson_correlation(z_cell, z_cell)),
                torch.sigmoid(scale * pearson_correlation(z_drug, z_drug)))


# ----------------------------------------------------------------------- task
class _GraphTask:
    """Full-batch training of the graph model; validation AUROC drives stopping.

    Tensors (on the trainer's device):
        x_cell (n_c, G), x_drug (n_d, B): node features.
        train_idx (2, P): (cell, drug) node indices of the training pairs;
        train_label (P,): 1/0/NaN; train_value (P,): standardised ln IC50.
        val_idx (2, V), val_label (V,): labelled validation pairs (empty in a refit).
        cell_sim (n_c, n_c), drug_sim (n_d, n_d): similarity targets or None.
    """

    mode: Literal["min", "max"]

    def __init__(self, model: _GraphModel, net: NIHGCNNet, tensors: dict[str, Tensor | None],
                 adj: BipartiteAdjacency, device: torch.device):
        self.module = net.to(device)
        self.model = model
        self.adj = adj.to(device)
        self.t = {k: (v.to(device) if v is not None else None) for k, v in tensors.items()}
        labelled = ~torch.isnan(self.t["train_label"])
        self.bce_idx = self.t["train_idx"][:, labelled]
        self.bce_y = self.t["train_label"][labelled]
        self.val_y = self.t["val_label"].cpu().numpy()
        # AUROC needs both classes in the validation part; else stop on its BCE
        if len(np.unique(self.val_y)) == 2:
            self.monitor, self.mode = "val_auroc", "max"
        else:
            self.monitor, self.mode = "val_bce", "min"

    def batches(self, epoch: int, generator: torch.Generator):
        yield None  # full batch: the whole graph every step

    def loss(self, batch: None) -> Tensor:
        net, t, model = self.module, self.t, self.model
        h_cell, h_drug = net.encode(t["x_cell"], t["x_drug"], self.adj)
        w = model.loss_weights()
        logits = model.config.gamma * pearson_correlation(h_cell, h_drug)
        total = w["bce"] * F.binary_cross_entropy_with_logits(
            logits[self.bce_idx[0], self.bce_idx[1]], self.bce_y)
        if model.regression_head and w["ic50"] > 0:
            pred = net.ic50(h_cell, h_drug, model.config.regression_scale)
            idx = t["train_idx"]
            total = total + w["ic50"] * F.mse_loss(pred[idx[0], idx[1]], t["train_value"])
        if model.similarity_head and (w["cell_sim"] > 0 or w["drug_sim"] > 0):
            s_cell, s_drug = net.similarities(h_cell, h_drug, model.config.similarity_scale)
            total = total + w["cell_sim"] * F.mse_loss(s_cell, t["cell_sim"]) \
                + w["drug_sim"] * F.mse_loss(s_drug, t["drug_sim"])
        return total

    def validate(self) -> dict[str, float]:
        h_cell, h_drug = self.module.encode(self.t["x_cell"], self.t["x_drug"], self.adj)
        idx = self.t["val_idx"]
        logits = self.model.config.gamma * pearson_correlation(h_cell, h_drug)[idx[0], idx[1]]
        bce = F.binary_cross_entropy_with_logits(logits, self.t["val_label"])
        out = {"val_bce": float(bce)}
        if self.monitor == "val_auroc":
            out["val_auroc"] = auroc(self.val_y, logits.cpu().numpy())
        return out


# ---------------------------------------------------------------------- model
class _GraphModel(EarlyStoppingModel):
    """Shared NIHGCN / MTIGCN plumbing: features, graph, training, persistence.

    Fitted attributes:
        cells_, drugs_: node ids (arrays of str), in node order.
        edge_index_: (2, E) int64 node indices of the training positive pairs.
        genes_, gene_mean_, gene_scale_: the expression preprocessing fitted
            on training cells.
        fingerprint_, fp_columns_: the drug view used and its columns.
        y_mean_, y_std_: training mean and sd of the response (regression).
        calibration_: ``(a, b)`` of the regression head's affine calibration
            (``(1, 0)``: none).
        module_: the trained :class:`NIHGCNNet`; history_: the training history.
    """

    Config: ClassVar[type[ModelConfig]] = NIHGCNConfig
    cell_views = ("expression",)
    drug_views = ("pubchem920", "smiles")  # pubchem920 when stored, else PubChem from SMILES
    regression_head: ClassVar[bool] = False
    similarity_head: ClassVar[bool] = False
    config: NIHGCNConfig

    def loss_weights(self) -> dict[str, float]:
        """Weights of the loss terms (BCE only for NIHGCN)."""
        return {"bce": 1.0, "ic50": 0.0, "cell_sim": 0.0, "drug_sim": 0.0}

    # ------------------------------------------------------------- features
    def _fingerprint_name(self, data: DrugResponseData) -> str:
        name = self.config.drug_fingerprint
        if name == "auto":
            return "pubchem920" if "pubchem920" in data.drug_views else "pubchem"
        return name

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
        self.fingerprint_ = self._fingerprint_name(train)
        self.fp_columns_ = np.asarray(train.drug_view(self.fingerprint_).columns, dtype=str)

    def _node_sets(self, train: DrugResponseData,
                   val: DrugResponseData | None) -> tuple[np.ndarray, np.ndarray]:
        parts = [train.responses] if val is None else [train.responses, val.responses]
        seen_cells = np.unique(np.concatenate([p["cell"].unique() for p in parts]))
        seen_drugs = np.unique(np.concatenate([p["drug"].unique() for p in parts]))
        if self.config.nodes == "responses":
            return seen_cells.astype(str), seen_drugs.astype(str)
        expression = train.cell_view("expression")
        fp = train.drug_view(self.fingerprint_)
        require_ids(seen_cells, expression.index, "cell", "expression")
        require_ids(seen_drugs, fp.index, "drug", f"fingerprint view {self.fingerprint_!r}")
        return (np.asarray(expression.index, dtype=str),
                np.asarray(fp.index, dtype=str))

    # ---------------------------------------------------------------- graph
    def graph(self, sparse: bool | None = None) -> BipartiteAdjacency:
        """The fitted graph (training positive pairs) over the fitted nodes."""
        sparse = self.config.sparse_graph if sparse is None else sparse
        return bipartite_adjacency(torch.from_numpy(self.edge_index_), len(self.cells_),
                                   len(self.drugs_), sparse=sparse)

    @property
    def edges(self) -> pd.DataFrame:
        """The response edges of the fitted graph as (cell, drug) ids."""
        return pd.DataFrame({"cell": self.cells_[self.edge_index_[0]],
                             "drug": self.drugs_[self.edge_index_[1]]})

    # ------------------------------------------------------------------ fit
    def _fit(self, train: DrugResponseData, val: DrugResponseData | None,
             epochs: int | None = None) -> None:
        cfg = self.config
        if val is not None and not val.responses["label"].notna().any():
            raise DataError(f"model {self.name!r} needs a validation part with labels for "
                            "early stopping")
        r = train.responses
        if not r["label"].notna().any():
            raise DataError(f"model {self.name!r} needs labelled training pairs")
        self._fit_preprocessing(train)
        self.cells_, self.drugs_ = self._node_sets(train, val)
        cell_pos = pd.Index(self.cells_)
        drug_pos = pd.Index(self.drugs_)

        positive = r["label"].to_numpy() == 1
        self.edge_index_ = np.stack([cell_pos.get_indexer(r["cell"][positive]),
                                     drug_pos.get_indexer(r["drug"][positive])]).astype(np.int64)
        y = r["value"].to_numpy(np.float64)
        self.y_mean_ = float(y.mean())
        self.y_std_ = float(y.std()) if len(y) > 1 and y.std() > 0 else 1.0

        x_cell = self._cell_features(train, self.cells_)
        x_drug = self._drug_features(train, self.drugs_)
        v = r.iloc[:0] if val is None else val.responses[val.responses["label"].notna()]
        tensors: dict[str, Tensor | None] = {
            "x_cell": torch.from_numpy(x_cell),
            "x_drug": torch.from_numpy(x_drug),
            "train_idx": torch.from_numpy(np.stack([cell_pos.get_indexer(r["cell"]),
                                                    drug_pos.get_indexer(r["drug"])])),
            "train_label": torch.tensor(r["label"].to_numpy(np.float32)),
            "train_value": torch.tensor(((y - self.y_mean_) / self.y_std_).astype(np.float32)),
            "val_idx": torch.from_numpy(np.stack([cell_pos.get_indexer(v["cell"]),
                                                  drug_pos.get_indexer(v["drug"])])),
            "val_label": torch.tensor(v["label"].to_numpy(np.float32)),
            "cell_sim": None, "drug_sim": None,
        }
        if self.similarity_head:
            tensors["cell_sim"], tensors["drug_sim"] = self._similarity_targets(
                x_cell, x_drug, cell_pos.get_indexer(np.sort(r["cell"].unique())))
        torch.manual_seed(cfg.seed)
        self.module_ = self._build_net(x_cell.shape[1], x_drug.shape[1])
        basis = None
        if cfg.compress_inputs:
            basis = row_space_basis(tensors["x_cell"])
            if basis.shape[1] < x_cell.shape[1]:
                self.module_.cell_proj[0] = restrict_linear(self.module_.cell_proj[0], basis)
                tensors["x_cell"] = tensors["x_cell"] @ basis
            else:
                basis = None  # no fewer dimensions: nothing to gain
        trainer = Trainer(cfg.trainer, seed=cfg.seed)
        task = _GraphTask(self, self.module_, tensors,
                          self.graph(), trainer.device)
        self.history_ = trainer.fit(task, description=self.name, epochs=epochs)
        self.module_.cpu().eval()
        if basis is not None:
            self.module_.cell_proj[0] = expand_linear(self.module_.cell_proj[0], basis)
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
        Jaccard similarity of fingerprints, over all nodes."""
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
        nodes at fit time join as isolated nodes (features, no edges).
        """
        cells = extend_ids(self.cells_, pairs["cell"].astype(str).unique())
        drugs = extend_ids(self.drugs_, pairs["drug"].astype(str).unique())
        device = select_device(self.config.trainer.device)
        adj = bipartite_adjacency(torch.from_numpy(self.edge_index_), len(cells), len(drugs),
                                  sparse=self.config.sparse_graph).to(device)
        x_cell = torch.from_numpy(self._cell_features(data, cells)).to(device)
        x_drug = torch.from_numpy(self._drug_features(data, drugs)).to(device)
        net = self.module_.to(device).eval()
        h_cell, h_drug = net.encode(x_cell, x_drug, adj)
        ci = pd.Index(cells).get_indexer(pairs["cell"].astype(str))
        di = pd.Index(drugs).get_indexer(pairs["drug"].astype(str))
        corr = pearson_correlation(h_cell, h_drug)
        out = {"score": torch.sigmoid(self.config.gamma * corr).cpu().numpy()[ci, di]
               .astype(np.float64)}
        if self.regression_head:
            value = net.ic50(h_cell, h_drug, self.config.regression_scale).cpu().numpy()[ci, di]
            a, b = self.calibration_
            out["value"] = (a * value.astype(np.float64) + b) * self.y_std_ + self.y_mean_
        net.cpu()
        return pd.DataFrame(out, index=pairs.index)

    def input_genes(self) -> dict[str, list[str]]:
        return {"expression": [str(g) for g in self.genes_]}

    # ---------------------------------------------------------- persistence
    def save_state(self, directory: Path) -> None:
        np.savez(directory / STATE_FILE, cells=self.cells_, drugs=self.drugs_,
                 edge_index=self.edge_index_, genes=self.genes_, gene_mean=self.gene_mean_,
                 gene_scale=self.gene_scale_, fp_columns=self.fp_columns_,
                 fingerprint=np.asarray(self.fingerprint_),
                 y_stats=np.asarray([self.y_mean_, self.y_std_]),
                 calibration=np.asarray(self.calibration_))
        save_weights(self.module_, directory, {"cell_in": len(self.genes_),
                                               "drug_in": len(self.fp_columns_)})
        (directory / "history.json").write_text(json.dumps(self.history_.to_dict()))

    def load_state(self, directory: Path) -> None:
        path = directory / STATE_FILE
        if not path.exists():
            raise DataError(f"{directory}: no {STATE_FILE}")
        with np.load(path, allow_pickle=False) as state:
            self.cells_, self.drugs_ = state["cells"], state["drugs"]
            self.edge_index_ = state["edge_index"].astype(np.int64)
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
class NIHGCN(_GraphModel):
    name = "nihgcn"
    description = ("NIHGCN: neighbourhood-interaction GCN on the cell-drug graph of training "
                   "sensitive pairs, Pearson decoder (classifier)")
    Config = NIHGCNConfig
    outputs = ("score",)


class _MTIGCNBase(_GraphModel):
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
