"""The report's "Uncertainty" section: are the intervals, sds and probabilities honest?

Shown when tasks of the run carry uncertainty outputs (a model run with
``-p uncertainty.method=conformal|ensemble|mc-dropout``). Per (dataset, split
kind), and for transfer tasks:

* a table per model: nominal level, coverage of the test pairs by the
  intervals and their mean width, the spread of per-drug coverage and the worst
  drug's, AURC against the constant-width interval, expected calibration error
  of the calibrated and the raw probabilities, coverage and size of conformal sets
  (the metrics :func:`drpkit.evaluate.calibration.uncertainty_metrics` stored
  with each task; mean ± sd over folds);
* risk-coverage curves: mean absolute error of the pairs kept as the most
  uncertain are dropped (test pairs of every fold pooled), each model beside its
  constant-width line (no ranking: its overall error);
* per-drug coverage of each model against the nominal level;
* reliability diagrams of the calibrated probabilities (``score_cal``).
"""
from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from drpkit.evaluate.calibration import (
    MIN_DRUG_PAIRS,
    drug_coverage,
    reliability_table,
    risk_coverage,
    value_spread,
)

METRICS = {"interval_coverage": "coverage", "interval_width_mean": "mean width",
           "interval_drug_coverage_sd": "per-drug coverage sd",
           "interval_drug_coverage_min": "worst drug's coverage", "aurc": "AURC",
           "aurc_constant": "AURC, constant width", "ece": "ECE", "ece_raw": "ECE, raw score",
           "set_coverage": "set coverage", "set_size_mean": "mean set size"}
CURVE_POINTS = 400
MIN_BIN_PAIRS = 20  # reliability bins with fewer test pairs are not drawn (noise)


def _setting(run: Any, task_id: str) -> tuple[str, float | None]:
    """The uncertainty setting of a task as text, and its nominal level (1 - alpha)."""
    config = run.infos[task_id].get("config") or {}
    settings = config.get("uncertainty") or {}
    method = settings.get("method", "none")
    if method == "none":
        return "none", None
    text = method + (", per drug" if settings.get("mondrian") == "drug" else "")
    return text, 1 - float(settings.get("alpha", 0.1))


def calibration_table(run: Any, tasks: pd.DataFrame, title: str):
    """One row per model of ``tasks`` that has uncertainty metrics."""
    from drpkit.report.tables import Table, mean_sd

    shown = [m for m in METRICS if m in tasks and tasks[m].notna().any()]
    rows = []
    for model in run.models:
        part = tasks[tasks["model"] == model]
        if part.empty or not shown or part[shown].isna().all().all():
            continue
        method, nominal = _setting(run, part["id"].iloc[0])
        rows.append([model, method, "" if nominal is None else f"{nominal:.0%}", str(len(part)),
                     *(mean_sd(part[m].mean(), part[m].std()) for m in shown)])
    if not rows:
        return None
    return Table(title, ["Model", "Uncertainty", "Nominal", "Tasks",
                         *(METRICS[m] for m in shown)], rows,
                 notes=[("Mean ± sd over tasks. Coverage: share of test pairs inside their "
                        "interval; AURC: area under the risk-coverage curve (lower is better), "
                        "beside the same for a constant width, which ranks no pair.")])


