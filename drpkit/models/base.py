"""The one model interface, its configuration base and the model registry.

Every model, from a per-drug mean to a graph transformer, is a
:class:`DRPModel`: it declares the views it needs, takes its hyperparameters
from one pydantic ``Config`` class (the single place defaults live), learns
from a :class:`DrugResponseData` holding only its training responses, and
predicts a response value (and, when it has one, a sensitivity probability)
for any list of cell-drug pairs. A new model is one module that subclasses
``DRPModel`` and registers itself with ``@register_model``.

Persistence never pickles code: ``save`` writes ``model.json`` (name +
config) next to whatever state files the model writes (safetensors, JSON,
skops); ``load_model`` rebuilds the object from those.
"""
from __future__ import annotations

import functools
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.params import deep_merge
from drpkit.registry import Registry
from drpkit.uncertainty.config import UncertaintyConfig

if TYPE_CHECKING:  # pragma: no cover - drpkit.train imports torch
    from drpkit.train import History, TrainerConfig
    from drpkit.uncertainty.wrap import FittedUncertainty

MODEL_FILE = "model.json"


class ModelConfig(BaseModel):
    """Hyperparameters shared by every model; subclasses add their own fields.

    Attributes:
        seed: seeds weight initialisation, batching and any randomised choice.
        uncertainty: per-prediction uncertainty (conformal intervals, ensembles,
            MC dropout), calibrated on the validation part; see
            :class:`~drpkit.uncertainty.config.UncertaintyConfig`.
    """

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    uncertainty: UncertaintyConfig = Field(default_factory=UncertaintyConfig)


