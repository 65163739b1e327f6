"""mmgnn: molecular-graph x omics cross-attention network (issue 17, design model 5).

A drug is its RDKit molecular graph (atom and bond features,
:mod:`drpkit.features.molgraph`) through GINE layers of PyTorch Geometric (the
``mol-gnn`` encoder), which also gives one token per atom. A cell is its
expression through an MLP (the ``mlp`` encoder on the ``n_genes`` most variable
genes, z-scored with training statistics) plus one token per gene set of the
``gene-sets`` resource (the ``pathway-tokens`` encoder: set scores from
expression z-scored with the training cells' statistics). Atoms attend to
pathway tokens and pathway tokens to atoms (multi-head cross-attention, both
ways; :class:`~drpkit.nn.mmgnn_net.MMGNNNet`); the pooled attention outputs and
the global drug and cell vectors feed an MLP with two outputs: ln IC50
(``value``; Huber or MSE on standardised values) and a sensitivity logit
(``score``; BCE on the pairs that have a label). The loss is their weighted sum;
the shared trainer stops early on the validation loss.

Ablations are settings: ``cross_attention=false`` (concatenation),
``drug_encoder=fingerprint-mlp`` or ``mol-encoder`` (then the drug is one
token), ``pathway_tokens=false`` (then the cell is one token, its MLP vector).
Drugs and cells enter through their features only, so unseen drugs and cells
are scored like any other (inductive).

Attention weights atom -> pathway, averaged over heads, atoms and training
cells, are exported by :meth:`MMGNN.explain` as ``drug_pathway_attention`` and,
for ``drpkit explain``, as ``drug_gene_scores`` whose ``gene`` column holds the
gene-set name (``kegg:hsa04110``...; column ``feature`` = ``pathway``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor

from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.features.expression import fit_expression_scaling, scale_expression
from drpkit.models.base import EarlyStoppingModel, ModelConfig, register_model
from drpkit.nn.encoders import (
    CellEncoder,
    CellMLP,
    DrugEncoder,
    PathwayTokens,
    build_cell_encoder,
    build_drug_encoder,
    requirements,
)
from drpkit.nn.mmgnn_net import HeadShape, MMGNNNet
from drpkit.train import Trainer, TrainerConfig, load_weights, save_weights, select_device

STATE_FILE = "mmgnn.json"
SCALING_FILE = "mmgnn_scaling.npz"
DrugEncoderName = Literal["mol-gnn", "fingerprint-mlp", "mol-encoder"]


class MMGNNConfig(ModelConfig):
    """Hyperparameters of mmgnn (sizes chosen for a 2-core CPU).

    Attributes:
        drug_encoder: ``mol-gnn`` (GINE on RDKit graphs, atom tokens),
            ``fingerprint-mlp`` or ``mol-encoder`` (pretrained ChemNet vectors):
            the latter two are the "no molecular graph" ablations.
        drug_settings: settings of the drug encoder part beyond ``dim`` and
            ``dropout`` (e.g. ``{"layers": 4}`` for mol-gnn, ``{"view": "maccs"}``
            for fingerprint-mlp); checked against the part's own settings.
        n_genes: most variable genes among training cells fed to the expression
            MLP; None = every gene.
        cell_hidden: hidden sizes of the expression MLP.
        pathway_tokens: False drops the gene-set tokens (ablation).
        pathway_collections: collections of the ``gene-sets`` resource.
        min_pathway_genes: keep a gene set with at least this many expression genes.
        cross_attention: False replaces cross-attention by concatenation (ablation).
        dim: width of the drug and cell vectors and of the attention tokens.
        heads: attention heads (``dim`` must be a multiple of it).
        attention_dropout: dropout on the attention weights.
        dropout: dropout in the encoders, the pathway tokens and the head.
        head_hidden: hidden sizes of the pair MLP.
        loss: regression loss on standardised ln IC50: ``huber`` or ``mse``.
        huber_delta: Huber threshold, in training standard deviations.
        value_weight: weight of the regression loss.
        score_weight: weight of the BCE on sensitivity labels (pairs without a
            label add nothing).
        batch_size: training pairs per step.
        size_buckets: with molecular graphs, form each batch from pairs whose drugs
            have similar atom counts (shuffled pairs are cut into windows of
            ``size_buckets`` batches, sorted by atom count inside a window, and
            the batches are shuffled): a batch is padded to its own largest
            drug, not to the largest of all (96 atoms on GDSC2, 32 on average).
            0 = plain shuffled batches.
        explain_cells: training cells per drug whose attention ``explain`` averages.
        explain_top: gene sets kept per drug in ``drug_gene_scores`` (all are in
            ``drug_pathway_attention``).
        trainer: optimisation; early stopping on the validation loss. No weight
            decay by default: with Adam's L2 penalty (1e-5, the first default) the
            query and key projections of the drug -> cell attention were pulled to
            exactly 0 on every GDSC2 fold fitted (uniform attention, nothing to
            explain), and on random fold 0 no decay had the lowest validation loss
            (0.2655, against 0.2679 for AdamW with decay 0.01 and 0.2716 for the L2
            penalty; BENCHMARKS.md, "mmgnn on one GDSC2 fold").
    """

    drug_encoder: DrugEncoderName = "mol-gnn"
    drug_settings: dict[str, Any] = Field(default_factory=dict)
    n_genes: int | None = Field(default=2000, ge=1)
    cell_hidden: list[int] = Field(default_factory=lambda: [256])
    pathway_tokens: bool = True
    pathway_collections: list[Literal["kegg", "reactome", "wikipathways", "cpdb"]] = Field(
        default_factory=lambda: ["kegg"], min_length=1)  # type: ignore[arg-type]
    min_pathway_genes: int = Field(default=5, ge=1)
    cross_attention: bool = True
    dim: int = Field(default=64, ge=1)
    heads: int = Field(default=4, ge=1)
    attention_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    head_hidden: list[int] = Field(default_factory=lambda: [128])
    loss: Literal["huber", "mse"] = "huber"
    huber_delta: float = Field(default=1.0, gt=0.0)
    value_weight: float = Field(default=1.0, ge=0.0)
    score_weight: float = Field(default=0.5, ge=0.0)
    batch_size: int = Field(default=256, ge=1)
    size_buckets: int = Field(default=0, ge=0)
    explain_cells: int = Field(default=64, ge=1)
    explain_top: int = Field(default=50, ge=1)
    trainer: TrainerConfig = TrainerConfig(max_epochs=100, patience=10, lr=1e-3,
                                           weight_decay=0.0, grad_clip=5.0)

    @model_validator(mode="after")
    def _check(self) -> MMGNNConfig:
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be a multiple of heads ({self.heads})")
        if self.value_weight == 0 and self.score_weight == 0:
            raise ValueError("value_weight and score_weight cannot both be 0")
        self.drug_part()  # unknown or invalid encoder settings fail here
        return self

    def drug_part(self) -> DrugEncoder:
        """The (unfitted) drug encoder these settings describe."""
        return build_drug_encoder(self.drug_encoder, {
            "dim": self.dim, "dropout": self.dropout, **self.drug_settings})

    def cell_parts(self) -> tuple[CellMLP, PathwayTokens | None]:
        """The (unfitted) expression MLP and pathway tokens (None when switched off)."""
        cell = build_cell_encoder("mlp", {"dim": self.dim, "dropout": self.dropout,
                                          "hidden": list(self.cell_hidden)})
        pathways = build_cell_encoder("pathway-tokens", {
            "dim": self.dim, "dropout": self.dropout, "min_genes": self.min_pathway_genes,
            "collections": list(self.pathway_collections)}) if self.pathway_tokens else None
        assert isinstance(cell, CellMLP) and (pathways is None or isinstance(
            pathways, PathwayTokens))
        return cell, pathways


class _Pairs:
    """Pairs of one data part, prepared once: the scaled expression and set scores of
    each distinct cell (``x_cells``, ``s_cells``), each pair's cell and drug rows,
    standardised values and labels (NaN where absent). Cell inputs are kept per cell
    and gathered per batch (``index_select``): per pair they would take 1 GB on a
    GDSC2 fold, and gathering rows of that copy cost more than a step's attention."""

    def __init__(self, model: MMGNN, data: DrugResponseData, frame: pd.DataFrame,
                 drug_index: dict[str, int]) -> None:
        cells = pd.Index(pd.unique(frame["cell"]))
        self.c = torch.from_numpy(cells.get_indexer(frame["cell"]).astype(np.int64))
        self.x_cells, self.s_cells = model._cell_inputs(data, cells)
        self.d = torch.tensor([drug_index[d] for d in frame["drug"]], dtype=torch.long)
        y = frame["value"].to_numpy(np.float64) if "value" in frame else np.full(len(frame), np.nan)
        self.y = torch.tensor((y - model.y_mean_) / model.y_std_, dtype=torch.float32)
        label = frame["label"].to_numpy(np.float64) if "label" in frame else np.full(
            len(frame), np.nan)
        self.label = torch.tensor(label, dtype=torch.float32)

    def cell_inputs(self, c: Tensor) -> tuple[Tensor, Tensor | None]:
        """Scaled expression and gene-set scores (or None) of the cell rows ``c``."""
        return (self.x_cells.index_select(0, c),
                None if self.s_cells is None else self.s_cells.index_select(0, c))

    @property
    def x(self) -> Tensor:
        """Scaled expression of every pair's cell (pairs x genes)."""
        return self.cell_inputs(self.c)[0]

    @property
    def s(self) -> Tensor | None:
        """Gene-set scores of every pair's cell (pairs x sets), or None."""
        return self.cell_inputs(self.c)[1]

    def to(self, device: torch.device) -> _Pairs:
        for key in ("x_cells", "s_cells", "c", "d", "y", "label"):
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, value.to(device))
        return self

    def rows(self, idx: Tensor) -> tuple[Tensor, Tensor | None, Tensor, Tensor, Tensor]:
        x, s = self.cell_inputs(self.c.index_select(0, idx))
        return (x, s, self.d.index_select(0, idx), self.y.index_select(0, idx),
                self.label.index_select(0, idx))