def figures(predictions: pd.DataFrame, models: list[str], nominal: dict[str, float | None],
            palette: dict, title: str) -> list[tuple[str, Figure]]:
    """Risk-coverage, per-drug coverage and reliability figures of pooled test predictions."""
    from drpkit.report.figures import _figure

    out: list[tuple[str, Figure]] = []
    by_model = {m: predictions[predictions["model"] == m] for m in models}
    spreads = {m: value_spread(r) for m, r in by_model.items() if len(r) and r["yhat"].notna().all()}
    ranked = {m: by_model[m] for m, s in spreads.items() if s is not None}
    if ranked:
        fig, (ax,) = _figure(1, 1, 3.6, f"Risk-coverage: {title}")
        for model, rows in ranked.items():
            errors = np.abs(rows["y"] - rows["yhat"]).to_numpy(np.float64)
            curve = risk_coverage(errors, np.asarray(spreads[model]))
            step = max(1, len(curve) // CURVE_POINTS)
            ax.plot(curve["coverage"][::step], curve["risk"][::step], color=palette[model],
                    label=model)
            ax.axhline(errors.mean(), color=palette[model], linestyle=":", linewidth=1)
        ax.set(xlabel="share of pairs kept (most certain first)",
               ylabel="mean absolute error of kept pairs")
        ax.legend(fontsize=8)
        out.append((("Error of the pairs kept as the most uncertain are dropped; dotted: the "
                    "same model's constant-width line."), fig))
    covered = {m: r for m, r in ranked.items() if {"value_lo", "value_hi"} <= set(r)}
    if covered:
        fig, (ax,) = _figure(1, 1, 3.2, f"Coverage per drug: {title}")
        boxes = []
        for rows in covered.values():
            boxes.append(drug_coverage(rows["y"], rows["value_lo"], rows["value_hi"],
                                       rows["drug"]).to_numpy())
        ax.boxplot(boxes, tick_labels=list(covered), vert=False)
        for model in covered:
            if nominal.get(model) is not None:
                ax.axvline(nominal[model], color="grey", linestyle="--", linewidth=1)
        ax.set(xlabel=f"coverage of a drug's test pairs (drugs with >= {MIN_DRUG_PAIRS})")
        out.append((("Each drug's share of test pairs inside their intervals; dashed: the "
                    "nominal level."), fig))
    calibrated = {m: r.dropna(subset=["label", "score_cal"]) for m, r in by_model.items()
                  if "score_cal" in r and (r["label"].notna() & r["score_cal"].notna()).any()}
    if calibrated:
        fig, (ax,) = _figure(1, 1, 3.6, f"Reliability: {title}")
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        for model, rows in calibrated.items():
            for column, style in (("score_cal", "-"), ("score", ":")):
                table = reliability_table(rows["label"], rows[column])
                table = table[table["n"] >= MIN_BIN_PAIRS]
                ax.plot(table["mean_prob"], table["observed"], style, marker="o", markersize=3,
                        color=palette[model],
                        label=f"{model} ({'calibrated' if column == 'score_cal' else 'raw'})")
        ax.set(xlabel="predicted probability of sensitivity", ylabel="observed rate")
        ax.legend(fontsize=8)
        out.append((("Observed rate of sensitive pairs per probability bin (bins with "
                    f">= {MIN_BIN_PAIRS} pairs); solid: isotonic-calibrated on validation "
                    "pairs, dotted: the model's raw score."), fig))
    return out


def uncertainty_html(run: Any, palette: dict) -> str | None:
    """HTML of the section, or None when no task of the run has uncertainty outputs."""
    from drpkit.report.figures import png
    from drpkit.report.page import figure_html, table_html

    parts = []
    for group in run.groups():
        tasks = run.cv_results(group)
        table = calibration_table(run, tasks, f"{group.title} ({group.design})")
        if table is None:
            continue
        parts.append(f"<h3>{escape(group.title)}</h3>" + table_html(table))
        models = [row[0] for row in table.rows]
        nominal = {m: _setting(run, tasks.loc[tasks["model"] == m, "id"].iloc[0])[1]
                   for m in models}
        for caption, fig in figures(run.predictions(group), models, nominal, palette,
                                    group.title):
            parts.append(figure_html(png(fig), caption, f"uncertainty, {group.title}"))
    transfer = run.kind("transfer")
    if len(transfer):
        table = calibration_table(run, transfer, "Transfer tasks (every target pair)")
        if table is not None:
            parts.append("<h3>Transfer</h3>" + table_html(table))
    return "".join(parts) or None
