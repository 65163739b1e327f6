"""Classical baselines on expression + drug fingerprint features.

Ridge and elastic net pick their penalty on the validation part; gradient
boosting picks its number of trees on the validation part; the random forest
has no data-driven choice. All follow scikit-learn conventions underneath,
and all are saved without pickle (arrays in ``.npz``; tree ensembles in
skops' safe format).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import ElasticNet, Ridge

from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.models.base import DRPModel, ModelConfig, register_model
from drpkit.models.featurize import FeatureConfig, PairFeaturizer


class BaselineConfig(ModelConfig, FeatureConfig):
    """Feature settings shared by the classical baselines."""


def _rmse(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - yhat) ** 2)))


class _FeatureModel(DRPModel):
    """Shared plumbing: featurise pairs, fit an estimator, predict."""

    baseline = True
    cell_views = ("expression",)
    drug_views = ("smiles",)
    config: BaselineConfig
    estimator_: Any  # the fitted scikit-learn estimator (tree models)

    def _xy(self, data: DrugResponseData) -> tuple[np.ndarray, np.ndarray]:
        r = data.responses
        return self.featurizer_.transform(data, r), r["value"].to_numpy(np.float64)

    def fit(self, train: DrugResponseData, val: DrugResponseData | None = None):
        self.featurizer_ = PairFeaturizer(self.config).fit(train)
        x, y = self._xy(train)
        xv, yv = self._xy(val) if val is not None and len(val) else (None, None)
        self._fit_estimator(x, y, xv, yv)
        return self

    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        x = self.featurizer_.transform(data, pairs)
        return pd.DataFrame({"value": self._predict_array(x)}, index=pairs.index)

    def input_genes(self) -> dict[str, list[str]]:
        return {"expression": [str(g) for g in self.featurizer_.genes_]}

    def _fit_estimator(self, x, y, xv, yv) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict_array(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.predict(x)


class LinearConfig(BaselineConfig):
    """Hyperparameters of ridge and elastic net.

    Attributes:
        alphas: penalty grid; the value with the lowest validation RMSE is kept
            (elastic net divides it by 1000: its penalty is per sample).
        l1_ratio: elastic net's L1 share of the penalty.
    """

    # Enough drug components to span every training drug, so a linear model can
    # represent per-drug means (GDSC has <= 300 drugs).
    cell_components: int = 128
    drug_components: int = 300
    alphas: list[float] = Field(default_factory=lambda: [1.0, 10.0, 100.0, 1e3, 1e4, 1e5])
    l1_ratio: float = 0.5


class _LinearModel(_FeatureModel):
    """Linear model whose penalty is chosen by validation RMSE."""

    Config = LinearConfig
    config: LinearConfig

    def _make(self, alpha: float):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit_estimator(self, x, y, xv, yv) -> None:
        self.x_mean_, x_std = x.mean(axis=0), x.std(axis=0)
        self.x_std_ = np.where(x_std > 0, x_std, 1.0)
        xs = (x - self.x_mean_) / self.x_std_
        scores = {}
        best = None
        for alpha in self.config.alphas if xv is not None else self.config.alphas[:1]:
            est = self._make(alpha).fit(xs, y)
            if xv is None:
                best = est
                break
            scores[alpha] = _rmse(yv, est.predict((xv - self.x_mean_) / self.x_std_))
            if best is None or scores[alpha] <= min(scores.values()):
                best = est
        if best is None:
            raise DataError(f"model {self.name!r} needs at least one penalty in 'alphas'")
        self.val_rmse_by_alpha_ = scores
        self.coef_ = np.asarray(best.coef_, dtype=np.float64)
        self.intercept_ = float(best.intercept_)
        self.alpha_ = float(best.alpha)

    def _predict_array(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.x_mean_) / self.x_std_) @ self.coef_ + self.intercept_

    def save_state(self, directory: Path) -> None:
        self.featurizer_.save(directory)
        np.savez(directory / "linear.npz", coef=self.coef_, intercept=self.intercept_,
                 alpha=self.alpha_, x_mean=self.x_mean_, x_std=self.x_std_)

    def load_state(self, directory: Path) -> None:
        self.featurizer_ = PairFeaturizer(self.config).load(directory)
        with np.load(directory / "linear.npz", allow_pickle=False) as s:
            self.coef_, self.intercept_ = s["coef"], float(s["intercept"])
            self.alpha_, self.x_mean_, self.x_std_ = float(s["alpha"]), s["x_mean"], s["x_std"]


@register_model
class RidgeBaseline(_LinearModel):
    name = "ridge"
    description = "ridge regression on expression PCs + fingerprint PCs (alpha on validation)"
    smoke_config: ClassVar[dict[str, Any]] = {"n_genes": 500}

    def _make(self, alpha: float):
        return Ridge(alpha=alpha)


@register_model
class ElasticNetBaseline(_LinearModel):
    name = "elastic-net"
    description = "elastic net on expression PCs + fingerprint PCs (alpha on validation)"
    smoke_config: ClassVar[dict[str, Any]] = {"n_genes": 500}

    def _make(self, alpha: float):
        # The grid is shared with ridge; elastic net's penalty is on a per-sample scale.
        return ElasticNet(alpha=alpha / 1000.0, l1_ratio=self.config.l1_ratio, max_iter=5000,
                          random_state=self.config.seed)


class _TreeModel(_FeatureModel):
    """Tree ensembles, persisted with skops (no arbitrary code on load)."""

    def save_state(self, directory: Path) -> None:
        import skops.io as sio

        self.featurizer_.save(directory)
        sio.dump(self.estimator_, directory / "estimator.skops")

    def load_state(self, directory: Path) -> None:
        import skops.io as sio

        self.featurizer_ = PairFeaturizer(self.config).load(directory)
        path = directory / "estimator.skops"
        trusted = sio.get_untrusted_types(file=path)
        unexpected = [t for t in trusted if not t.startswith(("sklearn.", "numpy."))]
        if unexpected:
            raise DataError(f"{path}: refusing unexpected types {unexpected}")
        self.estimator_ = sio.load(path, trusted=trusted)


class GBMConfig(BaselineConfig):
    """Hyperparameters of histogram gradient boosting.

    Attributes:
        max_trees: most boosting iterations.
        step: trees added between two validation checks.
        patience_steps: checks without a lower validation RMSE before stopping.
        learning_rate: shrinkage of each tree.
        max_leaf_nodes: leaves per tree.
        min_samples_leaf: smallest leaf.
    """

    cell_components: int = 48
    drug_components: int = 24
    max_trees: int = 300
    step: int = 50
    patience_steps: int = 2
    learning_rate: float = 0.2
    max_leaf_nodes: int = 63
    min_samples_leaf: int = 40


@register_model
class GradientBoostingBaseline(_TreeModel):
    name = "gbm"
    description = ("histogram gradient boosting on expression PCs + fingerprint PCs "
                   "(number of trees on validation)")
    Config = GBMConfig
    config: GBMConfig
    smoke_config: ClassVar[dict[str, Any]] = {"n_genes": 500, "cell_components": 16, "drug_components": 8,
                    "max_trees": 150}

    def _fit_estimator(self, x, y, xv, yv) -> None:
        cfg = self.config
        est = HistGradientBoostingRegressor(
            max_iter=cfg.step, learning_rate=cfg.learning_rate, max_leaf_nodes=cfg.max_leaf_nodes,
            min_samples_leaf=cfg.min_samples_leaf, early_stopping=False, warm_start=True,
            random_state=cfg.seed)
        best, best_rmse, stale = None, np.inf, 0
        self.val_curve_ = []
        for n_trees in range(cfg.step, cfg.max_trees + 1, cfg.step):
            est.set_params(max_iter=n_trees)
            est.fit(x, y)
            if xv is None:
                best = est
                continue
            rmse = _rmse(yv, est.predict(xv))
            self.val_curve_.append((n_trees, rmse))
            if rmse < best_rmse:
                best, best_rmse, stale = copy.deepcopy(est), rmse, 0
            else:
                stale += 1
                if stale >= cfg.patience_steps:
                    break
        self.estimator_ = best


class ForestConfig(BaselineConfig):
    """Hyperparameters of the random forest.

    Attributes:
        n_estimators: trees.
        max_features: share of features tried at each split.
        min_samples_leaf: smallest leaf.
        max_samples: share of training pairs drawn for each tree (None = all).
    """

    n_estimators: int = 100
    max_features: float = 0.3
    min_samples_leaf: int = 5
    max_samples: float | None = 0.3


@register_model
class RandomForestBaseline(_TreeModel):
    name = "rf"
    description = "random forest on expression PCs + fingerprint PCs"
    Config = ForestConfig
    config: ForestConfig
    smoke_config: ClassVar[dict[str, Any]] = {"n_genes": 500, "cell_components": 16, "drug_components": 8,
                    "n_estimators": 40}

    def _fit_estimator(self, x, y, xv, yv) -> None:
        cfg = self.config
        self.estimator_ = RandomForestRegressor(
            n_estimators=cfg.n_estimators, max_features=cfg.max_features,
            min_samples_leaf=cfg.min_samples_leaf, max_samples=cfg.max_samples, n_jobs=-1,
            random_state=cfg.seed).fit(x, y)