class _MMGNNTask:
    """Mini-batches of training pairs; the weighted value + BCE loss; the same
    loss on the validation pairs drives early stopping."""

    monitor = "val_loss"
    mode: Literal["min", "max"] = "min"

    def __init__(self, net: MMGNNNet, config: MMGNNConfig, drugs: Any, train: _Pairs,
                 val: _Pairs | None, device: torch.device) -> None:
        self.module = net.to(device)
        self.config, self.drugs = config, drugs.to(device)
        self.train, self.val = train.to(device), (val.to(device) if val is not None else None)

    def batches(self, epoch: int, generator: torch.Generator):
        size = self.config.batch_size
        order = torch.randperm(len(self.train.d), generator=generator)
        atoms = getattr(self.drugs, "batch", None)  # a molecular-graph batch: atom -> drug
        if self.config.size_buckets and atoms is not None:
            per_drug = torch.bincount(atoms.cpu(), minlength=self.drugs.num_graphs)
            cuts = size_bucketed(order, per_drug[self.train.d.cpu()], size,
                                 self.config.size_buckets, generator)
        else:
            cuts = list(order.split(size))
        for idx in cuts:
            yield self.train.rows(idx.to(self.train.d.device))

    def objective(self, batch: tuple) -> Tensor:
        x, s, d, y, label = batch
        out = self.module(self.drugs, x, s, d)
        return pair_loss(self.config, out.value, out.logit, y, label)

    def loss(self, batch: tuple) -> Tensor:
        return self.objective(batch)

    def validate(self) -> dict[str, float]:
        if self.val is None or not len(self.val.d):
            return {"val_loss": float("nan")}
        total, n = 0.0, len(self.val.d)
        for idx in torch.arange(n, device=self.val.d.device).split(4096):
            total += float(self.objective(self.val.rows(idx))) * len(idx)
        return {"val_loss": total / n}


