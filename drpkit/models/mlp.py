"""MLP baseline: expression PCs + fingerprint PCs -> feed-forward regressor.

The smallest torch model in drpkit, and the template of how torch models
use the shared :class:`~drpkit.train.Trainer`: the model builds a
``torch.nn.Module`` and a :class:`TrainingTask`; the trainer owns the loop,
early stopping on validation RMSE, seeds and the device.
"""
from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import nn

from drpkit.data.container import DrugResponseData
from drpkit.models.base import EarlyStoppingModel, register_model
from drpkit.models.classical import BaselineConfig
from drpkit.models.featurize import PairFeaturizer
from drpkit.train import Trainer, TrainerConfig, load_weights, save_weights, select_device


class MLPConfig(BaselineConfig):
    """Hyperparameters of the MLP baseline.

    Attributes:
        hidden: sizes of the hidden layers.
        dropout: dropout after each hidden layer.
        batch_size: training pairs per step.
        trainer: optimisation; early stopping on validation RMSE.
    """

    hidden: list[int] = Field(default_factory=lambda: [512, 256])
    dropout: float = 0.2
    batch_size: int = 1024
    trainer: TrainerConfig = TrainerConfig(max_epochs=100, patience=8, lr=1e-3,
                                           weight_decay=1e-5)


def mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    """Linear-ReLU-Dropout stack ending in a linear layer to ``sizes[-1]``."""
    layers: list[nn.Module] = []
    for d_in, d_out in pairwise(sizes[:-1]):
        layers += [nn.Linear(d_in, d_out), nn.ReLU(), nn.Dropout(dropout)]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class _RegressionTask:
    """Mini-batch MSE on standardised targets; validation RMSE in target units."""

    monitor = "val_rmse"
    mode: Literal["min", "max"] = "min"

    def __init__(self, module, x, y, xv, yv, batch_size, device, y_mean, y_std):
        self.module = module.to(device)
        self.x, self.y = x.to(device), y.to(device)
        self.xv, self.yv = xv.to(device), yv.to(device)  # empty in a refit
        self.batch_size, self.y_mean, self.y_std = batch_size, y_mean, y_std

    def batches(self, epoch, generator):
        order = torch.randperm(len(self.x), generator=generator).to(self.x.device)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.x[idx], self.y[idx]

    def loss(self, batch):
        x, y = batch
        return nn.functional.mse_loss(self.module(x).squeeze(-1), (y - self.y_mean) / self.y_std)

    def validate(self):
        pred = self.module(self.xv).squeeze(-1) * self.y_std + self.y_mean
        return {"val_rmse": float(torch.sqrt(torch.mean((pred - self.yv) ** 2)))}


@register_model
class MLPBaseline(EarlyStoppingModel):
    name = "mlp"
    description = "feed-forward network on expression PCs + fingerprint PCs (early stopping)"
    Config = MLPConfig
    config: MLPConfig
    smoke_config: ClassVar[dict[str, Any]] = {"n_genes": 500, "drug_components": 30, "hidden": [128, 64],
                    "trainer": {"max_epochs": 80, "lr": 3e-3}}
    cell_views = ("expression",)
    drug_views = ("smiles",)
    baseline = True

    def _fit(self, train: DrugResponseData, val: DrugResponseData | None,
             epochs: int | None = None) -> None:
        cfg = self.config
        self.featurizer_ = PairFeaturizer(cfg).fit(train)
        x = torch.from_numpy(self.featurizer_.transform(train, train.responses))
        y = torch.tensor(train.responses["value"].to_numpy(np.float32))
        xv, yv = x[:0], y[:0]
        if val is not None:
            xv = torch.from_numpy(self.featurizer_.transform(val, val.responses))
            yv = torch.tensor(val.responses["value"].to_numpy(np.float32))
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std())
        torch.manual_seed(cfg.seed)
        self.module_ = mlp([x.shape[1], *cfg.hidden, 1], cfg.dropout)
        trainer = Trainer(cfg.trainer, seed=cfg.seed)
        task = _RegressionTask(self.module_, x, y, xv, yv, cfg.batch_size, trainer.device,
                               self.y_mean_, self.y_std_)
        self.history_ = trainer.fit(task, description="mlp", epochs=epochs)
        self.module_.cpu()

    @torch.no_grad()
    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        device = select_device(self.config.trainer.device)
        module = self.module_.to(device).eval()
        x = torch.from_numpy(self.featurizer_.transform(data, pairs)).to(device)
        out = torch.cat([module(chunk) for chunk in x.split(65536)]).squeeze(-1).cpu().numpy()
        return pd.DataFrame({"value": out * self.y_std_ + self.y_mean_}, index=pairs.index)

    def input_genes(self) -> dict[str, list[str]]:
        return {"expression": [str(g) for g in self.featurizer_.genes_]}

    def save_state(self, directory: Path) -> None:
        self.featurizer_.save(directory)
        save_weights(self.module_, directory, {"y_mean": self.y_mean_, "y_std": self.y_std_,
                                               "n_inputs": self.module_[0].in_features})
        (directory / "history.json").write_text(json.dumps(self.history_.to_dict()))

    def load_state(self, directory: Path) -> None:
        self.featurizer_ = PairFeaturizer(self.config).load(directory)
        meta = json.loads((directory / "weights.json").read_text())
        self.module_ = mlp([meta["n_inputs"], *self.config.hidden, 1], self.config.dropout)
        load_weights(self.module_, directory)
        self.module_.eval()
        self.y_mean_, self.y_std_ = meta["y_mean"], meta["y_std"]
