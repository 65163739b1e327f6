"""Figures of the report, drawn with matplotlib's Agg canvas and embedded as PNG.

Figures are built on bare :class:`matplotlib.figure.Figure` objects (no
pyplot), so the report neither changes the caller's backend nor keeps
figures alive in pyplot's global registry, and works on headless machines.
Each figure is 9 inches wide at 100 dpi (about 900 px) and titled with its
dataset, split kind, folds and seeds.

:data:`FIGURES` lists the figures of one (dataset, split kind) in report
order; each builder takes a :class:`GroupData` and returns ``(caption,
figure)`` pairs, none when its data is absent (no tissues, no torch models,
no model that predicts values), so the page assembles them in one loop.
"""
from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from drpkit.evaluate.metrics import (
    auprc,
    auroc,
    grouped_classification_metrics,
    grouped_regression_metrics,
    pcc,
)
from drpkit.report.run import KEY, Group
from drpkit.report.tables import Significance, label

WIDTH, DPI = 9.0, 100
MAX_CURVE_POINTS = 1500  # ROC / PR curves are thinned to this many points
MIN_GROUP_PAIRS = 10  # per-drug / per-tissue metrics need this many pairs per fold
MIN_TISSUE_PAIRS = 50  # tissues with fewer test pairs (all folds) are left out
# heatmaps of more models than this go one per row, so their annotated cells stay legible
MAX_SIDE_BY_SIDE_MODELS = 7
MAX_TISSUES = 30
LOSSES = {"loss", "bce", "mse", "rmse", "mae"}  # validation metrics drawn with the loss


def png(fig: Figure) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def colours(models: list[str]) -> dict[str, tuple]:
    """One colour per model, the same in every figure."""
    palette = colormaps["tab10" if len(models) <= 10 else "tab20"]
    return {m: palette(i % palette.N) for i, m in enumerate(models)}


def _figure(panels: int, ncols: int, row_height: float | None, title: str):
    """A figure of ``panels`` axes in rows of at most ``ncols`` (balanced: 4 panels
    as 2 x 2, not 3 + 1), titled; ``row_height`` None makes square panels."""
    nrows = math.ceil(panels / max(1, ncols))
    ncols = math.ceil(panels / nrows)
    row_height = row_height or min(3.6, WIDTH / ncols * 0.8)
    fig = Figure(figsize=(WIDTH, row_height * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    return fig, axes[:panels]


@dataclass
class GroupData:
    """What the figures of one (dataset, split kind) draw from.

    Attributes:
        group: the (dataset, split kind).
        predictions: stacked test predictions with ``model``, ``seed``, ``fold``.
        histories: model -> training history (torch models).
        tests: tested metric -> :class:`~drpkit.report.tables.Significance`.
        palette: model -> colour.
    """

    group: Group
    predictions: pd.DataFrame
    histories: dict[str, dict]
    tests: dict[str, Significance]
    palette: dict[str, tuple]

    def title(self, what: str) -> str:
        return f"{what}: {self.group.title} ({self.group.design})"

    def model_rows(self, labelled: bool = False):
        """``(model, rows)`` per model in grid order; ``labelled`` keeps rows with a label."""
        frame = self.predictions.dropna(subset=["label"]) if labelled else self.predictions
        for model in self.group.models:
            rows = frame[frame["model"] == model]
            if len(rows):
                yield model, rows

    @cached_property
    def value_models(self) -> list[str]:
        """Models that predict values (``yhat`` given for every pair)."""
        return [m for m, rows in self.model_rows() if rows["yhat"].notna().all()]

    def per_fold_groups(self, column: str) -> pd.DataFrame:
        """Per-``column`` AUROC (and PCC for value models) of every (model, seed,
        fold): columns ``model, group, n, auroc, pcc`` (groups below
        ``MIN_GROUP_PAIRS`` pairs are left out, as in the leaderboards)."""
        frames = []
        for (model, *_), part in self.predictions.groupby(["model", *KEY], sort=False):
            table = grouped_classification_metrics(part[part["label"].notna()], column,
                                                   min_size=MIN_GROUP_PAIRS)
            table = table.reindex(columns=["group", "n", "auroc"])
            if model in self.value_models:
                values = grouped_regression_metrics(part, column, min_size=MIN_GROUP_PAIRS)
                table = table.merge(values.reindex(columns=["group", "pcc"]), on="group",
                                    how="outer")
            frames.append(table.assign(model=model))
        return pd.concat(frames, ignore_index=True).reindex(
            columns=["model", "group", "n", "auroc", "pcc"])


Built = list[tuple[str, Figure]]


# -------------------------------------------------------------------- builders
def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= MAX_CURVE_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, MAX_CURVE_POINTS).astype(int))
    return x[keep], y[keep]


