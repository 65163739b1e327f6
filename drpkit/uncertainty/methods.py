"""Uncertainty methods, in a registry: how a model is fitted and asked for spread.

Each method fits the model (and whatever else it needs) and predicts point
values plus spread columns; conformal calibration (:mod:`.conformal`) is
applied on top by :mod:`.wrap`. Inside these methods ``model.fit`` and
``model.predict`` are the model's own (the uncertainty layer is switched off
while a method runs, see :func:`drpkit.uncertainty.wrap.own_methods`).

* ``none`` / ``conformal``: the model alone (``conformal`` adds intervals only).
* ``ensemble``: ``members`` fits with seeds ``seed, seed+1, ...``; the model
  object itself is the first member (its history, explanations and input
  genes are those of that fit), the others are fresh instances of its class.
  Members are fitted one after the other inside the task (K times the cost;
  a benchmark grid runs them as tasks of their own, in parallel, and combines
  them with :func:`drpkit.uncertainty.wrap.combine_members`);
  the mean of their predictions is the prediction that is scored.
* ``mc-dropout``: the model is fitted once; at predict time ``passes``
  forward passes with the model's ``torch.nn.Dropout`` layers forced on give
  the spread. The prediction itself stays the dropout-off one, and a plain
  ``predict`` (any other method) never has dropout on.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from drpkit.models.base import DRPModel

POINT_COLUMNS = ("value", "score")
MEMBERS_DIR = "members"


class UncertaintyMethod:
    """Fits a model and predicts with a spread; the default is the model alone."""

    name: ClassVar[str] = "none"

    def fit(self, model: DRPModel, train: DrugResponseData, val: DrugResponseData | None) -> None:
        model.fit(train, val)

    def predict(self, model: DRPModel, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        return model.predict(data, pairs)

    def save(self, directory: Path) -> None:
        """Write what the method learned beyond the model's own state."""

    def load(self, model: DRPModel, directory: Path) -> None:
        """Restore what :meth:`save` wrote."""


METHODS: Registry[type[UncertaintyMethod]] = Registry("uncertainty method")
METHODS.add("none", UncertaintyMethod)
METHODS.add("conformal", UncertaintyMethod)


def spread(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean of the point columns over ``frames``, with their sd as ``<column>_sd``;
    other columns are the first frame's."""
    out = frames[0].copy()
    for column in POINT_COLUMNS:
        if column in out:
            stack = np.stack([f[column].to_numpy(np.float64) for f in frames])
            out[column] = stack.mean(axis=0)
            out[f"{column}_sd"] = stack.std(axis=0, ddof=1)
    return out


@METHODS.register("ensemble")
class Ensemble(UncertaintyMethod):
    """Deep ensemble: the model plus ``members - 1`` copies with other seeds."""

    name = "ensemble"

    def __init__(self) -> None:
        self.members: list[DRPModel] = []

    def fit(self, model: DRPModel, train: DrugResponseData, val: DrugResponseData | None) -> None:
        from drpkit.uncertainty.config import UncertaintyConfig

        model.fit(train, val)
        self.members = []
        for k in range(1, model.config.uncertainty.members):
            config = model.config.model_copy(update={"seed": model.config.seed + k,
                                                     "uncertainty": UncertaintyConfig()})
            self.members.append(type(model)(config).fit(train, val))

    def predict(self, model: DRPModel, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        own = model.predict(data, pairs)
        return spread([own] + [m.predict(data, pairs).set_index(own.index)
                                for m in self.members])

    def save(self, directory: Path) -> None:
        for k, member in enumerate(self.members, start=1):
            member.save(directory / MEMBERS_DIR / str(k))

    def load(self, model: DRPModel, directory: Path) -> None:
        from drpkit.models.base import load_model

        self.members = [load_model(directory / MEMBERS_DIR / str(k))
                        for k in range(1, model.config.uncertainty.members)]


def dropout_layers(model: DRPModel) -> list[Any]:
    """The ``torch.nn.Dropout`` layers (p > 0) of the torch modules a fitted model holds.

    Raises:
        DataError: naming the model, when it has none (not a torch model, or
            ``dropout`` is 0): MC dropout would give a spread of exactly 0.
    """
    import torch

    modules = [v for v in vars(model).values() if isinstance(v, torch.nn.Module)]
    layers = [m for module in modules for m in module.modules()
              if isinstance(m, torch.nn.Dropout) and m.p > 0]
    if not layers:
        raise DataError(f"uncertainty method 'mc-dropout' needs a torch model with dropout > 0; "
                        f"model {model.name!r} has no torch.nn.Dropout layer with p > 0 "
                        "(use 'ensemble' or 'conformal', or set its dropout)")
    return layers


@contextlib.contextmanager
def dropout_on(layers: list[Any], seed: int) -> Iterator[None]:
    """Dropout applied by ``layers`` even in eval mode (models call ``.eval()``
    inside ``predict``), with torch's random state seeded and restored after."""
    import torch

    def force(module: Any, inputs: tuple, output: Any) -> Any:
        return torch.nn.functional.dropout(inputs[0], module.p, training=True)

    handles = [layer.register_forward_hook(force) for layer in layers]
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            yield
    finally:
        for handle in handles:
            handle.remove()


@METHODS.register("mc-dropout")
class MCDropout(UncertaintyMethod):
    """Monte Carlo dropout: spread of ``passes`` predictions with dropout on."""

    name = "mc-dropout"

    def fit(self, model: DRPModel, train: DrugResponseData, val: DrugResponseData | None) -> None:
        model.fit(train, val)
        dropout_layers(model)  # fail now, not at the first predict

    def predict(self, model: DRPModel, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        plain = model.predict(data, pairs)
        with dropout_on(dropout_layers(model), model.config.seed):
            passes = [model.predict(data, pairs) for _ in range(model.config.uncertainty.passes)]
        spreads = spread(passes)
        out = plain.copy()
        for column in POINT_COLUMNS:
            if column in out:
                out[f"{column}_sd"] = spreads[f"{column}_sd"].to_numpy()
        return out
