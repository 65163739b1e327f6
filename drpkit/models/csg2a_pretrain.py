"""Pretraining CSG2A's block on LINCS L1000 perturbations, and its checkpoints.

``pretrain`` fits the block of :mod:`drpkit.nn.csg2a_net` to predict a treated
profile from the basal profile of its batch (mean DMSO control), the compound's
structure, dose and time (MSE on robust z-scores), as the paper does on LINCS
phase 1; the shared trainer stops early on a seeded 10% of the treatments.

A checkpoint is a directory: ``csg2a_pretrained.json`` (format tag, genes,
structure encoder settings, ``hidden``, ``form``, ``ppi``, the LINCS robust
z-score statistics, counts and training history) and ``weights.safetensors``
(the block's weights, the PPI prior included). Loading reads JSON and tensors
only, so a checkpoint from elsewhere never runs code. It is written atomically:
an interrupted run leaves no half-written checkpoint.

The same checkpoint serves every fold of a benchmark (``-p csg2a:pretrained=PATH``):
it is computed once, from LINCS profiles that carry no IC50.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from drpkit.atomic import atomic_new_directory
from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.nn.csg2a_net import ConditionEncoder, CSG2ABlock
from drpkit.nn.encoders import DrugEncoder, build_drug_encoder, requirements
from drpkit.train import Trainer, TrainerConfig, load_weights, save_weights

META_FILE = "csg2a_pretrained.json"
FORMAT = "drpkit-csg2a-pretrained/1"


def build_block(data: DrugResponseData, genes: list[str], drug: DrugEncoder, hidden: int,
                form: str, ppi: str, dropout: float) -> CSG2ABlock:
    """A fresh block over ``genes`` whose structure encoder is fitted on ``data``'s
    drug views and whose prior is the ``ppi`` resource among ``genes``."""
    from drpkit.models.csg2a import ppi_prior

    drug.fit(data)
    return CSG2ABlock(ConditionEncoder(drug, len(genes), dropout), len(genes), hidden, form,
                      ppi_prior(data, genes, ppi), dropout)


def empty_block(drug_hparams: dict, n_genes: int, hidden: int, form: str,
                dropout: float) -> CSG2ABlock:
    """A block of the given shape to load saved weights into (prior included)."""
    drug = DrugEncoder.from_hparams(drug_hparams)
    assert isinstance(drug, DrugEncoder)
    return CSG2ABlock(ConditionEncoder(drug, n_genes, dropout), n_genes, hidden, form, None,
                      dropout)


def read_checkpoint_meta(directory: Path) -> dict[str, Any]:
    """The JSON half of a checkpoint; DataError naming the path if it is not one."""
    path = directory / META_FILE
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{directory}: not a csg2a checkpoint (no {META_FILE}); make one "
                        "with `drpkit pretrain csg2a`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable csg2a checkpoint ({exc})") from None
    keys = {"format", "genes", "drug", "hidden", "form", "ppi", "dropout"}
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not keys <= set(meta):
        raise DataError(f"{path}: not a {FORMAT} checkpoint (missing "
                        f"{sorted(keys - set(meta)) if isinstance(meta, dict) else 'fields'})")
    return meta


def load_block(directory: Path) -> tuple[CSG2ABlock, dict[str, Any]]:
    """The pretrained block and its metadata (the structure encoder's fitted sizes
    come from the checkpoint too)."""
    meta = read_checkpoint_meta(directory)
    block = empty_block(meta["drug"], len(meta["genes"]), int(meta["hidden"]), meta["form"],
                        float(meta["dropout"]))
    try:
        load_weights(block, directory)
    except RuntimeError as exc:  # shapes that do not match the JSON
        raise DataError(f"{directory}: weights do not match {META_FILE} ({exc})") from None
    return block, meta


class PretrainConfig(BaseModel):
    """Settings of ``drpkit pretrain csg2a`` (see :class:`~drpkit.models.csg2a.CSG2AConfig`
    for the block's; these must match what fine-tuning expects)."""

    model_config = ConfigDict(extra="forbid")
    drug_encoder: Literal["mol-encoder", "mol-gnn", "fingerprint-mlp"] = "mol-encoder"
    drug_settings: dict[str, Any] = Field(default_factory=dict)
    drug_dim: int = Field(default=256, ge=1)
    hidden: int = Field(default=64, ge=1)
    form: Literal["gene-to-gene", "gene-wise", "linear"] = "gene-to-gene"
    ppi: Literal["csg2a", "string-mossn", "union", "none"] = "csg2a"
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    batch_size: int = Field(default=128, ge=2)
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    seed: int = 0
    trainer: TrainerConfig = TrainerConfig(max_epochs=100, patience=10, lr=1e-3,
                                           weight_decay=1e-5, grad_clip=5.0)


class _PretrainTask:
    """MSE on the treated profiles' robust z-scores; validation on held-out treatments."""

    monitor = "val_loss"
    mode: Literal["min", "max"] = "min"

    def __init__(self, block: CSG2ABlock, drugs: Any, tensors: dict[str, Tensor],
                 train: Tensor, val: Tensor, batch_size: int) -> None:
        self.module, self.drugs, self.t = block, drugs, tensors
        self.train, self.val, self.batch_size = train, val, batch_size

    def _loss(self, rows: Tensor, reduction: str = "mean") -> Tensor:
        from drpkit.models.csg2a import encode_drugs

        t = self.t
        vectors = encode_drugs(self.module.condition.drug, self.drugs, t["drug"][rows])
        pred, _ = self.module(t["basal"][t["group"][rows]], vectors, t["dose"][rows],
                              t["time"][rows])
        return F.mse_loss(pred, t["perturbed"][rows], reduction=reduction)

    def batches(self, epoch: int, generator: torch.Generator):
        order = self.train[torch.randperm(len(self.train), generator=generator)]
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            if len(rows) > 1:
                yield rows

    def loss(self, batch: Tensor) -> Tensor:
        return self._loss(batch)

    def validate(self) -> dict[str, float]:
        total = sum(float(self._loss(rows, "sum")) for rows in self.val.split(2048))
        return {"val_loss": total / max(len(self.val) * self.t["perturbed"].shape[1], 1)}


def pretrain(lincs: Any, out: str | Path, config: PretrainConfig | None = None,
             replace: bool = False) -> dict[str, Any]:
    """Fit a block on ``lincs`` (a :class:`drpkit.data.lincs.PerturbationSet`) and
    write the checkpoint directory ``out``; returns its metadata."""
    from drpkit.models.csg2a import robust_scaling
    from drpkit.resources import RESOURCES

    cfg = config or PretrainConfig()
    genes = [str(g) for g in lincs.genes]
    drugs = sorted(set(map(str, lincs.drug)))
    drug = build_drug_encoder(cfg.drug_encoder, {"dim": cfg.drug_dim, "dropout": cfg.dropout,
                                                 **cfg.drug_settings})
    _, resources = requirements(drug)
    names = tuple(dict.fromkeys(resources + (("ppi",) if cfg.ppi != "none" else ())))
    data = DrugResponseData(
        name="lincs", measure="perturbed_expression", sensitive_if="low",
        responses=pd.DataFrame({"cell": pd.Series(dtype=str), "drug": pd.Series(dtype=str),
                                "value": pd.Series(dtype=float)}),
        smiles=pd.Series({d: lincs.smiles[d] for d in drugs}, dtype=str),
        resources={name: RESOURCES.get(name) for name in names})
    torch.manual_seed(cfg.seed)
    block = build_block(data, genes, drug, cfg.hidden, cfg.form, cfg.ppi, cfg.dropout)
    median, scale = robust_scaling(np.vstack([lincs.basal, lincs.perturbed]))

    def z(x: np.ndarray) -> Tensor:
        return torch.tensor((x - median) / scale, dtype=torch.float32)

    index = {d: i for i, d in enumerate(drugs)}
    tensors = {"basal": z(lincs.basal), "perturbed": z(lincs.perturbed),
               "group": torch.as_tensor(np.asarray(lincs.group), dtype=torch.long),
               "drug": torch.tensor([index[str(d)] for d in lincs.drug], dtype=torch.long),
               "dose": torch.tensor(np.asarray(lincs.dose_um), dtype=torch.float32),
               "time": torch.tensor(np.asarray(lincs.time_h), dtype=torch.float32)}
    n = len(tensors["drug"])
    if n < 4:
        raise DataError(f"LINCS pretraining needs at least 4 treated profiles, got {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
    n_val = max(1, round(cfg.val_fraction * n))
    trainer = Trainer(cfg.trainer, seed=cfg.seed)
    prepared = drug.prepare(data, drugs)
    task = _PretrainTask(block.to(trainer.device), prepared.to(trainer.device),
                         {k: v.to(trainer.device) for k, v in tensors.items()},
                         order[n_val:].to(trainer.device), order[:n_val].to(trainer.device),
                         cfg.batch_size)
    history = trainer.fit(task, description="csg2a pretraining")
    block.cpu().eval()
    meta = {"format": FORMAT, "genes": genes, "drug": drug.hparams, "hidden": cfg.hidden,
            "form": cfg.form, "ppi": cfg.ppi, "dropout": cfg.dropout,
            "lincs_median": median.tolist(), "lincs_scale": scale.tolist(),
            "counts": {"treatments": n, "validation": n_val, "compounds": len(drugs),
                       "basal_groups": len(lincs.basal), "genes": len(genes)},
            "summary": {k: int(v) for k, v in dict(lincs.summary).items()},
            "best_val_mse": history.best_score, "epochs": history.epochs_run,
            "history": history.to_dict(), "config": cfg.model_dump(mode="json")}
    with atomic_new_directory(out, replace=replace) as tmp:
        save_weights(block, tmp)
        (tmp / META_FILE).write_text(json.dumps(meta))
    return meta
