"""Per-prediction uncertainty for every model (issue 17).

Any registered model takes ``uncertainty`` settings
(:class:`~drpkit.uncertainty.config.UncertaintyConfig`, part of every model's
config): split-conformal intervals and sets (:mod:`.conformal`), deep
ensembles and MC dropout (:mod:`.methods`), applied around the model's own
``fit`` / ``predict`` by :mod:`.wrap`. Extra output columns (``value_lo``,
``value_hi``, ``value_sd``, ``score_sd``, ``score_cal``, ``set_size``...) travel
with the predictions to the run store, ``drpkit predict`` and the metrics
(:mod:`drpkit.evaluate.calibration`).
"""
from __future__ import annotations

from drpkit.uncertainty.config import UncertaintyConfig

__all__ = ["UncertaintyConfig"]
