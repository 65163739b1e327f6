"""The report's "Explanations" section: top genes per drug from stored artifacts.

For each model whose tasks stored ``drug_gene_scores`` (drGT's attention, or
any model exporting that table), the scores are averaged per (drug, gene) over
its tasks (absent = 0, as ``drpkit explain`` does), then shown as a table of
each drug's top genes (a ``*`` marks a known target in the model's graph,
hidden targets included) for the drugs with the most known targets among them,
and as a heatmap. The full rankings, figures and checks come from
``drpkit explain RUN --model MODEL [--validate]``.
"""
from __future__ import annotations

from html import escape

import pandas as pd

SHOWN_DRUGS = 12
SHOWN_GENES = 8


def _model_scores(run, model: str) -> tuple[pd.DataFrame, int] | None:
    from drpkit.explain.runs import SCORES, _average

    ids = [t for t in run.results.loc[run.results["model"] == model, "id"]
           if SCORES in run.store.artifact_names(t)]
    if not ids:
        return None
    frames = [run.store.artifacts(t)[SCORES] for t in ids]
    table = pd.concat(frames, ignore_index=True)
    known = set()
    for flag in ("dti", "hidden"):
        if flag in table:
            rows = table.loc[table[flag].astype(bool)]
            known |= set(zip(rows["drug"], rows["gene"], strict=True))
    scores = _average(table, "drug", len(ids))
    scores["known"] = [(d, g) in known for d, g in zip(scores["drug"], scores["gene"],
                                                       strict=True)]
    return scores, len(ids)


def explanations_html(run) -> str | None:
    """HTML of the section (tables and heatmaps), or None if no task has scores."""
    from drpkit.explain.figures import heatmap
    from drpkit.report.figures import png
    from drpkit.report.page import figure_html, table_html
    from drpkit.report.tables import Table

    parts = []
    for model in run.models:
        found = _model_scores(run, model)
        if found is None:
            continue
        scores, n_tasks = found
        top = scores.loc[scores["rank"] <= SHOWN_GENES]
        order = top.groupby("drug")["known"].sum().sort_values(ascending=False, kind="stable")
        drugs = list(order.index[:SHOWN_DRUGS])
        rows = [[drug, ", ".join(f"{g}{'*' if k else ''}" for g, k in top.loc[
            top["drug"] == drug, ["gene", "known"]].itertuples(index=False))]
            for drug in drugs]
        table = Table(f"{model}: top {SHOWN_GENES} genes per drug (mean over {n_tasks} tasks)",
                      ["Drug", "Genes (* known target in the graph)"], rows,
                      notes=[(f"{len(set(scores['drug']))} drugs ranked; the drugs with the "
                             "most known targets among their top genes are shown. Full "
                             "rankings, figures and checks: drpkit explain RUN --model "
                             f"{model} --validate.")])
        parts.append(f"<h3>{escape(model)}</h3>" + table_html(table))
        fig = heatmap(scores.loc[scores["drug"].isin(drugs)], SHOWN_GENES,
                      f"{model}: top genes per drug (outlined: known target)")
        parts.append(figure_html(png(fig), f"Scores of {model}'s top genes per drug, relative "
                                 "to each drug's best, averaged over tasks.",
                                 f"{model} drug-gene heatmap"))
    if not parts:
        return None
    intro = ('<p class="note">Drug-gene scores exported by the models (drGT: attention '
             "flow, drpkit.explain.attention), averaged per drug and gene over a model's "
             "tasks.</p>")
    return intro + "".join(parts)
