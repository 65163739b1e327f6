"""The benchmark report: a run directory of ``drpkit benchmark`` turned into
one self-contained HTML page and paper-ready leaderboards.

What it writes (see :func:`build_report`):

* ``report.html``: leaderboards per (dataset, split kind) with significance
  against the best baseline, Friedman test and critical-difference plot, ROC
  and PR curves, predicted-vs-observed plots, per-drug and per-tissue
  breakdowns, training curves, the cross-dataset transfer table, the
  hyperparameter search and the exact config; no network is needed to open it;
* ``leaderboard.md``: the leaderboards (and transfer tables) in Markdown;
* ``tasks.csv``: one row per finished task (metrics, seconds, threads, peak
  memory, package versions; no predictions), the record to commit;
* ``leaderboard.csv``: one row per dataset x split x model with mean and sd
  of every metric and the significance columns.

Modules: :mod:`~drpkit.report.run` reads the run directory,
:mod:`~drpkit.report.tables` computes leaderboards and tests,
:mod:`~drpkit.report.figures` draws the figures and
:mod:`~drpkit.report.page` assembles the HTML.
"""
from __future__ import annotations

from pathlib import Path

from drpkit.atomic import atomic_write_text
from drpkit.report.page import render
from drpkit.report.run import ReportRun
from drpkit.report.tables import (
    build_leaderboards,
    leaderboard_csv,
    markdown,
    search_tables,
    transfer_tables,
)

__all__ = ["build_report"]


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the HTML report and the Markdown / CSV leaderboards of a benchmark run.

    Only ``cv`` tasks enter the leaderboards and figures, ``trial`` tasks the
    search section and ``transfer`` tasks the transfer tables. The report can
    be built while the benchmark still runs: it covers the tasks finished so far.

    Args:
        run_dir: run directory written by ``drpkit benchmark``.
        out: path of the HTML file (default ``run_dir/report.html``);
            ``leaderboard.md`` and ``leaderboard.csv`` always go to ``run_dir``.

    Returns:
        The path of the HTML report.

    Raises:
        DataError: ``run_dir`` is not a benchmark run directory or has no
            finished task.
    """
    run = ReportRun(run_dir)
    boards = build_leaderboards(run)
    transfer, search = transfer_tables(run), search_tables(run)
    title = f"Leaderboard: {run.grid.get('name', run.root.name)}"
    atomic_write_text(run.root / "leaderboard.csv",
                       leaderboard_csv(boards).to_csv(index=False))
    atomic_write_text(run.root / "tasks.csv", run.task_table().to_csv(index=False))
    atomic_write_text(run.root / "leaderboard.md",
                       markdown(title, [t for b in boards for t in b.tables()] + transfer))
    path = Path(out) if out is not None else run.root / "report.html"
    atomic_write_text(path, render(run, boards, transfer, search))
    return path
