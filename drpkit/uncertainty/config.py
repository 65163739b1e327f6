"""The ``uncertainty`` block every model's configuration carries.

It lives in :class:`~drpkit.models.base.ModelConfig`, so ``-p
uncertainty.method=conformal`` (or ``{"uncertainty": {...}}`` in a grid) works
for any registered model, and a saved model's ``model.json`` records it.
This module imports nothing heavy: the base model imports it.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UncertaintyConfig(BaseModel):
    """How a model states its uncertainty (calibrated on the validation part only).

    Attributes:
        method: ``none`` (plain predictions); ``conformal`` (split-conformal
            intervals ``value_lo``/``value_hi`` from absolute validation residuals;
            classifiers: isotonic ``score_cal`` and conformal sets ``set_size``,
            ``set_sensitive``, ``set_resistant``); ``ensemble`` (``members``
            copies with seeds seed, seed+1, ...; the mean is the prediction,
            ``value_sd``/``score_sd`` their spread); ``mc-dropout`` (torch models:
            ``passes`` forward passes with dropout on give ``value_sd``/``score_sd``;
            the prediction stays the dropout-off one).
        alpha: miscoverage of the intervals and sets: level ``1 - alpha``.
        mondrian: ``drug``: one conformal quantile per drug (Mondrian), drugs with
            fewer than ``min_per_drug`` validation pairs (or unseen) use the global one.
        min_per_drug: validation pairs a drug needs for its own quantile.
        members: ensemble size (members are fitted one after the other in the task).
        passes: MC dropout forward passes.
        conformalise: ``ensemble`` / ``mc-dropout``: also give conformal intervals,
            calibrated on validation residuals divided by the predicted sd.
    """

    model_config = ConfigDict(extra="forbid")
    method: Literal["none", "conformal", "ensemble", "mc-dropout"] = "none"
    alpha: float = Field(0.1, gt=0, lt=1)
    mondrian: Literal["none", "drug"] = "none"
    min_per_drug: int = Field(30, ge=1)
    members: int = Field(5, ge=2)
    passes: int = Field(30, ge=2)
    conformalise: bool = True

    @property
    def calibrates(self) -> bool:
        """Whether validation pairs calibrate intervals / sets for this setting."""
        return self.method == "conformal" or (self.method != "none" and self.conformalise)
