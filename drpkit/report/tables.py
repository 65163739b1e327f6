"""Leaderboards with significance tests, and the transfer and search tables.

A leaderboard is one (dataset, split kind): one row per model, mean ± sd over
folds x seeds of the key metrics. A difference in means alone does not say
whether a model beats the baselines, so every model is also compared with the
*best baseline* (the reference model with the best mean) over the same
(seed, fold) pairs, with the tests of :mod:`drpkit.evaluate.stats`:

* paired Wilcoxon signed-rank, Holm-corrected across the compared models
  (:func:`~drpkit.evaluate.stats.compare_to_reference`); its exact p cannot go
  below ``2 / 2**n`` with ``n`` pairs (0.0625 with 5 folds), so
* the paired t-test p is shown next to it;
* a Friedman test across all models (blocks = folds x seeds) with average
  ranks and the Nemenyi critical difference (Demsar, 2006) for the
  critical-difference plot.

Tables are built once as :class:`Table` (text cells, which ones are bold,
notes) and written as HTML (:mod:`drpkit.report.page`), Markdown and CSV.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from drpkit.evaluate.stats import (
    average_ranks,
    compare_to_reference,
    friedman_test,
    nemenyi_critical_difference,
    paired_ttest,
)
from drpkit.experiment.executors import LOWER_IS_BETTER
from drpkit.experiment.transfer import NOVELTY
from drpkit.report.run import KEY, Group, ReportRun, TaskTable, is_baseline

LABELS = {"pcc": "PCC", "scc": "SCC", "rmse": "RMSE", "drug_pcc_mean": "PCC per drug",
          "drug_auroc_mean": "AUROC per drug",
          "pcc_norm": "PCC norm.", "auroc": "AUROC", "auprc": "AUPRC", "f1": "F1",
          "mcc": "MCC"}
REGRESSION_METRICS = ("pcc", "scc", "rmse", "drug_pcc_mean", "pcc_norm")
CLASSIFICATION_METRICS = ("auroc", "auprc", "drug_auroc_mean", "f1", "mcc")
LEADERBOARD_METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS
# compared with the best baseline: overall, and within drugs (where a model must rank
# cells, which a per-drug mean cannot)
TESTED = ("auroc", "pcc", "drug_auroc_mean", "drug_pcc_mean")
TRANSFER_METRICS = ("pcc", "scc", "drug_pcc_mean", "auroc", "auprc")
NOVELTY_METRICS = ("auroc", "pcc")  # pair counts n[...] go in the note
SEARCH_METRICS = ("auroc", "pcc")  # validation metrics shown when the search names none
ALPHA = 0.05
DASH = "–"


def higher_is_better(metric: str) -> bool:
    """False for error metrics (``rmse``, ``mae``, also as ``rmse[...]``)."""
    return metric.split("[")[0] not in LOWER_IS_BETTER


def label(metric: str) -> str:
    """Display name: ``auroc`` -> ``AUROC``, ``auroc[new drug]`` -> ``AUROC new drug``."""
    base, _, group = metric.partition("[")
    return f"{LABELS.get(base, base)} {group.rstrip(']')}".strip()


@dataclass
class Table:
    """A display table shared by the HTML and Markdown writers.

    Attributes:
        title: caption (names the dataset, split kind, folds and seeds).
        header: column names.
        rows: text cells.
        bold: (row, column) cells to emphasise (best value of a column).
        notes: sentences printed under the table.
    """

    title: str
    header: list[str]
    rows: list[list[str]]
    bold: set[tuple[int, int]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ summaries
def summarise(results: pd.DataFrame, by: str, metrics: list[str]) -> pd.DataFrame:
    """Mean and sd (ddof 1) of ``metrics`` per ``by`` value: columns ``m_mean``, ``m_sd``."""
    grouped = results.groupby(by, sort=False)[metrics]
    means, sds = grouped.mean().add_suffix("_mean"), grouped.std(ddof=1).add_suffix("_sd")
    out = pd.concat([means, sds], axis=1)
    return out[[f"{m}_{s}" for m in metrics for s in ("mean", "sd")]]


def mean_sd(mean: float, sd: float) -> str:
    """``0.712 ± 0.013`` (``0.712`` without sd, ``–`` for NaN)."""
    if pd.isna(mean):
        return DASH
    return f"{mean:.3f} ± {sd:.3f}" if pd.notna(sd) else f"{mean:.3f}"


def best_cells(stats: pd.DataFrame, order: list, metrics: list[str],
               first_column: int) -> set[tuple[int, int]]:
    """(row, column) of the best mean of each metric column (ties all bold)."""
    out = set()
    for j, metric in enumerate(metrics):
        means = stats.loc[order, f"{metric}_mean"].astype(float)
        if means.notna().sum() < 2:
            continue
        best = means.max() if higher_is_better(metric) else means.min()
        out |= {(i, first_column + j) for i, v in enumerate(means) if np.isclose(v, best)}
    return out


def present(results: pd.DataFrame, metrics) -> list[str]:
    """The ``metrics`` that some row of ``results`` has a value for."""
    return [m for m in metrics if m in results and results[m].notna().any()]


def _p(value: float) -> str:
    return DASH if pd.isna(value) else f"{value:.2g}"


# ------------------------------------------------------------- leaderboards
@dataclass
class Significance:
    """One metric of one leaderboard tested across models.

    Attributes:
        metric: the tested metric.
        reference: best baseline by mean (None without a baseline with values).
        comparison: per model ``n``, ``diff`` (model - reference), ``p_wilcoxon``,
            ``p_wilcoxon_holm``, ``p_ttest``, ``significantly_better`` (Holm p <
            ``ALPHA`` and the difference in the good direction).
        friedman: ``(chi2, p)`` over the complete (seed, fold) blocks.
        blocks: number of complete blocks.
        ranks: average rank per model (1 = best), None with < 2 models.
        cd: Nemenyi critical difference of the average ranks at ``ALPHA``.
    """

    metric: str
    reference: str | None
    comparison: pd.DataFrame
    friedman: tuple[float, float]
    blocks: int
    ranks: pd.Series | None
    cd: float | None


def significance(results: pd.DataFrame, metric: str, baselines: list[str]) -> Significance:
    """Compare every model having ``metric`` with the best baseline (see module docstring)."""
    wide = results.pivot(index=KEY, columns="model", values=metric).dropna(axis=1, how="all")
    hib = higher_is_better(metric)
    means = wide.mean()
    candidates = means[[m for m in baselines if m in wide]]
    reference = None if candidates.empty else (
        candidates.idxmax() if hib else candidates.idxmin())
    comparison = pd.DataFrame(index=wide.columns, columns=[
        "n", "diff", "p_wilcoxon", "p_wilcoxon_holm", "p_ttest", "significantly_better"])
    if reference is not None and wide.shape[1] > 1:
        long = results[results["model"].isin(wide.columns)].assign(
            fold=lambda f: f["seed"].astype(str) + ":" + f["fold"].astype(str))
        tested = compare_to_reference(long, reference, metric, hib, ALPHA).set_index("model")
        comparison[["n", "diff", "p_wilcoxon", "p_wilcoxon_holm", "significantly_better"]] = \
            tested[["n", "mean_diff", "p_value", "p_holm", "significantly_better"]]
        comparison["p_ttest"] = [np.nan if m == reference else
                                 paired_ttest(wide[m], wide[reference])[1] for m in wide]
    complete = wide.dropna()
    ranks = cd = None
    if wide.shape[1] >= 2 and len(complete):
        ranks = average_ranks(complete, hib)
        cd = nemenyi_critical_difference(wide.shape[1], len(complete), ALPHA)
    return Significance(metric, reference, comparison, friedman_test(complete), len(complete),
                        ranks, cd)


@dataclass
class Leaderboard:
    """Mean ± sd per model of one :class:`~drpkit.report.run.Group`, with tests."""

    group: Group
    stats: pd.DataFrame  # index model: tasks, m_mean, m_sd
    metrics: list[str]
    baselines: list[str]
    tests: dict[str, Significance]
    modes: dict[str, str] = field(default_factory=dict)  # graph model -> node mode

    @property
    def order(self) -> list[str]:
        """Models best first by the first tested metric (grid order without it)."""
        for metric in self.tests:
            return list(self.stats[f"{metric}_mean"].sort_values(
                ascending=not higher_is_better(metric), kind="stable").index)
        return list(self.stats.index)

    def frame(self) -> pd.DataFrame:
        """CSV rows: one per model with mean / sd and significance columns."""
        out = self.stats.reset_index().rename(columns={"index": "model"})
        out.insert(0, "split", self.group.split)
        out.insert(0, "dataset", self.group.dataset)
        out.insert(3, "baseline", out["model"].isin(self.baselines))
        out.insert(4, "folds", self.group.folds)
        out.insert(5, "seeds", self.group.seeds)
        for metric, test in self.tests.items():
            extra = test.comparison.assign(avg_rank=test.ranks).add_prefix(f"{metric}_")
            out = out.merge(extra, left_on="model", right_index=True, how="left")
            out[f"{metric}_reference"] = test.reference
            out[f"{metric}_friedman_p"] = test.friedman[1]
            out[f"{metric}_nemenyi_cd"] = test.cd
        return out

    def tables(self) -> list[Table]:
        """The leaderboard (mean ± sd, best bold) and, when a baseline has
        values, one significance table per tested metric (tests in the notes)."""
        g, order = self.group, self.order
        full = g.folds * g.seeds
        names = [m + (f" ({self.modes[m]})" if m in self.modes else "")
                 + (" (baseline)" if m in self.baselines else "")
                 + (f" [{self.stats.at[m, 'tasks']} of {full} tasks]"
                    if self.stats.at[m, "tasks"] < full else "") for m in order]
        rows = [[name, *(mean_sd(self.stats.at[model, f"{m}_mean"],
                                 self.stats.at[model, f"{m}_sd"]) for m in self.metrics)]
                for name, model in zip(names, order)]
        note = (f"Mean ± sd over {g.design} of dataset {g.dataset}, split {g.split}. Bold: best "
                "mean of each column. (baseline): reference models (DRPModel.baseline).")
        if self.modes:
            note += (" (inductive) / (transductive): the graph models' node mode (inductive: "
                     "only training cells and drugs are nodes while training; transductive: "
                     "every cell and drug of the dataset is, held-out ones without response "
                     "edges).")
        if (self.stats["tasks"] < full).any():
            note += " [k of n tasks]: the model's other folds failed or have not run yet."
        out = [Table(f"Leaderboard {g.title}: {g.design}", ["Model", *map(label, self.metrics)],
                     rows, best_cells(self.stats, order, self.metrics, 1), [note])]
        for metric, test in self.tests.items():
            if test.reference is None:
                continue
            name = label(metric)
            rows = [[n, *_test_cells(test, model)] for n, model in zip(names, order)
                    if model in test.comparison.index]
            bold = {(i, 3) for i, row in enumerate(rows) if row[3].endswith("*")}
            header = ["Model", f"Δ{name}", "p Wilcoxon", "p Wilcoxon-Holm", "p t-test",
                      "avg rank"]
            title = f"{name} vs the best baseline ({test.reference}), {g.title}: {g.design}"
            out.append(Table(title, header, rows, bold, _test_notes(test)))
        return out


def _test_cells(test: Significance, model: str) -> list[str]:
    """Δ, p Wilcoxon, p Holm (* when significantly better), p t-test, average rank."""
    rank = DASH if test.ranks is None or model not in test.ranks else f"{test.ranks[model]:.2f}"
    if model == test.reference:
        return ["reference", "", "", "", rank]
    row = test.comparison.loc[model]
    star = " *" if pd.notna(row["significantly_better"]) and row["significantly_better"] else ""
    return [f"{row['diff']:+.3f}", _p(row["p_wilcoxon"]), _p(row["p_wilcoxon_holm"]) + star,
            _p(row["p_ttest"]), rank]


def _test_notes(test: Significance) -> list[str]:
    """What the tests of ``test`` are, their floor with this many pairs, and Friedman."""
    name, n = label(test.metric), int(test.comparison["n"].max())
    compared = int(test.comparison["n"].notna().sum()) - 1
    tests = (f"{name}: each model minus the best baseline by mean {name} ({test.reference}) "
             "over the same (seed, fold) pairs. Wilcoxon: two-sided paired signed-rank test; "
             f"Wilcoxon-Holm: Holm-corrected across the {compared} compared models (* and "
             f"bold: significantly better, p < {ALPHA}); t-test: paired t-test, uncorrected. "
             f"With {n} pairs the exact Wilcoxon p cannot go below {2 / 2 ** n:.3g} (no "
             "difference reaches p < 0.05 with fewer than 6 folds × seeds), hence the t-test "
             "p next to it.")
    out = [tests]
    if test.cd is not None and test.ranks is not None:  # both set or both None
        chi2, p = test.friedman
        out.append(f"Friedman test on {name} ({len(test.ranks)} models, {test.blocks} "
                   f"(seed, fold) blocks): χ² = {chi2:.2f}, p = {_p(p)}; average rank 1 = best; "
                   f"Nemenyi critical difference {test.cd:.2f} ranks at α = {ALPHA}.")
    return out


def build_leaderboard(run: TaskTable, group: Group) -> Leaderboard:
    """The leaderboard of one (dataset, split kind) from its ``cv`` tasks."""
    results = run.cv_results(group)
    metrics = present(results, LEADERBOARD_METRICS)
    stats = summarise(results, "model", metrics).reindex(list(group.models))
    stats.insert(0, "tasks", results.groupby("model").size())
    baselines = [m for m in group.models if is_baseline(m)]
    tests = {m: significance(results, m, baselines) for m in TESTED if m in metrics}
    modes = {m: mode for m in group.models if (mode := run.node_mode(m))}
    return Leaderboard(group, stats, metrics, baselines, tests, modes)


def build_leaderboards(run: TaskTable) -> list[Leaderboard]:
    """One leaderboard per (dataset, split kind) of ``run``, in grid order."""
    return [build_leaderboard(run, group) for group in run.groups()]


# ------------------------------------------------------- transfer and search
def transfer_tables(run: ReportRun) -> list[Table]:
    """Per (source, target): overall and per-novelty metrics, mean ± sd over seeds."""
    tables = []
    transfer = run.kind("transfer")
    for (source, target), part in transfer.groupby(["dataset", "target"], sort=False):
        order = [m for m in run.models if m in set(part["model"])]
        seeds = part["seed"].nunique()
        design = f"{source} → {target}, {seeds} seed{'s' if seeds > 1 else ''}"
        info = run.infos[part["id"].iloc[0]]
        facts = ", ".join(f"{k.replace('_', ' ')} {info[k]}" for k in
                          ("drugs_matched", "target_drugs", "cells_in_source", "target_cells",
                           "genes_expression") if k in info)
        overall = present(part, TRANSFER_METRICS)
        pairs = {g: part[f"n[{g}]"].mean() for g in NOVELTY if f"n[{g}]" in part}
        pairs = {g: n for g, n in pairs.items() if n > 0}
        novelty = present(part, [f"{m}[{g}]" for g in pairs for m in NOVELTY_METRICS])
        counts = "; ".join(f"{g} {n:,.0f}" for g, n in pairs.items())
        note = (f"Fitted on all of {source} (10% validation), scored on every {target} pair; "
                f"mean ± sd over {seeds} seed(s). Novelty: whether the pair's cell / drug was "
                f"in the source training data; pairs per group: {counts}. {facts}.")
        for title, metrics in ((f"Transfer {design}", overall),
                               (f"Transfer {design}, by novelty of the pair", novelty)):
            stats = summarise(part, "model", metrics)
            rows = [[m, *(mean_sd(stats.at[m, f"{k}_mean"], stats.at[m, f"{k}_sd"])
                          for k in metrics)] for m in order]
            tables.append(Table(title, ["Model", *map(label, metrics)], rows,
                                best_cells(stats, order, metrics, 1), [note]))
    return tables


def search_tables(run: ReportRun) -> list[Table]:
    """Per searched model: every trial's setting and validation metric, the
    setting its ``cv`` task used marked as chosen."""
    trials, cv = run.kind("trial"), run.kind("cv").set_index(
        ["model", "dataset", "split", *KEY])["id"]
    tables = []
    for model in [m for m in run.models if m in set(trials["model"])]:
        part = trials[trials["model"] == model].sort_values(["dataset", "split", *KEY, "trial"])
        search = run.grid.get("search", {}).get(model, {})
        names = sorted(search.get("space", {}))
        metrics = present(part, [search["metric"]] if search.get("metric") else SEARCH_METRICS)
        header = ["Dataset", "Split", "Seed", "Fold", "Trial", *names,
                  *(f"val {label(m)}" for m in metrics), "Chosen"]
        rows, marked = [], set()
        for row in part.to_dict("records"):
            params = run.infos[row["id"]].get("params", {})
            fold = (model, row["dataset"], row["split"], row["seed"], row["fold"])
            cv_id = cv.get(fold)
            # the first trial with the used setting (equal settings score equally)
            chosen = (cv_id is not None and fold not in marked
                      and run.infos[cv_id].get("params") == params)
            if chosen:
                marked.add(fold)
            rows.append([row["dataset"], row["split"], str(row["seed"]), str(row["fold"]),
                         str(int(row["trial"])), *(_setting(params, n) for n in names),
                         *(DASH if pd.isna(row[m]) else f"{row[m]:.4f}" for m in metrics),
                         "✓" if chosen else ""])
        bold = {(i, len(header) - 1) for i, r in enumerate(rows) if r[-1]}
        rule = search.get("metric") or "PCC for models that predict values, else AUROC"
        note = ("Each trial is fitted on a fold's training part and scored on its validation "
                f"part only; the fold's cv task uses the best by validation {rule} (✓).")
        tables.append(Table(f"Search of {model}: {len(rows)} trials", header, rows, bold, [note]))
    return tables


def _setting(params: dict, dotted: str) -> str:
    value: object = params
    for part in dotted.split("."):
        value = value.get(part, DASH) if isinstance(value, dict) else DASH
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------- file output
def markdown(title: str, tables: list[Table]) -> str:
    """The tables as GitHub-flavoured Markdown (best values bold, notes below)."""
    lines = [f"# {title}", ""]
    for table in tables:
        lines += [f"## {table.title}", "", _md_row(table.header),
                  _md_row(["---"] + ["---:"] * (len(table.header) - 1))]
        lines += [_md_row([f"**{c}**" if (i, j) in table.bold and c else c
                           for j, c in enumerate(row)]) for i, row in enumerate(table.rows)]
        lines += ["", *(f"_{note}_\n" for note in table.notes), ""]
    return "\n".join(lines)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def leaderboard_csv(boards: list[Leaderboard]) -> pd.DataFrame:
    """All leaderboards as one long table (dataset x split x model rows)."""
    frames = [b.frame() for b in boards]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["dataset", "split", "model", "baseline", "folds", "seeds", "tasks"])


# ------------------------------------------------------ outputs and artifacts
SCORED_COLUMNS = {"cell", "drug", "y", "label", "yhat", "score", "baseline", "tissue", "novelty"}


def outputs_and_artifacts(run: ReportRun) -> Table | None:
    """Per model: prediction columns beyond the standard ones (``value_sd``,
    ``value_lo``...) and the artifact tables its tasks stored; None if no
    model has either."""
    import pyarrow.parquet as pq

    rows = []
    for model in run.models:
        ids = list(run.results.loc[run.results["model"] == model, "id"])
        extra: dict[str, None] = {}
        artifacts: dict[str, int] = {}
        for task_id in ids:
            path = run.store.tasks_dir / task_id / "predictions.parquet"
            extra.update(dict.fromkeys(c for c in pq.read_schema(path).names
                                       if c not in SCORED_COLUMNS))
            for name in run.store.artifact_names(task_id):
                artifacts[name] = artifacts.get(name, 0) + 1
        if extra or artifacts:
            rows.append([model, ", ".join(extra) or DASH,
                         ", ".join(f"{n} ({k} of {len(ids)} tasks)" for n, k in artifacts.items())
                         or DASH])
    if not rows:
        return None
    return Table("Extra outputs and artifacts", ["Model", "Extra output columns", "Artifacts"],
                 rows, notes=[("Extra output columns are in each task's predictions.parquet; "
                              "artifacts are in tasks/<id>/artifacts/ and read with "
                              "drpkit.experiment.store.RunStore(RUN).artifacts(task_id).")])