def roc_pr_curves(data: GroupData) -> Built:
    """ROC and precision-recall curves of test predictions pooled over folds and seeds."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    fig, (roc, pr) = _figure(2, 2, 4.2, data.title("ROC and precision-recall"))
    prevalence = []
    for model, rows in data.model_rows(labelled=True):
        y, s = rows["label"].to_numpy(float), rows["score"].to_numpy(float)
        if len(np.unique(y)) < 2:
            continue
        colour = data.palette[model]
        fpr, tpr, _ = roc_curve(y, s)
        roc.plot(*_thin(fpr, tpr), color=colour, lw=1.4, label=f"{model} ({auroc(y, s):.3f})")
        precision, recall, _ = precision_recall_curve(y, s)
        pr.plot(*_thin(recall, precision), color=colour, lw=1.4,
                label=f"{model} ({auprc(y, s):.3f})")
        prevalence.append(y.mean())
    if not prevalence:
        return []
    roc.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    pr.axhline(float(np.mean(prevalence)), ls=":", color="grey", lw=1)
    for ax, (xl, yl, legend) in zip((roc, pr), (("false positive rate", "true positive rate",
                                                 "AUROC"), ("recall", "precision", "AUPRC"))):
        ax.set(xlabel=xl, ylabel=yl, xlim=(0, 1), ylim=(0, 1.01))
        ax.legend(title=f"pooled {legend}", fontsize=8, title_fontsize=8, loc="best")
    return [("Test predictions of all folds pooled; dotted: chance (diagonal, prevalence).",
             fig)]


def scatter(data: GroupData) -> Built:
    """Predicted vs observed response (hexbin, log counts) per model that predicts values."""
    models = data.value_models
    if not models:
        return []
    fig, axes = _figure(len(models), 3, None, data.title("Predicted vs observed"))
    values = data.predictions[data.predictions["model"].isin(models)]
    low, high = np.nanpercentile(values[["y", "yhat"]].to_numpy(float), [0.1, 99.9])
    for ax, model in zip(axes, models):
        rows = values[values["model"] == model]
        y, yhat = rows["y"].to_numpy(float), rows["yhat"].to_numpy(float)
        ax.hexbin(y, yhat, gridsize=40, bins="log", mincnt=1, cmap="viridis",
                  extent=(low, high, low, high))
        ax.plot([low, high], [low, high], ls=":", color="grey", lw=1)
        ax.set(xlim=(low, high), ylim=(low, high), xlabel="observed", ylabel="predicted",
               title=f"{model}: PCC {pcc(y, yhat):.3f}")
        ax.title.set_fontsize(9)
    caption = ("Pooled test pairs (colour: log count per hexagon); dotted: identity; PCC of "
               "the pooled pairs.")
    return [(caption, fig)]


def per_drug(data: GroupData) -> Built:
    """Box plots over drugs (and folds) of per-drug AUROC and PCC per model."""
    table = data.per_fold_groups("drug")
    panels = [(m, table.dropna(subset=[m])) for m in ("auroc", "pcc")]
    panels = [(m, t) for m, t in panels if len(t)]
    if not panels:
        return []
    fig, axes = _figure(len(panels), 2, 3.6, data.title("Per-drug metrics"))
    for ax, (metric, rows) in zip(axes, panels):
        models = [m for m in data.group.models if m in set(rows["model"])]
        samples = [rows.loc[rows["model"] == m, metric].to_numpy(float) for m in models]
        box = ax.boxplot(samples, patch_artist=True, widths=0.6, showfliers=False)
        for patch, model in zip(box["boxes"], models):
            patch.set(facecolor=data.palette[model], alpha=0.45)
        rng = np.random.default_rng(0)
        for i, sample in enumerate(samples, start=1):
            ax.scatter(i + rng.uniform(-0.18, 0.18, len(sample)), sample, s=6, color="black",
                       alpha=0.35, lw=0)
        ax.axhline(0.5 if metric == "auroc" else 0.0, ls=":", color="grey", lw=1)
        ax.set_xticks(range(1, len(models) + 1), models, rotation=30, ha="right", fontsize=8)
        ax.set(ylabel=f"per-drug {label(metric)}")
    caption = (f"One point per drug and fold (drugs with at least {MIN_GROUP_PAIRS} test "
               "pairs in the fold); dotted: chance.")
    return [(caption, fig)]


def per_tissue(data: GroupData) -> Built:
    """Heatmaps of the mean over folds of per-tissue AUROC (and PCC) per model."""
    if "tissue" not in data.predictions or data.predictions["tissue"].isna().all():
        return []
    first = data.predictions[data.predictions["model"] == data.group.models[0]]
    counts = first["tissue"].value_counts()
    tissues = list(counts[counts >= MIN_TISSUE_PAIRS].index[:MAX_TISSUES])
    table = data.per_fold_groups("tissue")
    table = table[table["group"].isin(tissues)]
    panels = []
    for metric in ("auroc", "pcc"):
        grid = table.pivot_table(index="group", columns="model", values=metric, aggfunc="mean")
        if grid.notna().any().any():
            panels.append((metric, grid.reindex(index=tissues, columns=[
                m for m in data.group.models if m in grid.columns]).dropna(how="all")))
    if not panels:
        return []
    # side by side while the annotated cells fit; one panel per row beyond that
    columns = max(grid.shape[1] for _, grid in panels)
    per_row = 2 if columns <= MAX_SIDE_BY_SIDE_MODELS else 1
    fig, axes = _figure(len(panels), per_row, 0.9 + 0.24 * len(tissues), data.title("Per tissue"))
    for ax, (metric, grid) in zip(axes, panels):
        values = grid.to_numpy(float)
        image = ax.imshow(values, aspect="auto", cmap="viridis")
        for (i, j), v in np.ndenumerate(values):
            if not np.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if v < np.nanmean(values) else "black")
        ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(grid.shape[0]),
                      [f"{t} ({counts[t]:,})" for t in grid.index], fontsize=7)
        ax.set_title(f"mean per-tissue {label(metric)}", fontsize=9)
        ax.figure.colorbar(image, ax=ax, shrink=0.6)
    caption = (f"Mean over folds of the metric within each tissue (tissues with at least "
               f"{MIN_TISSUE_PAIRS} test pairs, in brackets; at least {MIN_GROUP_PAIRS} per "
               "fold).")
    return [(caption, fig)]


def training_curves(data: GroupData) -> Built:
    """Training loss and validation metrics per epoch of one fold per torch model."""
    if not data.histories:
        return []
    fig, axes = _figure(len(data.histories), 2, 3.0, data.title("Training curves"))
    for ax, (model, history) in zip(axes, data.histories.items()):
        ax.plot(history["train_loss"], color="C0", lw=1.4, label="train loss")
        if history.get("refit"):
            ax.plot(history["refit"]["train_loss"], color="C0", ls=":", lw=1.2,
                    label="refit loss (train + val)")
        keys = sorted({k for row in history.get("val", []) for k in row} - {"epoch"})
        scores = ax.twinx() if any(k.removeprefix("val_") not in LOSSES for k in keys) else None
        for i, key in enumerate(keys, start=1):
            epochs = [row["epoch"] for row in history["val"] if key in row]
            target = ax if key.removeprefix("val_") in LOSSES else scores
            assert target is not None  # scores exists whenever a key is not a loss
            target.plot(epochs, [row[key] for row in history["val"] if key in row],
                        color=f"C{i}", lw=1.2, ls="--" if target is ax else "-", label=key)
        best = history.get("best_epoch", -1)
        if best is not None and best >= 0:
            ax.axvline(best, color="black", ls=":", lw=1, label=f"best epoch {best}")
        ax.set(xlabel="epoch", ylabel="loss")
        ax.set_title(f"{model} (seed {history['seed']}, fold {history['fold']})", fontsize=9)
        handles = [h for a in (ax, scores) if a is not None
                   for h in a.get_legend_handles_labels()[0]]
        ax.legend(handles=handles, fontsize=7, loc="best")
        if scores is not None:
            scores.set_ylabel("validation score")
    caption = ("Dashed: validation losses (left axis); solid coloured: validation scores "
               "(right axis); dotted vertical: the epoch whose weights were kept.")
    return [(caption, fig)]


def critical_difference(data: GroupData) -> Built:
    """Critical-difference plots (Demsar, 2006), one per tested metric."""
    out = []
    for metric, test in data.tests.items():
        if test.ranks is None or test.cd is None:  # both None together (< 2 models)
            continue
        caption = (f"Average rank over the {test.blocks} (seed, fold) blocks (1 = best) by "
                   f"{label(metric)}; thick bars join models whose ranks differ by less than "
                   f"the Nemenyi critical difference (CD = {test.cd:.2f}, α = 0.05); Friedman "
                   f"p = {test.friedman[1]:.2g}.")
        title = data.title(f"Critical difference, {label(metric)}")
        out.append((caption, cd_figure(test.ranks, test.cd, title)))
    return out


def cd_figure(ranks: pd.Series, cd: float, title: str) -> Figure:
    """Models on an average-rank axis, bars joining groups not significantly different."""
    ranks = ranks.sort_values()
    k, half = len(ranks), math.ceil(len(ranks) / 2)
    fig = Figure(figsize=(WIDTH, 1.5 + 0.3 * half))
    ax = fig.add_axes((0.24, 0.02, 0.52, 0.8))
    ax.set_axis_off()
    lo, hi = 1.0, float(max(k, 2))
    ax.set(xlim=(lo, hi), ylim=(-(half + 1.2) * 0.3, 0.75))
    ax.hlines(0, lo, hi, color="black", lw=1)
    for r in range(1, int(hi) + 1):
        ax.vlines(r, 0, 0.08, color="black", lw=1)
        ax.text(r, 0.13, str(r), ha="center", va="bottom", fontsize=8)
    ax.hlines(0.55, lo, lo + cd, color="firebrick", lw=2)
    ax.text(lo + cd / 2, 0.6, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8,
            color="firebrick")
    for i, (model, rank) in enumerate(ranks.items()):
        left = i < half
        row = i if left else k - 1 - i
        y = -(row + 1) * 0.3 - 0.15
        end = lo - 0.04 * (hi - lo) if left else hi + 0.04 * (hi - lo)
        ax.plot([rank, rank, end], [0, y, y], color="black", lw=0.8, clip_on=False)
        ax.text(end + (-0.01 if left else 0.01) * (hi - lo), y, f"{model} ({rank:.2f})",
                ha="right" if left else "left", va="center", fontsize=8, clip_on=False)
    for j, (start, stop) in enumerate(_cliques(ranks.to_numpy(float), cd)):
        y = -0.1 - 0.07 * j
        ax.plot([start - 0.02, stop + 0.02], [y, y], color="black", lw=3.5,
                solid_capstyle="round", clip_on=False)
    fig.suptitle(title, fontsize=11)
    return fig


def _cliques(ranks: np.ndarray, cd: float) -> list[tuple[float, float]]:
    """Maximal runs of sorted ranks spanning at most ``cd`` (not significantly different)."""
    out, reach = [], -1
    for i in range(len(ranks)):
        j = int(np.searchsorted(ranks, ranks[i] + cd, side="right")) - 1
        if j > i and j > reach:
            out.append((ranks[i], ranks[j]))
            reach = j
    return out


@dataclass(frozen=True)
class FigureKind:
    """One figure section of a (dataset, split kind): heading, what it shows, builder."""

    key: str
    heading: str
    build: Callable[[GroupData], Built]


FIGURES = (
    FigureKind("cd", "Critical-difference plots", critical_difference),
    FigureKind("roc", "ROC and precision-recall curves", roc_pr_curves),
    FigureKind("scatter", "Predicted vs observed", scatter),
    FigureKind("drug", "Per-drug metrics", per_drug),
    FigureKind("tissue", "Per-tissue breakdown", per_tissue),
    FigureKind("training", "Training curves", training_curves),
)
