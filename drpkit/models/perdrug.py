"""Per-drug models: one regression of the response on cell features per drug.

The classic strong baseline for new cell lines. A cell is encoded by its
expression (the ``n_genes`` most variable genes among *training* cells,
z-scored with training statistics, projected on ``cell_components``
principal components fitted on the training cells: :class:`CellEncoder`);
each training drug gets its own model fitted on the cells it was screened on.
A drug with fewer than ``min_pairs`` training pairs gets no model: it
predicts its training mean.

Drugs absent from training (drug-blind and disjoint splits) are predicted by
structure: the similarity-weighted mean, for that cell, of the predictions of
the ``k_drugs`` training drugs most Tanimoto-similar to it (binary
fingerprints, ``drug_fingerprint``; weights = similarities). When no
training drug shares a bit with it, or either side has no fingerprint, the
plain mean of every training drug's prediction for the cell is used. For a
cell seen in training (drug-blind splits) its *cell effect* is added: the
mean residual of its training responses under the drug models (out-of-bag
for forests), the part of its general sensitivity that its expression does
not explain (``new_drug_cell_effect``). On GDSC2 drug-blind validation
parts (folds 0 and 1) it raised per-drug ridge's within-drug PCC from 0.47 / 0.53
to 0.61 / 0.67; without it the new-drug path ranks seen cells worse than
``naive-additive``'s cell mean does.

A GDSC2 cell-blind fold (about 150,000 training pairs, 228 drugs) fits in
about 1 s (ridge, elastic net) or 70 s (forest) on one core.

* ``per-drug-ridge``: closed form for a whole penalty grid at once (one
  eigen-decomposition of the centred Gram matrix per drug);
* ``per-drug-elastic-net``: scikit-learn's ``enet_path`` per drug;
* ``per-drug-rf``: a random forest per drug (no validation choice;
  :mod:`drpkit.models.perdrug_forest`).

The linear models choose the penalty per drug on its validation pairs (RMSE)
when it has at least ``min_val_pairs`` of them, and otherwise take the
penalty with the lowest error summed over *all* validation pairs (pairs of
drugs absent from training count through their neighbours' predictions, so
drug-blind validation can choose too). Without a validation part they use
``default_alpha``. State is saved as arrays (``.npz``); forests with skops.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
from pydantic import Field

from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.models.base import DRPModel, ModelConfig, register_model
from drpkit.models.featurize import CellEncoder

STATE_FILE = "perdrug.npz"


class PerDrugConfig(ModelConfig):
    """Settings shared by the per-drug models.

    Attributes:
        n_genes: keep the most variable genes among training cells (None: all).
        cell_components: principal components of the z-scored expression
            (fitted on training cells) that every drug model reads.
        min_pairs: drugs with fewer training pairs get no model and predict
            their training mean.
        k_drugs: a drug absent from training is predicted as the
            similarity-weighted mean of its k most Tanimoto-similar training drugs.
        drug_fingerprint: binary fingerprint (drug view) for that similarity.
        new_drug_cell_effect: for a new drug and a cell seen in training, add the
            cell's mean residual over its training pairs (out-of-bag for forests).
    """

    n_genes: int | None = 2000
    cell_components: int = 100
    min_pairs: int = 10
    k_drugs: int = 5
    drug_fingerprint: str = "morgan"
    new_drug_cell_effect: bool = True


def tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Tanimoto similarities of binary fingerprint rows (0 if both empty)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


class _PerDrugModel(DRPModel):
    """Shared plumbing: cell encoding, per-drug grouping, new-drug neighbours."""

    Config = PerDrugConfig
    config: PerDrugConfig
    smoke_config: ClassVar[dict[str, Any]] = {"n_genes": 500, "cell_components": 20}
    baseline = True
    cell_views = ("expression",)
    drug_views = ("smiles",)

    # --------------------------------------------------------------- fitting
    def fit(self, train: DrugResponseData, val: DrugResponseData | None = None):
        cfg = self.config
        self.encoder_ = CellEncoder(cfg).fit(train)
        r = train.responses
        cells, cell_pos = np.unique(r["cell"].to_numpy(str), return_inverse=True)
        x = self.encoder_.encode_cells(train, cells, np.float64)
        drugs, drug_pos = np.unique(r["drug"].to_numpy(str), return_inverse=True)
        y = r["value"].to_numpy(np.float64)
        counts = np.bincount(drug_pos, minlength=len(drugs))
        self.drugs_ = drugs
        self.n_pairs_ = counts
        self.drug_mean_ = np.bincount(drug_pos, y, minlength=len(drugs)) / counts
        self.has_model_ = counts >= cfg.min_pairs
        order = np.argsort(drug_pos, kind="stable")
        groups = np.split(order, np.cumsum(counts)[:-1])  # training rows of each drug
        self._fit_fingerprints(train)
        self.cells_, self.cell_effect_ = cells, np.zeros(len(cells))
        fit = _Training(x, cell_pos, drug_pos, y, groups)
        self._fit_drugs(fit, val)
        if cfg.new_drug_cell_effect:
            self.cell_effect_ = self._cell_effects(fit, self._fitted_values(fit))
        return self

    @staticmethod
    def _cell_effects(fit: _Training, fitted: np.ndarray) -> np.ndarray:
        """Mean residual of each training cell over its training pairs."""
        return np.bincount(fit.cell_pos, fit.y - fitted) / np.bincount(fit.cell_pos)

    def _fitted_values(self, fit: _Training) -> np.ndarray:
        """The drug models' predictions for the training pairs."""
        return self._evaluate(fit.x, fit.cell_pos, fit.drug_pos)

    def _fit_fingerprints(self, train: DrugResponseData) -> None:
        """Fingerprints of the training drugs, kept for the new-drug neighbours."""
        fp = _fingerprints(train, self.config.drug_fingerprint, self.drugs_)
        if fp is None:
            self.fp_bits_, self.fp_model_ = np.zeros((0, 0), bool), np.zeros(0, int)
            return
        self.fp_model_ = np.searchsorted(self.drugs_, fp.index.to_numpy(str))
        self.fp_bits_ = fp.to_numpy() > 0

    def _fit_drugs(self, fit: _Training, val) -> None:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------ prediction
    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        plan = self._plan(data, pairs)
        value = self._combine(plan, self._evaluate, self.cell_effect_)
        return pd.DataFrame({"value": value}, index=pairs.index)

    def _plan(self, data: DrugResponseData, pairs: pd.DataFrame):
        """Encoded cells plus one row per (pair, drug model) to evaluate, with weights.

        A pair of a training drug is one row (weight 1); a pair of a new drug is
        one row per neighbour drug, weighted by normalised similarity, and gets
        the cell effect of its cell when that cell was seen in training.
        """
        cells, cell_pos = np.unique(pairs["cell"].to_numpy(str), return_inverse=True)
        x = self.encoder_.encode_cells(data, cells, np.float64)
        drugs, drug_pos = np.unique(pairs["drug"].to_numpy(str), return_inverse=True)
        model = pd.Index(self.drugs_).get_indexer(drugs)
        known = model[drug_pos] >= 0
        rows = [np.flatnonzero(known)]
        models, weights = [model[drug_pos[known]]], [np.ones(int(known.sum()))]
        new = np.flatnonzero(model < 0)
        if len(new):
            pair_order = np.argsort(drug_pos, kind="stable")
            bounds = np.searchsorted(drug_pos[pair_order], [new, new + 1])
            for i, (idx, w) in enumerate(self._neighbours(data, drugs[new])):
                members = pair_order[bounds[0, i]:bounds[1, i]]
                rows.append(np.repeat(members, len(idx)))
                models.append(np.tile(idx, len(members)))
                weights.append(np.tile(w, len(members)))
        row = np.concatenate(rows)
        seen = pd.Index(self.cells_).get_indexer(cells)[cell_pos]
        seen[known] = -1  # the cell effect is for new drugs only
        return x, cell_pos[row], np.concatenate(models), np.concatenate(weights), row, seen

    @staticmethod
    def _combine(plan, evaluate, cell_effect: np.ndarray) -> np.ndarray:
        x, row_cell, row_model, row_weight, row_pair, seen = plan
        values = evaluate(x, row_cell, row_model)
        out = np.bincount(row_pair, row_weight * values, minlength=len(seen))
        return out + np.where(seen >= 0, cell_effect[seen], 0.0)

    def _neighbours(self, data: DrugResponseData, drugs: np.ndarray):
        """(model indices, weights summing to 1) of each new drug's neighbours."""
        everyone = (np.arange(len(self.drugs_)), np.full(len(self.drugs_), 1 / len(self.drugs_)))
        fp = _fingerprints(data, self.config.drug_fingerprint, drugs)
        if fp is not None and len(self.fp_model_) and fp.shape[1] != self.fp_bits_.shape[1]:
            raise DataError(f"{self.config.drug_fingerprint} fingerprints have {fp.shape[1]} "
                            f"bits here but {self.fp_bits_.shape[1]} in training")
        out = []
        sims = (tanimoto(fp.to_numpy() > 0, self.fp_bits_)
                if fp is not None and len(self.fp_model_) else None)
        for drug in drugs:
            # sims is None unless fp is not None (the fp test only tells the type checker)
            at = -1 if sims is None or fp is None else fp.index.get_indexer([drug])[0]
            if sims is None or at < 0 or sims[at].max() <= 0:
                out.append(everyone)
                continue
            top = np.argsort(-sims[at], kind="stable")[:self.config.k_drugs]
            w = sims[at, top]
            out.append((self.fp_model_[top], w / w.sum()))
        return out

    def _evaluate(self, x, row_cell, row_model) -> np.ndarray:  # pragma: no cover
        """Prediction of drug model ``row_model[i]`` for cell ``x[row_cell[i]]``."""
        raise NotImplementedError

    def input_genes(self) -> dict[str, list[str]]:
        return {"expression": [str(g) for g in self.encoder_.genes_]}

    # ----------------------------------------------------------- persistence
    _ARRAYS: tuple[str, ...] = ("drugs_", "n_pairs_", "drug_mean_", "has_model_", "fp_model_",
                                "cells_", "cell_effect_")

    def save_state(self, directory: Path) -> None:
        self.encoder_.save(directory)
        arrays = {k: getattr(self, k) for k in self._ARRAYS}
        np.savez(directory / STATE_FILE, fp_packed=np.packbits(self.fp_bits_, axis=1),
                 fp_width=self.fp_bits_.shape[1], **arrays)

    def load_state(self, directory: Path) -> None:
        self.encoder_ = CellEncoder(self.config).load(directory)
        with np.load(directory / STATE_FILE, allow_pickle=False) as state:
            for key in self._ARRAYS:
                setattr(self, key, state[key])
            width = int(state["fp_width"])
            self.fp_bits_ = np.unpackbits(state["fp_packed"], axis=1, count=width).astype(bool)


