"""The uncertainty layer around every model's ``fit`` and ``predict``.

:class:`~drpkit.models.base.DRPModel` wraps the ``fit`` and ``predict`` each
model class defines (``__init_subclass__``) with :func:`fit_with_uncertainty`
and :func:`predict_with_uncertainty`. With ``uncertainty.method = "none"``
(the default) they call the model's own methods and nothing changes;
otherwise the method of :data:`~drpkit.uncertainty.methods.METHODS` fits and
predicts, and conformal calibration on the validation part adds intervals.
So one interface serves every model and no model carries a branch for it.

Honesty: calibration reads the validation part handed to ``fit`` and nothing
else; test pairs only ever reach ``predict``, which reads no labels.

Flags (``drpkit predict``): a prediction is flagged as uncertain when its
uncertainty (interval width ``value_hi - value_lo``, else ``value_sd``, else
``score_sd``) is above the 90th percentile of the same quantity over the
validation pairs; for a classifier with conformal sets only, when its set is
not a single label (``set_size != 1``: both labels plausible, or none).
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.uncertainty.config import UncertaintyConfig
from drpkit.uncertainty.conformal import Calibration
from drpkit.uncertainty.methods import METHODS, UncertaintyMethod, spread

if TYPE_CHECKING:  # pragma: no cover
    from drpkit.models.base import DRPModel

STATE_FILE = "uncertainty.json"
FLAG_QUANTILE = 0.9
PAIR = ["cell", "drug"]


@dataclass
class FittedUncertainty:
    """What a model fitted with an uncertainty method holds (``model.uncertainty_``)."""

    method: UncertaintyMethod
    calibration: Calibration | None
    flag_threshold: float | None  # of :func:`uncertainty_measure` on validation pairs


@contextlib.contextmanager
def own_methods(model: DRPModel) -> Iterator[None]:
    """Inside, ``model.fit`` and ``model.predict`` are the model's own (a model
    that predicts inside its ``fit``, or a method predicting members, gets plain ones)."""
    model._uq_busy = True
    try:
        yield
    finally:
        model._uq_busy = False


def fit_with_uncertainty(model: DRPModel, train: DrugResponseData,
                         val: DrugResponseData | None) -> None:
    """Fit ``model`` with its uncertainty method, then calibrate on ``val``."""
    cfg = model.config.uncertainty
    if cfg.calibrates:
        if val is None or not len(val.responses):
            raise DataError(f"uncertainty method {cfg.method!r} of model {model.name!r} "
                            "calibrates on a validation part, and fit got none")
        if model.trains_on_validation():
            raise DataError(f"model {model.name!r} trains on its validation pairs (refit), so "
                            f"they cannot calibrate uncertainty method {cfg.method!r}; set "
                            "trainer.refit=false or uncertainty.conformalise=false")
    method = METHODS.get(cfg.method)()
    with own_methods(model):
        method.fit(model, train, val)
    model.uncertainty_ = FittedUncertainty(method, None, None)
    if val is None or not len(val.responses):
        return
    pairs = val.responses[PAIR]
    with own_methods(model):
        val_pred = method.predict(model, train, pairs)
    calibration = None
    if cfg.calibrates:
        calibration = Calibration.from_validation(val_pred, val.responses, cfg,
                                                  classifier="score" in model.outputs)
        val_pred = calibration.apply(val_pred, pairs)
    model.uncertainty_ = FittedUncertainty(method, calibration, _threshold(val_pred))


def predict_with_uncertainty(model: DRPModel, data: DrugResponseData,
                             pairs: pd.DataFrame) -> pd.DataFrame:
    """The method's predictions for ``pairs``, with intervals when calibrated."""
    fitted: FittedUncertainty | None = getattr(model, "uncertainty_", None)
    if fitted is None:
        raise DataError(f"model {model.name!r} has uncertainty method "
                        f"{model.config.uncertainty.method!r} but was not fitted with it")
    with own_methods(model):
        out = fitted.method.predict(model, data, pairs)
    return out if fitted.calibration is None else fitted.calibration.apply(out, pairs)