def _with_uncertainty(kind: str, own: Callable) -> Callable:
    """``own`` (a model class's ``fit`` or ``predict``) behind the uncertainty layer:
    unchanged when ``config.uncertainty.method`` is ``none``, else routed through
    :mod:`drpkit.uncertainty.wrap` (which calls ``own`` underneath; imported only
    then, so plain models never load crepes)."""
    if kind == "fit":
        @functools.wraps(own)
        def fit(self: DRPModel, train: DrugResponseData, val: DrugResponseData | None = None):
            if self.config.uncertainty.method == "none" or self._uq_busy:
                return own(self, train, val)
            from drpkit.uncertainty.wrap import fit_with_uncertainty

            fit_with_uncertainty(self, train, val)
            return self
        return fit

    @functools.wraps(own)
    def predict(self: DRPModel, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        if self.config.uncertainty.method == "none" or self._uq_busy:
            return own(self, data, pairs)
        from drpkit.uncertainty.wrap import predict_with_uncertainty

        return predict_with_uncertainty(self, data, pairs)
    return predict


class DRPModel(ABC):
    """Interface of every drug response model.

    Class attributes:
        name: registry name.
        Config: pydantic class of hyperparameters (defaults live there only).
        cell_views: cell views ``fit`` and ``predict`` need.
        optional_cell_views: cell views used when the dataset has them.
        drug_views: drug representations needed, each a view name or
            alternatives joined by ``|`` (``"pubchem920|smiles"``).
        resources: prior-knowledge resources needed (``drpkit.resources``).
            The pipeline checks all of these before fitting and hands the
            model only them (:mod:`drpkit.models.requirements`).
        outputs: ``("value",)`` for regressors; ``("score",)`` for classifiers;
            ``("value", "score")`` for models that give both; further columns
            (``value_sd``, ``value_lo``, ...) travel with the predictions to the
            run store, ``drpkit predict`` and the report.
        baseline: a reference model (means, classical learners) that every
            comparison carries; reports test the other models against the best one.
        smoke_config: settings that make the model fit a few thousand real
            pairs in seconds (the test suite's and demos' small runs; the model
            stays honest, only smaller), so tests carry no per-model branches.
        smoke_bar: what such a small run must reach on held-out pairs of a
            random split: (minimum PCC, maximum RMSE as a share of the global
            mean's RMSE); models that ignore drugs or cells declare lower bars.
    """

    name: ClassVar[str]
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    cell_views: ClassVar[tuple[str, ...]] = ()
    optional_cell_views: ClassVar[tuple[str, ...]] = ()
    drug_views: ClassVar[tuple[str, ...]] = ()
    resources: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ("value",)
    description: ClassVar[str] = ""
    baseline: ClassVar[bool] = False
    smoke_config: ClassVar[dict[str, Any]] = {}
    smoke_bar: ClassVar[tuple[float, float]] = (0.5, 0.9)
    config: ModelConfig  # an instance of Config; subclasses narrow the annotation
    uncertainty_: FittedUncertainty  # set by fit when config.uncertainty.method != "none"
    _uq_busy: bool = False  # True while the uncertainty layer calls the model's own methods

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Put the ``fit`` and ``predict`` a model class defines behind the
        uncertainty layer, so every model takes ``uncertainty`` settings without
        a line of its own (nested calls, e.g. ``super().fit``, pass straight through)."""
        super().__init_subclass__(**kwargs)
        for kind in ("fit", "predict"):
            own = cls.__dict__.get(kind)
            if own is not None and not getattr(own, "__isabstractmethod__", False):
                setattr(cls, kind, _with_uncertainty(kind, own))

    def __init__(self, config: ModelConfig | dict | None = None, **overrides: Any):
        try:
            if isinstance(config, ModelConfig):
                config = config.model_dump()
            # Partial nested settings (e.g. {"trainer": {"lr": 0.01}}) keep this
            # model's other defaults instead of the nested class's own.
            merged = deep_merge(self.Config().model_dump(), config or {}, overrides)
            self.config = self.Config(**merged)
        except ValidationError as exc:
            raise DataError(f"invalid configuration for model {self.name!r}: {exc}") from None

    def __repr__(self) -> str:
        changed = self.config.model_dump(exclude_defaults=True)
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    @abstractmethod
    def fit(self, train: DrugResponseData, val: DrugResponseData | None = None) -> DRPModel:
        """Learn from ``train.responses`` only; ``val`` may drive early stopping."""

    @abstractmethod
    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        """Predictions for ``pairs`` (columns cell, drug), same row order.

        Returns a frame with the columns named in ``outputs``: ``value`` (predicted
        response) and/or ``score`` (probability of sensitivity), and any further
        declared output columns.
        """

    def explain(self, data: DrugResponseData) -> dict[str, pd.DataFrame]:
        """Named tables that explain the fitted model (attention maps, gene
        rankings, fusion weights...), stored per task as artifacts of a run.

        ``data`` is the training data the model was fitted on. The default has
        none; tables must be plain (no objects), as they are written as Parquet.
        """
        return {}

    def trains_on_validation(self) -> bool:
        """Whether ``fit`` trains on the validation pairs (then they cannot
        calibrate uncertainty). Classical models only choose settings on them."""
        return False

    def input_genes(self) -> dict[str, list[str]] | None:
        """Features each cell view of the *fitted* model reads (view -> gene symbols).

        ``drpkit predict`` checks a user's expression file against these (missing
        genes, scale). None: the model does not say, and every column of the
        training view is assumed; ``{}``: it reads no cell features.
        """
        return None

    # ------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``model.json`` and the model's state into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.save_state(directory)
        if self.config.uncertainty.method != "none":
            from drpkit.uncertainty.wrap import save_uncertainty

            save_uncertainty(self, directory)
        meta = {"model": self.name, "config": self.config.model_dump(mode="json")}
        (directory / MODEL_FILE).write_text(json.dumps(meta, indent=2))
        return directory

    @abstractmethod
    def save_state(self, directory: Path) -> None:
        """Write learned state (no pickled code) into ``directory``."""

    @abstractmethod
    def load_state(self, directory: Path) -> None:
        """Restore learned state written by :meth:`save_state`."""


class EarlyStoppingModel(DRPModel):
    """A torch model trained by the shared :class:`~drpkit.train.Trainer`.

    ``fit`` trains with early stopping on the validation part; with
    ``config.trainer.refit`` it then trains a fresh network on training +
    validation pairs for exactly the number of epochs validation selected.
    The refit uses the ~10% of training data that early stopping set aside
    (for graph models: their response edges too) and still never sees the
    test fold; it costs a second training run. ``history_`` is the early
    stopping run, with the refit attached as ``history_.refit``.

    Subclasses implement :meth:`_fit` and declare ``config.trainer``.
    """

    history_: History

    def fit(self, train: DrugResponseData, val: DrugResponseData | None = None):
        if val is None or not len(val.responses):
            raise DataError(f"model {self.name!r} needs a validation part for early stopping")
        self._fit(train, val)
        # the subclasses' configs declare trainer (see above), ModelConfig does not
        if cast("_TrainedConfig", self.config).trainer.refit:
            selected = self.history_
            self._fit(train.combine(val), None, epochs=selected.best_epoch + 1)
            selected.refit, self.history_ = self.history_, selected
        return self

    def trains_on_validation(self) -> bool:
        return bool(cast("_TrainedConfig", self.config).trainer.refit)

    @abstractmethod
    def _fit(self, train: DrugResponseData, val: DrugResponseData | None,
             epochs: int | None = None) -> None:
        """Train on ``train``: with early stopping on ``val``, or (``val`` None)
        for exactly ``epochs`` epochs; sets the fitted attributes and ``history_``."""


class _TrainedConfig(Protocol):
    """The part of an :class:`EarlyStoppingModel`'s config that the base class reads."""

    trainer: TrainerConfig


MODELS: Registry[type[DRPModel]] = Registry("model")


def register_model(cls: type[DRPModel]) -> type[DRPModel]:
    """Class decorator adding ``cls`` to the model registry under ``cls.name``."""
    return MODELS.register(cls.name)(cls)


def is_baseline(model: str) -> bool:
    """True for registered reference models (``DRPModel.baseline``): the one
    definition of a baseline that summaries and reports compare models with.
    Unknown names (e.g. a plugin not imported here) are not baselines."""
    return model in MODELS and bool(MODELS.get(model).baseline)


def create_model(name: str, config: dict | None = None, **overrides: Any) -> DRPModel:
    """Instantiate registered model ``name`` with a config dict and overrides."""
    return MODELS.get(name)(config, **overrides)


def load_model(directory: str | Path) -> DRPModel:
    """Rebuild a saved model from ``directory`` (``model.json`` + state files)."""
    directory = Path(directory)
    meta_path = directory / MODEL_FILE
    if not meta_path.exists():
        raise DataError(f"{directory}: no {MODEL_FILE}; not a saved drpkit model")
    try:
        meta = json.loads(meta_path.read_text())
        model = create_model(meta["model"], meta["config"])
    except (json.JSONDecodeError, KeyError) as exc:
        raise DataError(f"{meta_path}: unreadable model description ({exc})") from None
    model.load_state(directory)
    if model.config.uncertainty.method != "none":
        from drpkit.uncertainty.wrap import load_uncertainty

        load_uncertainty(model, directory)
    return model