class _Training(NamedTuple):
    """A training part as arrays: encoded cells, each pair's cell and drug index,
    responses, and the pair rows of each drug."""

    x: np.ndarray
    cell_pos: np.ndarray
    drug_pos: np.ndarray
    y: np.ndarray
    groups: list[np.ndarray]


def _fingerprints(data: DrugResponseData, view: str, drugs: np.ndarray) -> pd.DataFrame | None:
    """Fingerprint rows of those ``drugs`` that have one (None when the dataset has none)."""
    try:
        fp = data.drug_view(view)
    except DataError:
        return None
    return fp.loc[fp.index.intersection(pd.Index(drugs))]


# ---------------------------------------------------------------- linear models
class LinearPerDrugConfig(PerDrugConfig):
    """Penalty choice of the per-drug linear models.

    Attributes:
        alphas: penalty grid searched on the validation part (``default_alpha``
            is added to it).
        default_alpha: the penalty used when there is no validation part.
        min_val_pairs: a drug with at least this many validation pairs gets its
            own penalty; the others take the one best over all validation pairs.
    """

    alphas: list[float] = Field(default_factory=lambda: [float(a) for a in
                                                         np.logspace(1, 6, 11)])
    # the penalty with the lowest summed validation RMSE on GDSC2 cell-blind fold 0
    default_alpha: float = 10 ** 3.5
    min_val_pairs: int = 10