def size_bucketed(order: Tensor, sizes: Tensor, batch_size: int, window: int,
                  generator: torch.Generator) -> list[Tensor]:
    """Batches of the (shuffled) row indices ``order``, grouped by ``sizes[row]``:
    ``order`` is cut into windows of ``window`` batches, each window sorted by size
    (stable) and cut into batches, and the batches are shuffled. Every row appears
    once; a batch holds rows of similar size, so little padding. (The bucketing of
    sequence models; a few lines, so not worth a dependency.)"""
    cuts: list[Tensor] = []
    for part in order.split(batch_size * window):
        cuts += part[sizes[part].argsort(stable=True)].split(batch_size)
    return [cuts[i] for i in torch.randperm(len(cuts), generator=generator)]


def pair_loss(cfg: MMGNNConfig, value: Tensor, logit: Tensor, y: Tensor, label: Tensor) -> Tensor:
    """``value_weight * (Huber | MSE)(value, y) + score_weight * BCE(logit, label)``,
    each over the pairs that have that target (NaN = absent)."""
    loss = value.new_zeros(())
    has_y, has_label = ~torch.isnan(y), ~torch.isnan(label)
    if cfg.value_weight > 0 and bool(has_y.any()):
        if cfg.loss == "huber":
            fit = F.huber_loss(value[has_y], y[has_y], delta=cfg.huber_delta)
        else:
            fit = F.mse_loss(value[has_y], y[has_y])
        loss = loss + cfg.value_weight * fit
    if cfg.score_weight > 0 and bool(has_label.any()):
        loss = loss + cfg.score_weight * F.binary_cross_entropy_with_logits(
            logit[has_label], label[has_label])
    return loss