def combine_members(val_members: list[pd.DataFrame], test_members: list[pd.DataFrame],
                    val: DrugResponseData, test_pairs: pd.DataFrame, cfg: UncertaintyConfig,
                    classifier: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A deep ensemble's validation and test predictions from its members' own
    predictions (one frame per member, rows in the order of ``val``'s and
    ``test_pairs``' pairs): the mean and sd as :class:`~.methods.Ensemble` gives
    them, then calibrated on ``val`` exactly as :func:`fit_with_uncertainty` does.
    This is how a benchmark grid scores an ensemble whose members ran as tasks of
    their own (in parallel), with the numbers of the in-task ensemble."""
    val_pred, test_pred = spread(val_members), spread(test_members)
    if cfg.calibrates:
        pairs = val.responses[PAIR]
        calibration = Calibration.from_validation(val_pred, val.responses, cfg, classifier)
        val_pred, test_pred = calibration.apply(val_pred, pairs), calibration.apply(test_pred,
                                                                                    test_pairs)
    return val_pred, test_pred


# ------------------------------------------------------------------- flags
def uncertainty_measure(predictions: pd.DataFrame) -> tuple[str, np.ndarray] | None:
    """The per-pair uncertainty that flags are computed from (see module doc)."""
    if {"value_lo", "value_hi"} <= set(predictions):
        return "interval_width", (predictions["value_hi"] - predictions["value_lo"]).to_numpy(float)
    for column in ("value_sd", "score_sd"):
        if column in predictions:
            return column, predictions[column].to_numpy(float)
    if "set_size" in predictions:
        return "set_not_single", (predictions["set_size"].to_numpy() != 1).astype(float)
    return None


def _threshold(val_predictions: pd.DataFrame) -> float | None:
    measure = uncertainty_measure(val_predictions)
    if measure is None:
        return None
    if measure[0] == "set_not_single":
        return 0.5
    return float(np.quantile(measure[1], FLAG_QUANTILE))


def flag_uncertain(model: DRPModel, predictions: pd.DataFrame) -> pd.Series | None:
    """``flag_uncertain`` (True/False) of ``predictions`` by the module's rule,
    or None when the model was fitted without uncertainty (or without validation)."""
    fitted: FittedUncertainty | None = getattr(model, "uncertainty_", None)
    measure = uncertainty_measure(predictions)
    if fitted is None or fitted.flag_threshold is None or measure is None:
        return None
    return pd.Series(measure[1] > fitted.flag_threshold, index=predictions.index,
                     name="flag_uncertain")


def flag_rule(model: DRPModel) -> dict | None:
    """JSON description of the flag rule of a fitted model (for ``.meta.json``)."""
    fitted: FittedUncertainty | None = getattr(model, "uncertainty_", None)
    if fitted is None or fitted.flag_threshold is None:
        return None
    return {"method": model.config.uncertainty.method, "alpha": model.config.uncertainty.alpha,
            "threshold": fitted.flag_threshold,
            "rule": f"uncertainty above the {FLAG_QUANTILE:.0%} quantile of the validation "
                    "pairs' (interval width, else sd); conformal sets: not a single label"}


# ------------------------------------------------------------- persistence
def save_uncertainty(model: DRPModel, directory: Path) -> None:
    """Write ``uncertainty.json`` (calibration as plain JSON) and the method's state."""
    fitted: FittedUncertainty | None = getattr(model, "uncertainty_", None)
    if model.config.uncertainty.method == "none" or fitted is None:
        return
    fitted.method.save(directory)
    state = {"method": fitted.method.name, "flag_threshold": fitted.flag_threshold,
             "calibration": None if fitted.calibration is None else fitted.calibration.to_dict()}
    (directory / STATE_FILE).write_text(json.dumps(state))


def load_uncertainty(model: DRPModel, directory: Path) -> None:
    """Restore what :func:`save_uncertainty` wrote (nothing for method ``none``)."""
    cfg = model.config.uncertainty
    if cfg.method == "none":
        return
    path = directory / STATE_FILE
    if not path.exists():
        raise DataError(f"{directory}: model {model.name!r} uses uncertainty method "
                        f"{cfg.method!r} but {STATE_FILE} is missing")
    state = json.loads(path.read_text())
    method = METHODS.get(cfg.method)()
    method.load(model, directory)
    calibration = None if state["calibration"] is None else \
        Calibration.from_dict(state["calibration"], cfg)
    model.uncertainty_ = FittedUncertainty(method, calibration, state["flag_threshold"])