class _LinearPerDrug(_PerDrugModel):
    """Per-drug linear models: coefficient paths over a penalty grid, chosen on validation."""

    Config = LinearPerDrugConfig
    config: LinearPerDrugConfig

    def _grid(self) -> np.ndarray:
        return np.unique(np.asarray([*self.config.alphas, self.config.default_alpha], float))

    def _paths(self, xc: np.ndarray, yc: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """(len(grid), p) coefficients for centred features and responses of one drug."""
        raise NotImplementedError  # pragma: no cover

    def _fit_drugs(self, fit: _Training, val) -> None:
        grid = self._grid()
        x, cell_pos, y, groups = fit.x, fit.cell_pos, fit.y, fit.groups
        n_drugs, p = len(self.drugs_), x.shape[1]
        coef = np.zeros((len(grid), n_drugs, p))
        intercept = np.tile(self.drug_mean_, (len(grid), 1))
        for d in np.flatnonzero(self.has_model_):
            xd, yd = x[cell_pos[groups[d]]], y[groups[d]]
            x_mean, y_mean = xd.mean(0), yd.mean()
            coef[:, d] = self._paths(xd - x_mean, yd - y_mean, grid)
            intercept[:, d] = y_mean - coef[:, d] @ x_mean
        choice = self._choose(coef, intercept, grid, fit, val)
        self.coef_ = coef[choice, np.arange(n_drugs)]
        self.intercept_ = intercept[choice, np.arange(n_drugs)]
        self.alpha_ = np.where(self.has_model_, grid[choice], np.nan)

    def _choose(self, coef, intercept, grid, fit: _Training, val) -> np.ndarray:
        """Index into ``grid`` of each drug's penalty (see the module docstring)."""
        n_drugs = coef.shape[1]
        self.val_rmse_by_alpha_ = {}
        if val is None or not len(val.responses):
            return np.full(n_drugs, int(np.searchsorted(grid, self.config.default_alpha)))
        r = val.responses
        plan = self._plan(val, r[["cell", "drug"]])
        y = r["value"].to_numpy(np.float64)
        errors = np.stack([(self._val_predictions(plan, fit, coef[a], intercept[a]) - y) ** 2
                           for a in range(len(grid))], axis=1)
        total = errors.sum(0)
        self.val_rmse_by_alpha_ = dict(zip(grid.tolist(), np.sqrt(total / len(y)).tolist(),
                                           strict=True))
        choice = np.full(n_drugs, int(np.argmin(total)))
        model = pd.Index(self.drugs_).get_indexer(r["drug"].to_numpy(str))
        seen = model >= 0
        n_val = np.bincount(model[seen], minlength=n_drugs)
        per_drug = np.stack([np.bincount(model[seen], errors[seen, a], minlength=n_drugs)
                             for a in range(len(grid))], axis=1)
        own = n_val >= self.config.min_val_pairs
        choice[own] = np.argmin(per_drug[own], axis=1)
        return choice

    def _val_predictions(self, plan, fit: _Training, coef, intercept) -> np.ndarray:
        """Predictions of validation pairs with one penalty for every drug."""
        evaluate = self._linear(coef, intercept)
        effect = self.cell_effect_
        if self.config.new_drug_cell_effect:
            effect = self._cell_effects(fit, evaluate(fit.x, fit.cell_pos, fit.drug_pos))
        return self._combine(plan, evaluate, effect)

    @staticmethod
    def _linear(coef: np.ndarray, intercept: np.ndarray):
        def evaluate(x, row_cell, row_model):
            return (x @ coef.T + intercept)[row_cell, row_model]
        return evaluate

    def _evaluate(self, x, row_cell, row_model) -> np.ndarray:
        return self._linear(self.coef_, self.intercept_)(x, row_cell, row_model)

    _ARRAYS = (*_PerDrugModel._ARRAYS, "coef_", "intercept_", "alpha_")


@register_model
class PerDrugRidge(_LinearPerDrug):
    """Ridge per drug; the whole penalty grid comes from one eigen-decomposition."""

    name = "per-drug-ridge"
    description = ("one ridge regression per drug on expression PCs (penalty per drug on "
                   "validation); new drugs: similar training drugs + cell effect")

    def _paths(self, xc, yc, grid):
        # Xc'Xc = V diag(lam) V'  =>  coef(alpha) = V diag(1 / (lam + alpha)) V'Xc'yc
        lam, vec = np.linalg.eigh(xc.T @ xc)
        proj = vec.T @ (xc.T @ yc)
        return (proj[None, :] / (np.clip(lam, 0, None)[None, :] + grid[:, None])) @ vec.T


class ElasticNetPerDrugConfig(LinearPerDrugConfig):
    """Elastic net per drug (scikit-learn's per-sample penalty scale).

    Attributes:
        l1_ratio: the L1 share of the penalty.
        max_iter: coordinate descent sweeps per penalty.
    """

    alphas: list[float] = Field(default_factory=lambda: [float(a) for a in
                                                         np.logspace(-3, 1, 9)])
    default_alpha: float = 0.1  # lowest summed validation RMSE, GDSC2 cell-blind fold 0
    l1_ratio: float = 0.5
    max_iter: int = 2000


@register_model
class PerDrugElasticNet(_LinearPerDrug):
    """Elastic net per drug along a warm-started penalty path (``enet_path``)."""

    name = "per-drug-elastic-net"
    description = ("one elastic net per drug on expression PCs (penalty per drug on "
                   "validation); new drugs: similar training drugs + cell effect")
    Config = ElasticNetPerDrugConfig
    config: ElasticNetPerDrugConfig

    def _paths(self, xc, yc, grid):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import enet_path

        descending = grid[::-1]
        with warnings.catch_warnings():
            # the least penalised end may stop at max_iter; its coefficients
            # are still usable and validation decides whether they are chosen
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, coefs, _ = enet_path(xc, yc, l1_ratio=self.config.l1_ratio, alphas=descending,
                                    max_iter=self.config.max_iter)
        return coefs.T[::-1]
