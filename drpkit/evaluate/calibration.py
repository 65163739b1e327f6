"""Calibration metrics: do the stated uncertainties mean what they say?

* **Intervals** (``value_lo``, ``value_hi``): coverage (share of observed
  values inside) against the nominal level, mean width, and the spread of
  per-drug coverage (a model can cover 90% overall by over-covering easy
  drugs and under-covering hard ones).
* **Probabilities** (``score_cal``, or a classifier's ``score``): expected
  calibration error over equal-width bins, with the reliability-diagram table.
* **Ranking by uncertainty**: the risk-coverage curve (mean absolute error of
  the ``c`` share of pairs the model is most sure of, for every ``c``) and its
  area (AURC; lower is better), beside the constant-width baseline (every
  pair equally uncertain, so the risk at any coverage is the overall error in
  expectation) and the oracle (pairs ordered by their true error).

:func:`uncertainty_metrics` computes what a scored prediction frame allows;
the fold metrics of a run include them whenever the interval or sd columns
are there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from drpkit.errors import DataError

MIN_DRUG_PAIRS = 10


def interval_metrics(y: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     drugs: np.ndarray | None = None) -> dict[str, float]:
    """Coverage and mean width of intervals ``[lo, hi]``; with ``drugs``, the
    mean, sd, min and max of per-drug coverage over drugs with >= 10 pairs."""
    y, lo, hi = (np.asarray(a, np.float64) for a in (y, lo, hi))
    if not len(y):
        raise DataError("interval metrics need at least one pair")
    inside = (y >= lo) & (y <= hi)
    out = {"coverage": float(inside.mean()), "width_mean": float(np.mean(hi - lo))}
    if drugs is not None:
        per_drug = drug_coverage(y, lo, hi, drugs)
        if len(per_drug):
            out.update({"drug_coverage_mean": float(per_drug.mean()),
                        "drug_coverage_sd": float(per_drug.std(ddof=0)),
                        "drug_coverage_min": float(per_drug.min()),
                        "drug_coverage_max": float(per_drug.max())})
    return out


def drug_coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  drugs: np.ndarray) -> pd.Series:
    """Each drug's share of pairs inside ``[lo, hi]``, over drugs with >= 10 pairs."""
    y, lo, hi = (np.asarray(a, np.float64) for a in (y, lo, hi))
    per_drug = pd.Series((y >= lo) & (y <= hi)).groupby(np.asarray(drugs)).agg(["mean", "size"])
    return per_drug.loc[per_drug["size"] >= MIN_DRUG_PAIRS, "mean"]


def value_spread(frame: pd.DataFrame) -> np.ndarray | None:
    """The per-pair spread of predicted values that ranks them by uncertainty: the
    interval width ``value_hi - value_lo``, else ``value_sd``; None without either."""
    if {"value_lo", "value_hi"} <= set(frame):
        return (frame["value_hi"] - frame["value_lo"]).to_numpy(np.float64)
    if "value_sd" in frame:
        return frame["value_sd"].to_numpy(np.float64)
    return None


