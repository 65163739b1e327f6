"""Tissue-aware naive baselines: the bar a cell-blind comparison needs.

Under a cell-blind split every test cell is new, so ``naive-cell`` and
``naive-additive`` have no cell effect to give and rank cells within a drug
no better than chance. A new cell line's tissue, however, is known metadata,
and tissue explains a good part of drug sensitivity (leukaemia and lymphoma
lines are sensitive to most drugs). These models use it honestly: every mean
comes from training responses only; the tissue of a cell is read from
``data.cell_info["tissue"]`` at fit and at predict time (cells without a
tissue there are of unknown tissue).

* ``naive-tissue``: mean response of the cell's tissue (pairs of all drugs);
  unknown tissue -> global mean.
* ``naive-tissue-drug``: mean response of the (tissue, drug) combination;
  unseen combination -> the drug's mean; unseen drug -> global mean.
* ``naive-effects-tissue``: drevalpy 1.6's mean-effects form, global mean +
  tissue effect + cell residual effect + drug effect. The drug and cell
  effects are those of ``naive-additive`` (same alternating least squares),
  so a training cell is predicted exactly as by ``naive-additive``; its cell
  effect is the tissue effect (the mean cell effect over the tissue's
  training pairs) plus the cell's residual, so it is stored whole. A new
  cell of a known tissue gets the tissue effect; a new cell of unknown or
  unseen tissue gets 0 (the drug's effect alone).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from drpkit.data.container import DrugResponseData
from drpkit.models.base import DRPModel, register_model
from drpkit.models.naive import NaiveConfig, _lookup

STATE_FILE = "tissue_effects.json"
UNKNOWN = ""  # tissue of cells absent from cell_info or with a missing tissue


def cell_tissues(data: DrugResponseData, cells: pd.Series) -> pd.Series:
    """Tissue of each cell (``UNKNOWN`` when the dataset does not say), same index."""
    info = data.cell_info
    if "tissue" not in info or info.empty:
        return pd.Series(UNKNOWN, index=cells.index, dtype=object)
    tissue = info["tissue"].astype(object).where(info["tissue"].notna(), UNKNOWN)
    tissue.index = tissue.index.astype(str)
    tissue = tissue[~tissue.index.duplicated()].astype(str)
    return pd.Series(tissue.reindex(cells.to_numpy()).fillna(UNKNOWN).to_numpy(),
                     index=cells.index, dtype=object)


class _TissueModel(DRPModel):
    Config = NaiveConfig
    config: NaiveConfig
    baseline = True

    def input_genes(self) -> dict[str, list[str]]:
        return {}  # means of responses (and tissue metadata) only

    def save_state(self, directory: Path) -> None:
        (directory / STATE_FILE).write_text(json.dumps(self._state()))

    def load_state(self, directory: Path) -> None:
        self._restore(json.loads((directory / STATE_FILE).read_text()))

    def _state(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _restore(self, state: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def _known(effects: pd.Series) -> pd.Series:
    """Effects without the unknown-tissue group (it must not become a tissue)."""
    return effects.drop(UNKNOWN, errors="ignore")


@register_model
class NaiveTissue(_TissueModel):
    name = "naive-tissue"
    smoke_bar = (0.1, 0.9999)  # tissue effects are small next to drug potency
    description = "mean response of the cell's tissue (global mean for unknown tissues)"

    def fit(self, train: DrugResponseData, val: DrugResponseData | None = None):
        r = train.responses
        self.mean_ = float(r["value"].mean())
        tissue = cell_tissues(train, r["cell"])
        self.tissue_effect_ = _known((r["value"] - self.mean_).groupby(tissue).mean())
        return self

    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        value = self.mean_ + _lookup(self.tissue_effect_, cell_tissues(data, pairs["cell"]))
        return pd.DataFrame({"value": value}, index=pairs.index)

    def _state(self) -> dict:
        return {"mean": self.mean_, "tissue": self.tissue_effect_.to_dict()}

    def _restore(self, state: dict) -> None:
        self.mean_ = float(state["mean"])
        self.tissue_effect_ = pd.Series(state["tissue"], dtype=float)


@register_model
class NaiveTissueDrug(_TissueModel):
    name = "naive-tissue-drug"
    description = ("mean response of the (tissue, drug) combination; unseen combination: "
                   "the drug's mean, then the global mean")

    def fit(self, train: DrugResponseData, val: DrugResponseData | None = None):
        r = train.responses
        self.mean_ = float(r["value"].mean())
        self.drug_mean_ = r["value"].groupby(r["drug"]).mean()
        tissue = cell_tissues(train, r["cell"])
        known = (tissue != UNKNOWN).to_numpy()
        self.cell_drug_mean_ = r["value"][known].groupby(
            [tissue[known].to_numpy(), r["drug"][known].to_numpy()]).mean()
        return self

    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        tissue = cell_tissues(data, pairs["cell"]).to_numpy()
        drug = pairs["drug"].to_numpy(str)
        value = np.full(len(pairs), self.mean_)
        at = self.drug_mean_.index.get_indexer(drug)
        value[at >= 0] = self.drug_mean_.to_numpy()[at[at >= 0]]
        if len(self.cell_drug_mean_):
            at = self.cell_drug_mean_.index.get_indexer(pd.MultiIndex.from_arrays([tissue, drug]))
            value[at >= 0] = self.cell_drug_mean_.to_numpy()[at[at >= 0]]
        return pd.DataFrame({"value": value}, index=pairs.index)

    def _state(self) -> dict:
        combos = [[t, d, float(v)] for (t, d), v in self.cell_drug_mean_.items()]
        return {"mean": self.mean_, "drug": self.drug_mean_.to_dict(), "tissue_drug": combos}

    def _restore(self, state: dict) -> None:
        self.mean_ = float(state["mean"])
        self.drug_mean_ = pd.Series(state["drug"], dtype=float)
        combos = state["tissue_drug"]
        index = pd.MultiIndex.from_tuples([(t, d) for t, d, _ in combos])
        self.cell_drug_mean_ = pd.Series([v for *_, v in combos], index=index, dtype=float)


@register_model
class NaiveEffectsTissue(_TissueModel):
    name = "naive-effects-tissue"
    description = ("global mean + tissue effect + cell residual + drug effect; a new cell "
                   "gets its tissue's effect (drevalpy 1.6's mean-effects form)")

    def fit(self, train: DrugResponseData, val: DrugResponseData | None = None):
        r = train.responses
        self.mean_ = float(r["value"].mean())
        resid = r["value"] - self.mean_
        cell_effect, self.drug_effect_ = pd.Series(dtype=float), pd.Series(dtype=float)
        for _ in range(self.config.n_iterations):  # exactly naive-additive's updates
            self.drug_effect_ = (resid - _lookup(cell_effect, r["cell"])).groupby(r["drug"]).mean()
            cell_effect = (resid - _lookup(self.drug_effect_, r["drug"])).groupby(r["cell"]).mean()
        # tissue effect: mean cell effect over the tissue's training pairs
        per_pair = pd.Series(_lookup(cell_effect, r["cell"]), index=r.index)
        self.tissue_effect_ = _known(per_pair.groupby(cell_tissues(train, r["cell"])).mean())
        self.cell_effect_ = cell_effect  # = tissue effect + the cell's residual effect
        return self

    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        seen = self.cell_effect_.index.get_indexer(pairs["cell"]) >= 0
        cell_part = np.where(seen, _lookup(self.cell_effect_, pairs["cell"]),
                             _lookup(self.tissue_effect_, cell_tissues(data, pairs["cell"])))
        value = self.mean_ + cell_part + _lookup(self.drug_effect_, pairs["drug"])
        return pd.DataFrame({"value": value}, index=pairs.index)

    def _state(self) -> dict:
        return {"mean": self.mean_, "tissue": self.tissue_effect_.to_dict(),
                "cell": self.cell_effect_.to_dict(), "drug": self.drug_effect_.to_dict()}

    def _restore(self, state: dict) -> None:
        self.mean_ = float(state["mean"])
        self.tissue_effect_ = pd.Series(state["tissue"], dtype=float)
        self.cell_effect_ = pd.Series(state["cell"], dtype=float)
        self.drug_effect_ = pd.Series(state["drug"], dtype=float)
