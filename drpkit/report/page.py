"""Assembly of the single-file HTML report.

The page is self-contained so it can be mailed, archived next to a paper or
opened on a machine without network: CSS is inline, figures are PNG data
URIs, and there is no script, font or link to fetch. Text from the run
(model names, errors, the config) is HTML-escaped.

Layout: a header with the run's facts, a table of contents, an overview of
finished and failed tasks, one section per (dataset, split kind) with its
leaderboard and figures (:data:`drpkit.report.figures.FIGURES`), then the
transfer tables, the hyperparameter search, extra outputs, uncertainty
(:mod:`drpkit.report.uncertainty`), explanations and the exact config.
"""
from __future__ import annotations

import json
import time
from html import escape
from typing import get_args

from drpkit.experiment.grid import TaskKind
from drpkit.report.figures import FIGURES, GroupData, colours, png
from drpkit.report.run import ReportRun, is_baseline
from drpkit.report.tables import Leaderboard, Table, outputs_and_artifacts

COLLAPSE_ROWS = 25  # longer tables are folded into <details>

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1200px; margin: 0 auto; padding: 1.5em 1.5em 4em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { border-bottom: 2px solid #ccd; padding-bottom: .2em; margin-top: 2.2em; }
h3 { margin-top: 1.6em; color: #335; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; }
dl.facts dt { font-weight: 600; color: #555; }
dl.facts dd { margin: 0; }
nav { background: #f6f7fa; border: 1px solid #dde; padding: .6em 1.2em; margin: 1em 0; }
nav ol { margin: .2em 0; padding-left: 1.4em; }
table { border-collapse: collapse; margin: .6em 0; font-size: 12.5px; }
caption { text-align: left; font-weight: 600; padding: .3em 0; }
th, td { border: 1px solid #d8d8e0; padding: .25em .55em; text-align: right;
         white-space: nowrap; }
th { background: #eef0f5; }
th:first-child, td:first-child { text-align: left; }
tbody tr:nth-child(even) { background: #fafafc; }
td b { color: #0a3d91; }
.scroll { overflow-x: auto; max-width: 100%; }
p.note { font-size: 12px; color: #555; margin: .25em 0; max-width: 900px; }
figure { margin: 1em 0 1.6em; }
figure img { display: block; max-width: min(900px, 100%); height: auto;
             border: 1px solid #eee; }
figcaption { font-size: 12px; color: #444; max-width: 900px; margin-top: .3em; }
pre { background: #f6f7fa; border: 1px solid #dde; padding: .8em; overflow-x: auto;
      font-size: 12px; }
details { margin: .5em 0; }
summary { cursor: pointer; }
.failed { color: #a31515; }
"""


# ------------------------------------------------------------------ pieces
def table_html(table: Table) -> str:
    """A :class:`Table` with its caption, bold best cells and notes."""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td><b>{escape(c)}</b></td>" if (i, j) in table.bold and c
                         else f"<td>{escape(c)}</td>" for j, c in enumerate(row)) + "</tr>"
        for i, row in enumerate(table.rows))
    html = (f'<div class="scroll"><table><caption>{escape(table.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
            + "".join(f'<p class="note">{escape(n)}</p>' for n in table.notes))
    if len(table.rows) > COLLAPSE_ROWS:
        html = (f"<details><summary>{escape(table.title)} ({len(table.rows)} rows)</summary>"
                f"{html}</details>")
    return html


def figure_html(uri: str, caption: str, alt: str) -> str:
    return (f'<figure><img src="{uri}" alt="{escape(alt)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _facts(items: dict[str, str]) -> str:
    return '<dl class="facts">' + "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items.items() if v) + "</dl>"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours} h " if hours else "") + (f"{minutes} min " if minutes else "") + f"{sec} s"


# ---------------------------------------------------------------- sections
def header(run: ReportRun) -> tuple[str, str]:
    """Title and the run's facts (grid, datasets, date, wall time, task counts):
    ``(html, title)``."""
    grid, timing = run.grid, run.timing()
    transfer = run.kind("transfer")
    pairs = sorted({f"{s} → {t}" for s, t in zip(transfer["dataset"], transfer["target"])})
    done, failed = len(run.results), len(run.failures)
    tasks = f"{done} finished, {failed} failed" + (
        f", {run.expected - done - failed} not run" if run.expected else "")
    if run.ignored:
        tasks += f" ({run.ignored} finished tasks of another grid in the directory left out)"
    facts = {
        "Grid": str(grid.get("name", "")),
        "Datasets": ", ".join(sorted(set(run.kind("cv")["dataset"]))),
        "Transfer": ", ".join(pairs),
        "Models": ", ".join(f"{m} (baseline)" if is_baseline(m) else m for m in run.models),
        "Splits": ", ".join(grid.get("splits", [])),
        "Folds × seeds": f"{grid.get('folds', '?')} × {len(grid.get('seeds', []))}",
        "Started": str(timing["started"] or ""),
        "Wall time": (f"{_duration(timing['wall'])} ({timing['wall_how']})"
                      if timing["wall"] is not None else ""),
        "Fitting time": _duration(timing["fit_seconds"]) + " (summed over tasks)",
        "Tasks": tasks,
        "Report written": time.strftime("%Y-%m-%d %H:%M"),
        "Run directory": str(run.root.resolve()),
    }
    title = f"drpkit benchmark report: {grid.get('name', run.root.name)}"
    return f"<header><h1>{escape(title)}</h1>{_facts(facts)}</header>", title


def overview(run: ReportRun) -> str:
    """Finished and failed tasks per kind, each failure with its error."""
    kinds = get_args(TaskKind)
    failed = [f.get("task", {}).get("kind") for f in run.failures.values()]
    table = Table("Tasks per kind", ["Kind", "Finished", "Failed"],
                  [[k, str(len(run.kind(k))), str(failed.count(k))] for k in kinds])
    html = table_html(table)
    for task_id, failure in run.failures.items():
        html += (f'<details><summary class="failed">{escape(task_id)}: '
                 f"{escape(str(failure.get('error', '')))}</summary>"
                 f"<pre>{escape(str(failure.get('traceback', '')))}</pre></details>")
    return html


def group_section(run: ReportRun, board: Leaderboard, palette: dict) -> str:
    """Leaderboard and figures of one (dataset, split kind)."""
    group = board.group
    data = GroupData(group, run.predictions(group), run.histories(group), board.tests, palette)
    parts = [table_html(t) for t in board.tables()]
    for kind in FIGURES:
        built = kind.build(data)
        if built:
            parts.append(f'<h3 id="{group.anchor}-{kind.key}">{escape(kind.heading)}</h3>')
        for caption, fig in built:
            full = f"{caption} Dataset {group.dataset}, split {group.split}, {group.design}."
            parts.append(figure_html(png(fig), full, f"{kind.heading}, {group.title}"))
    return "".join(parts)


def render(run: ReportRun, boards: list[Leaderboard], transfer: list[Table],
           search: list[Table]) -> str:
    """The whole page as one HTML string."""
    top, title = header(run)
    palette = colours(run.models)
    sections = [("overview", "Run overview", overview(run))]
    sections += [(b.group.anchor, f"{b.group.title} ({b.group.design})",
                  group_section(run, b, palette)) for b in boards]
    if transfer:
        sections.append(("transfer", "Cross-dataset transfer",
                         "".join(table_html(t) for t in transfer)))
    if search:
        sections.append(("search", "Hyperparameter search",
                         "".join(table_html(t) for t in search)))
    extras = outputs_and_artifacts(run)
    if extras is not None:
        sections.append(("artifacts", "Extra outputs and artifacts", table_html(extras)))
    from drpkit.report.uncertainty import uncertainty_html  # intervals, sds, probabilities

    calibrated = uncertainty_html(run, palette)
    if calibrated is not None:
        sections.append(("uncertainty", "Uncertainty", calibrated))
    from drpkit.explain.report import explanations_html  # drug-gene scores, if any

    explained = explanations_html(run)
    if explained is not None:
        sections.append(("explanations", "Explanations", explained))
    config = json.dumps(run.grid, indent=2, default=str)
    versions = json.dumps(run.config.get("versions", {}), indent=2)
    settings = (f"<h3>Grid (config.json: grid)</h3><pre>{escape(config)}</pre>"
                f"<h3>Versions</h3><pre>{escape(versions)}</pre>")
    sections.append(("config", "Config and package versions", settings))
    toc = "".join(f'<li><a href="#{a}">{escape(t)}</a></li>' for a, t, _ in sections)
    body = "".join(f'<section><h2 id="{a}">{escape(t)}</h2>{html}</section>'
                   for a, t, html in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{top}"
            f"<nav><strong>Contents</strong><ol>{toc}</ol></nav>{body}</body></html>\n")
