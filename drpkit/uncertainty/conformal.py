"""Split-conformal calibration on the validation part: intervals, sets, probabilities.

Why crepes (0.9.1): its ``ConformalRegressor`` and ``ConformalClassifier``
take precomputed nonconformity scores, optional difficulty estimates
(``sigmas``, for sd-normalised intervals) and Mondrian categories (``bins``),
so they wrap *any* model's predictions without owning the model. MAPIE 1.6
wants to wrap a scikit-learn estimator (or a prefit one behind its API), which
drpkit's models, fitted on ``DrugResponseData``, are not.

What is written by hand, and why: crepes gives a bin it never saw during
calibration an interval of ``[0, 0]`` and a bin with too few pairs an
infinite one; drpkit's per-drug (Mondrian) option therefore calibrates only
drugs with at least ``min_per_drug`` validation pairs and sends every other
pair (unseen drugs under drug-blind splits, rare drugs) to the global quantile.
Calibrated probabilities are scikit-learn's isotonic regression of the
validation labels on the validation scores (Venn-Abers, its interval version,
is not in crepes 0.9.1).

Validity: the intervals cover ``1 - alpha`` of new pairs exchangeable with the
validation pairs. The validation part also chose the model's early-stopping
epoch or penalty, which makes its residuals slightly optimistic; models that
*train* on it (``trainer.refit``) are refused.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from crepes import ConformalClassifier, ConformalRegressor
from sklearn.isotonic import IsotonicRegression

from drpkit.errors import DataError
from drpkit.uncertainty.config import UncertaintyConfig


def _min_pairs(alpha: float) -> int:
    """Fewest calibration pairs for which a finite ``1 - alpha`` quantile exists
    (crepes' rank ``int(alpha * (n + 1)) - 1`` must be >= 0)."""
    return int(np.ceil(1 / alpha - 1 - 1e-9))


@dataclass
class _Mondrian:
    """A global conformal predictor, plus per-drug ones for drugs with enough pairs."""

    overall: Any
    by_drug: Any | None
    drugs: frozenset[str]

    def split(self, drugs: np.ndarray) -> np.ndarray:
        """Rows answered by their drug's own quantile."""
        if self.by_drug is None:
            return np.zeros(len(drugs), dtype=bool)
        return np.isin(drugs, list(self.drugs))


def _fit_mondrian(make, scores: np.ndarray, drugs: np.ndarray, cfg: UncertaintyConfig,
                  **kwargs: Any) -> _Mondrian:
    """``make()`` fitted on all ``scores``, and per drug when ``cfg.mondrian == "drug"``."""
    overall = make().fit(scores, **kwargs)
    if cfg.mondrian != "drug":
        return _Mondrian(overall, None, frozenset())
    names, counts = np.unique(drugs, return_counts=True)
    kept = frozenset(str(d) for d in names[counts >= max(cfg.min_per_drug, _min_pairs(cfg.alpha))])
    rows = np.isin(drugs, list(kept))
    if not rows.any():
        return _Mondrian(overall, None, frozenset())
    sub = {k: v[rows] for k, v in kwargs.items()}
    return _Mondrian(overall, make().fit(scores[rows], bins=drugs[rows], **sub), kept)


@dataclass
class Calibration:
    """What the validation pairs taught: nonconformity scores, per drug.

    ``residuals`` are |y - yhat| of the validation pairs with a value, and
    ``sigmas`` their predicted sd (plus ``sigma_floor``) when ``normalised``; ``label_score``/``labels`` the model's
    score and the 0/1 label of those with a label (classifiers only). The
    arrays are kept (not the fitted crepes objects) so that a saved model is
    plain JSON and refits to the same intervals.
    """

    config: UncertaintyConfig
    normalised: bool
    residuals: np.ndarray
    residual_drugs: np.ndarray
    sigmas: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sigma_floor: float = 0.0
    label_score: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0))
    label_drugs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    def __post_init__(self) -> None:
        cfg, self._regressor, self._classifier, self._isotonic = self.config, None, None, None
        if len(self.residuals):
            self._check_size(len(self.residuals), "validation pairs with a value")
            extra = {"sigmas": self.sigmas} if self.normalised else {}
            self._regressor = _fit_mondrian(ConformalRegressor, self.residuals,
                                            self.residual_drugs, cfg, **extra)
        if len(self.labels):
            self._check_size(len(self.labels), "validation pairs with a label")
            p_true = np.where(self.labels == 1, self.label_score, 1 - self.label_score)
            self._classifier = _fit_mondrian(ConformalClassifier, 1 - p_true,
                                             self.label_drugs, cfg)
            self._isotonic = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(
                self.label_score, self.labels)

    def _check_size(self, n: int, what: str) -> None:
        if n < _min_pairs(self.config.alpha):
            raise DataError(f"conformal calibration at alpha={self.config.alpha} needs at least "
                            f"{_min_pairs(self.config.alpha)} {what}; the validation part has "
                            f"{n}")

    # ---------------------------------------------------------------- building
    @classmethod
    def from_validation(cls, predictions: pd.DataFrame, responses: pd.DataFrame,
                        config: UncertaintyConfig, classifier: bool) -> Calibration:
        """Calibrate on ``predictions`` of the validation ``responses`` (same rows).

        ``value`` intervals use ``value_sd`` as difficulty when it is there
        (ensembles, MC dropout); ``classifier``: the model's ``score`` is a
        probability of sensitivity, calibrated and turned into sets.
        """
        drugs = responses["drug"].astype(str).to_numpy()
        normalised = "value_sd" in predictions
        residuals, residual_drugs, floor = np.zeros(0), np.zeros(0, dtype=object), 0.0
        sigmas = np.zeros(0)
        if "value" in predictions and "value" in responses:
            y = responses["value"].to_numpy(np.float64)
            keep = np.isfinite(y)
            residuals = np.abs(y - predictions["value"].to_numpy(np.float64))[keep]
            if normalised:
                sd = predictions["value_sd"].to_numpy(np.float64)
                # a zero sd would make the interval of that pair zero-width
                floor = float(0.01 * np.median(sd[keep])) + 1e-12
                sigmas = sd[keep] + floor
            residual_drugs = drugs[keep]
        score, labels, label_drugs = np.zeros(0), np.zeros(0), np.zeros(0, dtype=object)
        if classifier and "score" in predictions and "label" in responses:
            y = pd.to_numeric(responses["label"], errors="coerce").to_numpy(np.float64)
            keep = np.isfinite(y)
            score = predictions["score"].to_numpy(np.float64)[keep]
            labels, label_drugs = y[keep].astype(int), drugs[keep]
        if not len(residuals) and not len(labels):
            raise DataError("conformal calibration found no validation pair with a value or a "
                            "label to calibrate on")
        return cls(config, normalised, residuals, residual_drugs, sigmas, floor, score, labels,
                   label_drugs)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (no pickles) from which :meth:`from_dict` rebuilds the same object."""
        return {"normalised": self.normalised, "sigma_floor": self.sigma_floor,
                "residuals": self.residuals.tolist(),
                "residual_drugs": [str(d) for d in self.residual_drugs],
                "sigmas": self.sigmas.tolist(),
                "label_score": self.label_score.tolist(), "labels": self.labels.tolist(),
                "label_drugs": [str(d) for d in self.label_drugs]}

    @classmethod
    def from_dict(cls, state: dict[str, Any], config: UncertaintyConfig) -> Calibration:
        return cls(config, bool(state["normalised"]), np.asarray(state["residuals"], float),
                   np.asarray(state["residual_drugs"], dtype=object),
                   np.asarray(state["sigmas"], float), float(state["sigma_floor"]), np.asarray(state["label_score"], float),
                   np.asarray(state["labels"], int),
                   np.asarray(state["label_drugs"], dtype=object))

    # --------------------------------------------------------------- applying
    def apply(self, predictions: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        """``predictions`` with interval columns (``value_lo``, ``value_hi``) and,
        for classifiers, ``score_cal``, ``set_resistant``, ``set_sensitive``, ``set_size``."""
        out = predictions.copy()
        drugs = pairs["drug"].astype(str).to_numpy()
        confidence = 1 - self.config.alpha
        if self._regressor is not None and "value" in out:
            yhat = out["value"].to_numpy(np.float64)
            sigma = (out["value_sd"].to_numpy(np.float64) + self.sigma_floor
                     if self.normalised else None)
            intervals = self._run(self._regressor, drugs, "predict_int", yhat, sigmas=sigma,
                                  confidence=confidence)
            out["value_lo"], out["value_hi"] = intervals[:, 0], intervals[:, 1]
        if self._classifier is not None and "score" in out:
            score = out["score"].to_numpy(np.float64)
            assert self._isotonic is not None
            out["score_cal"] = self._isotonic.predict(score)
            nonconformity = np.column_stack([score, 1 - score])  # 1 - p(resistant), 1 - p(sens.)
            sets = self._run(self._classifier, drugs, "predict_set", nonconformity,
                             confidence=confidence, smoothing=False)
            out["set_resistant"], out["set_sensitive"] = sets[:, 0], sets[:, 1]
            out["set_size"] = sets.sum(axis=1)
        return out

    @staticmethod
    def _run(mondrian: _Mondrian, drugs: np.ndarray, method: str, x: np.ndarray,
             sigmas: np.ndarray | None = None, **kwargs: Any) -> np.ndarray:
        """Call crepes' ``method`` on every row with the global predictor, then
        on the rows of calibrated drugs with the per-drug one."""
        extra = {} if sigmas is None else {"sigmas": sigmas}
        with warnings.catch_warnings():  # sizes are checked above; crepes' own notes aside
            warnings.simplefilter("ignore", UserWarning)
            result = np.asarray(getattr(mondrian.overall, method)(x, **extra, **kwargs), float)
            own = mondrian.split(drugs)
            if own.any():
                sub = {} if sigmas is None else {"sigmas": sigmas[own]}
                result[own] = getattr(mondrian.by_drug, method)(x[own], bins=drugs[own],
                                                                **sub, **kwargs)
        return result
