"""``per-drug-rf``: a random forest per drug on expression PCs.

Everything but the learner is shared with the per-drug linear models
(:mod:`drpkit.models.perdrug`: cell encoding, drug-mean fallback, new drugs
from their most similar training drugs plus the cell effect). A forest has no
data-driven choice, so the validation part is not read. The cell effect of a
seen cell uses out-of-bag predictions: in-bag ones nearly reproduce the
training responses and would shrink it. Forests are saved with skops: with
the defaults, a model fitted on a GDSC2 fold (228 drugs x 100 trees) is
~500 MB and takes ~3 min to save, ~35 s to load, on one core.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from drpkit.errors import DataError
from drpkit.models.base import register_model
from drpkit.models.perdrug import PerDrugConfig, _PerDrugModel, _Training


def _rows_by_model(row_model: np.ndarray, n_models: int):
    """Row indices grouped by drug model: yields (model, rows)."""
    order = np.argsort(row_model, kind="stable")
    bounds = np.searchsorted(row_model[order], np.arange(n_models + 1))
    for m in range(n_models):
        if bounds[m + 1] > bounds[m]:
            yield m, order[bounds[m]:bounds[m + 1]]


class ForestPerDrugConfig(PerDrugConfig):
    """Random forest per drug (no validation choice: the part is not read).

    Attributes:
        n_estimators: trees per drug.
        max_features: share of the components tried at each split.
        min_samples_leaf: smallest leaf.
        max_samples: share of the drug's training pairs drawn for each tree
            (None = as many as there are).
        n_jobs: processes each forest fits and predicts with.
    """

    n_estimators: int = 100
    max_features: float = 0.3
    min_samples_leaf: int = 5
    # 0.5 halves the fit time of None (~60 s instead of ~120 s per GDSC2 fold on
    # one core) at equal validation within-drug PCC (cell-blind fold 0: 0.515 vs 0.513)
    max_samples: float | None = 0.5
    n_jobs: int = 1


@register_model
class PerDrugForest(_PerDrugModel):
    """A random forest per drug; ``val`` is not used (no data-driven choice)."""

    name = "per-drug-rf"
    description = ("one random forest per drug on expression PCs; new drugs: "
                   "similar training drugs + cell effect")
    Config = ForestPerDrugConfig
    config: ForestPerDrugConfig
    smoke_config: ClassVar[dict[str, Any]] = {"n_genes": 500, "cell_components": 20, "n_estimators": 20}

    def _fit_drugs(self, fit: _Training, val) -> None:
        from sklearn.ensemble import RandomForestRegressor

        cfg = self.config
        self.forests_ = {}
        self._oob = self.drug_mean_[fit.drug_pos].astype(np.float64)
        for d in np.flatnonzero(self.has_model_):
            rows = fit.groups[d]
            xd = fit.x[fit.cell_pos[rows]]
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Some inputs do not have OOB scores")
                forest = RandomForestRegressor(
                    n_estimators=cfg.n_estimators, max_features=cfg.max_features,
                    min_samples_leaf=cfg.min_samples_leaf, max_samples=cfg.max_samples,
                    oob_score=cfg.new_drug_cell_effect, n_jobs=cfg.n_jobs,
                    random_state=cfg.seed + int(d)).fit(xd, fit.y[rows])
            if cfg.new_drug_cell_effect:
                oob = forest.oob_prediction_
                never = oob == 0.0  # sklearn's value for a pair in every tree's sample
                self._oob[rows] = np.where(never, forest.predict(xd) if never.any() else 0, oob)
                del forest.oob_prediction_, forest.oob_score_  # not part of the saved state
            self.forests_[int(d)] = forest

    def _fitted_values(self, fit: _Training) -> np.ndarray:
        """Out-of-bag predictions: in-bag ones nearly reproduce the responses."""
        oob, self._oob = self._oob, None
        return oob

    def _evaluate(self, x, row_cell, row_model) -> np.ndarray:
        values = self.drug_mean_[row_model].astype(np.float64)
        for m, rows in _rows_by_model(row_model, len(self.drugs_)):
            forest = self.forests_.get(m)
            if forest is not None:
                cells, back = np.unique(row_cell[rows], return_inverse=True)
                values[rows] = forest.predict(x[cells])[back]
        return values

    def save_state(self, directory: Path) -> None:
        import skops.io as sio

        super().save_state(directory)
        sio.dump([self.forests_[d] for d in sorted(self.forests_)], directory / "forests.skops")

    def load_state(self, directory: Path) -> None:
        import skops.io as sio

        super().load_state(directory)
        path = directory / "forests.skops"
        trusted = sio.get_untrusted_types(file=path)
        unexpected = [t for t in trusted if not t.startswith(("sklearn.", "numpy."))]
        if unexpected:
            raise DataError(f"{path}: refusing unexpected types {unexpected}")
        forests = sio.load(path, trusted=trusted)
        self.forests_ = dict(zip(np.flatnonzero(self.has_model_).tolist(), forests, strict=True))
