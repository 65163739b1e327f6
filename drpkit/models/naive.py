"""Naive mean baselines: global, per drug, per cell, drug + cell additive effects.

They set the bar every learned model must clear. Under random and
cell-blind splits a per-drug mean already correlates ~0.85 with GDSC ln IC50:
a model that does not beat it *within drugs* has learned nothing about cells.
Unseen cells or drugs fall back to the global mean (zero effect).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from drpkit.data.container import DrugResponseData
from drpkit.models.base import DRPModel, ModelConfig, register_model

STATE_FILE = "effects.json"


class NaiveConfig(ModelConfig):
    """Config of the naive baselines.

    Attributes:
        n_iterations: alternating least-squares updates of the additive models.
    """

    n_iterations: int = 10


def _lookup(effects: pd.Series, ids: pd.Series) -> np.ndarray:
    """Effect of each id (0 for ids never seen in training), by hash lookup."""
    if effects.empty:
        return np.zeros(len(ids))
    position = effects.index.get_indexer(ids)
    return np.where(position >= 0, effects.to_numpy()[position], 0.0)


class _NaiveModel(DRPModel):
    Config = NaiveConfig
    config: NaiveConfig
    baseline = True
    use_cell: bool = False
    use_drug: bool = False

    def fit(self, train: DrugResponseData, val: DrugResponseData | None = None):
        r = train.responses
        self.mean_ = float(r["value"].mean())
        self.cell_effect_ = pd.Series(dtype=float)
        self.drug_effect_ = pd.Series(dtype=float)
        resid = r["value"] - self.mean_
        n_iter = self.config.n_iterations if (self.use_cell and self.use_drug) else 1
        for _ in range(n_iter):
            if self.use_drug:
                cell_part = _lookup(self.cell_effect_, r["cell"])
                self.drug_effect_ = (resid - cell_part).groupby(r["drug"]).mean()
            if self.use_cell:
                drug_part = _lookup(self.drug_effect_, r["drug"])
                self.cell_effect_ = (resid - drug_part).groupby(r["cell"]).mean()
        return self

    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        value = (self.mean_ + _lookup(self.cell_effect_, pairs["cell"])
                 + _lookup(self.drug_effect_, pairs["drug"]))
        return pd.DataFrame({"value": value}, index=pairs.index)

    def input_genes(self) -> dict[str, list[str]]:
        return {}  # means of responses only

    def save_state(self, directory: Path) -> None:
        state = {"mean": self.mean_, "cell": self.cell_effect_.to_dict(),
                 "drug": self.drug_effect_.to_dict()}
        (directory / STATE_FILE).write_text(json.dumps(state))

    def load_state(self, directory: Path) -> None:
        state = json.loads((directory / STATE_FILE).read_text())
        self.mean_ = float(state["mean"])
        self.cell_effect_ = pd.Series(state["cell"], dtype=float)
        self.drug_effect_ = pd.Series(state["drug"], dtype=float)


@register_model
class NaiveGlobal(_NaiveModel):
    name = "naive-global"
    smoke_bar = (0.0, 1.0)  # a constant: PCC 0, the RMSE every bar is measured against
    description = "global mean of the training responses"


@register_model
class NaiveDrug(_NaiveModel):
    name = "naive-drug"
    description = "per-drug mean (global mean for unseen drugs)"
    use_drug = True


@register_model
class NaiveCell(_NaiveModel):
    name = "naive-cell"
    smoke_bar = (0.1, 0.9999)  # cell effects are small next to drug potency
    description = "per-cell mean (global mean for unseen cells)"
    use_cell = True


@register_model
class NaiveAdditive(_NaiveModel):
    name = "naive-additive"
    description = "global mean + drug effect + cell effect (alternating least squares)"
    use_cell = True
    use_drug = True