def reliability_table(labels: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Reliability-diagram bins: ``bin_lo, bin_hi, n, mean_prob, observed`` (equal width)."""
    labels, probs = np.asarray(labels, np.float64), np.clip(np.asarray(probs, np.float64), 0, 1)
    edges = np.linspace(0, 1, n_bins + 1)
    index = np.clip(np.digitize(probs, edges[1:-1], right=True), 0, n_bins - 1)
    frame = pd.DataFrame({"bin": index, "p": probs, "y": labels})
    table = frame.groupby("bin").agg(n=("p", "size"), mean_prob=("p", "mean"),
                                     observed=("y", "mean"))
    table = table.reindex(range(n_bins))
    table["n"] = table["n"].fillna(0).astype(int)
    table.insert(0, "bin_hi", edges[1:])
    table.insert(0, "bin_lo", edges[:-1])
    return table.reset_index(drop=True)


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> float:
    """Pair-weighted mean |observed rate - mean probability| over the bins."""
    table = reliability_table(labels, probs, n_bins)
    used = table["n"] > 0
    gaps = (table.loc[used, "observed"] - table.loc[used, "mean_prob"]).abs()
    return float((gaps * table.loc[used, "n"]).sum() / table.loc[used, "n"].sum())


def risk_coverage(errors: np.ndarray, uncertainty: np.ndarray) -> pd.DataFrame:
    """Risk-coverage curve: ``coverage`` (share kept, most certain first) and
    ``risk`` (mean error of the kept pairs). Ties in ``uncertainty`` are
    averaged over, so a constant uncertainty gives the constant-width baseline."""
    errors, uncertainty = np.asarray(errors, np.float64), np.asarray(uncertainty, np.float64)
    # equal up to rounding counts as tied: a width computed as (yhat + q) - (yhat - q)
    # differs in the last bits with |yhat|, which must not become a ranking
    # an infinite or missing uncertainty (an interval crepes could not bound) ranks last
    uncertainty = np.where(np.isnan(uncertainty), np.inf, uncertainty)
    finite = np.isfinite(uncertainty)
    scale = float(np.max(np.abs(uncertainty[finite]))) if finite.any() else 1.0
    uncertainty = np.round(uncertainty / (scale or 1.0), 9)
    order = np.argsort(uncertainty, kind="stable")
    e, u = errors[order], uncertainty[order]
    # within a block of tied uncertainties, no order is better than another:
    # replace each error by its block's mean
    _, start, counts = np.unique(u, return_index=True, return_counts=True)
    block_mean = np.add.reduceat(e, start) / counts
    e = np.repeat(block_mean, counts)
    kept = np.arange(1, len(e) + 1)
    return pd.DataFrame({"coverage": kept / len(e), "risk": np.cumsum(e) / kept})


def aurc(errors: np.ndarray, uncertainty: np.ndarray) -> dict[str, float]:
    """Area under the risk-coverage curve for ``uncertainty``, for a constant
    uncertainty (the constant-width baseline) and for the oracle order."""
    errors = np.asarray(errors, np.float64)
    return {"aurc": float(risk_coverage(errors, uncertainty)["risk"].mean()),
            "aurc_constant": float(risk_coverage(errors, np.zeros(len(errors)))["risk"].mean()),
            "aurc_oracle": float(risk_coverage(errors, errors)["risk"].mean())}


def uncertainty_metrics(frame: pd.DataFrame) -> dict[str, float]:
    """Calibration metrics of a scored frame (``y``, ``yhat``, ``label``, ``score``,
    ``drug`` and the uncertainty columns); empty when it has no such column.

    Names: ``interval_coverage``, ``interval_width_mean``,
    ``interval_drug_coverage_{mean,sd,min,max}``; ``aurc``, ``aurc_constant``,
    ``aurc_oracle`` (absolute error, ranked by interval width, else ``value_sd``);
    ``ece`` (of ``score_cal`` when present) and ``ece_raw`` (of ``score``);
    ``set_coverage`` (label inside the conformal set) and ``set_size_mean``.
    """
    out: dict[str, float] = {}
    has_value = "yhat" in frame and frame["yhat"].notna().all() and frame["y"].notna().all()
    if has_value and {"value_lo", "value_hi"} <= set(frame):
        stats = interval_metrics(frame["y"], frame["value_lo"], frame["value_hi"],
                                 frame["drug"].to_numpy())
        out.update({f"interval_{k}": v for k, v in stats.items()})
    if has_value:
        spread = value_spread(frame)
        if spread is not None:
            out.update(aurc(np.abs(frame["y"] - frame["yhat"]).to_numpy(np.float64), spread))
    labelled = frame["label"].notna() if "label" in frame else pd.Series(False, frame.index)
    if "score_cal" in frame and labelled.any():
        sub = frame.loc[labelled]
        out["ece"] = expected_calibration_error(sub["label"], sub["score_cal"])
        out["ece_raw"] = expected_calibration_error(sub["label"], sub["score"])
    if {"set_sensitive", "set_resistant", "set_size"} <= set(frame) and labelled.any():
        sub = frame.loc[labelled]
        inside = np.where(sub["label"].to_numpy(float) == 1, sub["set_sensitive"],
                          sub["set_resistant"])
        out["set_coverage"] = float(np.mean(inside))
        out["set_size_mean"] = float(sub["set_size"].mean())
    return out