@register_model
class MMGNN(EarlyStoppingModel):
    """mmgnn (see the module docstring).

    Fitted attributes:
        genes_, gene_mean_, gene_scale_: expression MLP genes and their training
            z-score statistics.
        y_mean_, y_std_: training mean and sd of ln IC50.
        module_: the trained :class:`MMGNNNet`; history_: the training history.
    """

    name = "mmgnn"
    description = ("molecular-graph GNN (GINE atoms) x expression MLP + pathway tokens with "
                   "two-way cross-attention; ln IC50 and sensitivity; atom->pathway attention "
                   "explained")
    Config: ClassVar[type[ModelConfig]] = MMGNNConfig
    cell_views = ("expression",)
    drug_views = ("smiles",)
    resources = ("gene-sets",)
    outputs = ("value", "score")
    smoke_config: ClassVar[dict[str, Any]] = {
        "n_genes": 500, "dim": 32, "heads": 2, "cell_hidden": [64], "head_hidden": [64],
        "drug_settings": {"hidden": 32, "layers": 2}, "min_pathway_genes": 20,
        "batch_size": 128, "trainer": {"max_epochs": 25, "patience": 5, "lr": 3e-3}}
    config: MMGNNConfig
    module_: MMGNNNet

    def __init__(self, config: ModelConfig | dict | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        cell, pathways = cfg.cell_parts()
        parts = [cfg.drug_part(), cell] + ([pathways] if pathways is not None else [])
        views, resources = requirements(*parts)
        # this instance's declarations (the class ones describe the defaults);
        # setattr: the pipeline reads them from the instance (models.requirements)
        setattr(self, "drug_views", views)  # noqa: B010
        setattr(self, "resources", resources)  # noqa: B010

    # ----------------------------------------------------------------- data
    def _cell_inputs(self, data: DrugResponseData, cells: pd.Index
                     ) -> tuple[Tensor, Tensor | None]:
        """(scaled expression of the MLP genes, gene-set scores or None) of ``cells``."""
        expression = data.cell_view("expression")
        x = scale_expression(expression, cells, self.genes_, self.gene_mean_, self.gene_scale_)
        pathways = self.module_.pathways
        s = pathways.prepare(expression.loc[cells]) if pathways is not None else None
        return torch.from_numpy(x.astype(np.float32)), s

    def _fit_parts(self, train: DrugResponseData) -> MMGNNNet:
        cfg = self.config
        expression = train.cell_view("expression")
        cells = pd.Index(pd.unique(train.responses["cell"]))
        self.genes_, self.gene_mean_, self.gene_scale_ = fit_expression_scaling(
            expression, cells, cfg.n_genes)
        scaled = pd.DataFrame(scale_expression(expression, cells, self.genes_, self.gene_mean_,
                                               self.gene_scale_), index=cells, columns=self.genes_)
        torch.manual_seed(cfg.seed)
        drug = cfg.drug_part().fit(train)
        cell, pathways = cfg.cell_parts()
        cell.fit(scaled)
        if pathways is not None:
            pathways.fit(expression.loc[cells], pathways.gene_sets(train))
        return MMGNNNet(drug, cell, pathways, self._shape())

    def _shape(self) -> HeadShape:
        cfg = self.config
        return HeadShape(dim=cfg.dim, heads=cfg.heads, cross_attention=cfg.cross_attention,
                         attention_dropout=cfg.attention_dropout,
                         head_hidden=tuple(cfg.head_hidden), dropout=cfg.dropout)

    # ------------------------------------------------------------------ fit
    def _fit(self, train: DrugResponseData, val: DrugResponseData | None,
             epochs: int | None = None) -> None:
        cfg = self.config
        r = train.responses
        y = r["value"].to_numpy(np.float64)
        finite = np.isfinite(y)
        if not finite.any() and (cfg.score_weight == 0 or r["label"].isna().all()):
            raise DataError("mmgnn: the training pairs have neither values nor labels")
        self.y_mean_ = float(y[finite].mean()) if finite.any() else 0.0
        sd = float(y[finite].std()) if finite.sum() > 1 else 0.0
        self.y_std_ = sd if sd > 0 else 1.0
        self.module_ = self._fit_parts(train)
        v = val.responses if val is not None else r.iloc[:0]
        drugs = list(pd.unique(pd.concat([r["drug"], v["drug"]])))
        index = {d: i for i, d in enumerate(drugs)}
        prepared = self.module_.drug.prepare(train, drugs)  # features only: no responses
        train_pairs = _Pairs(self, train, r, index)
        val_pairs = _Pairs(self, val, v, index) if val is not None else None
        trainer = Trainer(cfg.trainer, seed=cfg.seed)
        task = _MMGNNTask(self.module_, cfg, prepared, train_pairs, val_pairs, trainer.device)
        self.history_ = trainer.fit(task, description=self.name, epochs=epochs)
        self.module_.cpu().eval()

    # -------------------------------------------------------------- predict
    @torch.no_grad()
    def _run(self, data: DrugResponseData, pairs: pd.DataFrame, need_weights: bool = False,
             chunk: int = 2048):
        """Net outputs for ``pairs`` in chunks (eval mode, selected device), on the CPU."""
        device = select_device(self.config.trainer.device)
        net = self.module_.to(device).eval()
        drugs = list(pd.unique(pairs["drug"]))
        prepared = net.drug.prepare(data, drugs).to(device)
        index = {d: i for i, d in enumerate(drugs)}
        outs = []
        for start in range(0, len(pairs), chunk):
            part = _Pairs(self, data, pairs.iloc[start:start + chunk], index).to(device)
            out = net(prepared, part.x, part.s, part.d, need_weights=need_weights)
            outs.append(type(out)(*(t.cpu() if t is not None else None for t in out)))
        net.cpu()
        return outs

    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        """ln IC50 (``value``) and sensitivity probability (``score``) of ``pairs``;
        new cells and drugs are scored from their expression and SMILES."""
        if not len(pairs):
            return pd.DataFrame({"value": [], "score": []}, index=pairs.index)
        outs = self._run(data, pairs[["cell", "drug"]])
        value = torch.cat([o.value for o in outs]).numpy().astype(np.float64)
        logit = torch.cat([o.logit for o in outs])
        return pd.DataFrame({"value": value * self.y_std_ + self.y_mean_,
                             "score": torch.sigmoid(logit).numpy().astype(np.float64)},
                            index=pairs.index)

    def attention(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        """Drug -> cell attention per pair, averaged over heads and the drug's atoms:
        a (pairs x cell tokens) frame whose rows sum to 1 (columns: gene-set names,
        or ``expression`` without pathway tokens). Needs ``cross_attention``."""
        if not self.config.cross_attention:
            raise DataError("mmgnn: cross_attention=false has no attention weights")
        rows = []
        for out in self._run(data, pairs[["cell", "drug"]], need_weights=True):
            assert out.attention is not None and out.drug_mask is not None
            mask = out.drug_mask.unsqueeze(-1).to(out.attention.dtype)
            rows.append((out.attention * mask).sum(1) / mask.sum(1))
        pathways = self.module_.pathways
        columns = list(pathways.sets) if pathways is not None and pathways.sets else [
            "expression"]
        return pd.DataFrame(torch.cat(rows).numpy(), index=pairs.index, columns=columns)

    def explain(self, data: DrugResponseData) -> dict[str, pd.DataFrame]:
        """Atom -> pathway attention per drug (see :mod:`drpkit.models.mmgnn_explain`)."""
        from drpkit.models.mmgnn_explain import pathway_attention_artifacts

        return pathway_attention_artifacts(self, data)

    @property
    def explains_atoms(self) -> bool:
        """Whether :meth:`atom_attention` has per-atom weights to give (molecular graph,
        cross-attention, pathway tokens)."""
        cfg = self.config
        return cfg.drug_encoder == "mol-gnn" and cfg.cross_attention and cfg.pathway_tokens

    def atom_attention(self, data: DrugResponseData, drug: str) -> pd.DataFrame:
        """Atoms x gene sets attention of ``drug`` (see
        :func:`drpkit.models.mmgnn_explain.atom_pathway_attention`)."""
        from drpkit.models.mmgnn_explain import atom_pathway_attention

        return atom_pathway_attention(self, data, drug)

    def input_genes(self) -> dict[str, list[str]]:
        genes = set(map(str, self.genes_))
        pathways = self.module_.pathways
        if pathways is not None:
            genes |= set(pathways.input_genes)
        return {"expression": sorted(genes)}

    # ---------------------------------------------------------- persistence
    def save_state(self, directory: Path) -> None:
        net = self.module_
        parts = {"drug": net.drug.hparams, "cell": net.cell.hparams,
                 "pathways": net.pathways.hparams if net.pathways is not None else None}
        (directory / STATE_FILE).write_text(json.dumps(
            {"parts": parts, "y_mean": self.y_mean_, "y_std": self.y_std_,
             "history": self.history_.to_dict() if hasattr(self, "history_") else None}))
        np.savez(directory / SCALING_FILE, genes=np.asarray(self.genes_, dtype=str),
                 mean=self.gene_mean_, scale=self.gene_scale_)
        save_weights(net, directory)

    def load_state(self, directory: Path) -> None:
        try:
            state = json.loads((directory / STATE_FILE).read_text())
            with np.load(directory / SCALING_FILE, allow_pickle=False) as scaling:
                self.genes_ = scaling["genes"].astype(str)
                self.gene_mean_, self.gene_scale_ = scaling["mean"], scaling["scale"]
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise DataError(f"{directory}: unreadable mmgnn state ({exc})") from None
        parts = state["parts"]
        drug = DrugEncoder.from_hparams(parts["drug"])
        cell = CellEncoder.from_hparams(parts["cell"])
        pathways = CellEncoder.from_hparams(parts["pathways"]) if parts["pathways"] else None
        assert isinstance(drug, DrugEncoder) and isinstance(cell, CellMLP)
        assert pathways is None or isinstance(pathways, PathwayTokens)
        self.module_ = MMGNNNet(drug, cell, pathways, self._shape())
        load_weights(self.module_, directory)
        self.module_.eval()
        self.y_mean_, self.y_std_ = float(state["y_mean"]), float(state["y_std"])
