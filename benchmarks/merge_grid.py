"""Merge the tasks of new benchmark runs into a committed grid record.

A published grid is committed as ``tasks.csv`` (one row per finished task:
metrics, seconds, threads, versions) and ``leaderboard.csv``, both written by
``drpkit report``; the run directory with the predictions stays out of the
repository. When more folds of the grid run later, in a fresh directory

    drpkit benchmark benchmarks/configs/csg2a_gdsc2.toml --only-folds 4 --out runs/new

this script adds that run's tasks to the committed ``tasks.csv`` and recomputes
``leaderboard.csv`` from the merged table (``drpkit.report.run.TaskTable``), so
the record grows without the earlier run directories. Recomputing the committed
record alone reproduces its ``leaderboard.csv`` (tested).

Every task, committed or new, must be a task of the grid: ``--config``'s, else
the one the first run was made from (its ``config.json``), expanded over all its
folds and over the split kinds of the record too. Task ids hash every setting, so
a run made with other settings (or a record of another grid) is refused instead of
averaged in. A task id already in the record is replaced by the run's row; two ids
of one (model, split, seed, fold) are refused (``drpkit.report.run.merge_tasks``).
Only whole blocks are merged: a run's ``cv`` tasks of a (split, seed, fold) enter
once every model of the grid has finished that block (in the run or the record), so
every model's mean covers the same folds; ``--partial`` merges unfinished blocks too.
The record may be any task CSV (e.g. an ablation's ``ppi_none.csv``); a file
named ``tasks.csv`` gets its ``leaderboard.csv`` recomputed beside it. Files are
written atomically.

Usage:
    .venv/bin/python benchmarks/merge_grid.py benchmarks/results/csg2a_gdsc2/tasks.csv \\
        runs/csg2a_gdsc2 --config benchmarks/configs/csg2a_gdsc2.toml
    .venv/bin/python benchmarks/merge_grid.py \\
        benchmarks/results/csg2a_ablation/ppi_none.csv runs/csg2a_ablation_ppi_none
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from drpkit.atomic import atomic_write_text
from drpkit.errors import DataError
from drpkit.experiment.grid import GridConfig
from drpkit.experiment.store import RunStore
from drpkit.report.run import ReportRun, TaskTable, merge_tasks
from drpkit.report.tables import build_leaderboards, leaderboard_csv


def _grid(config: Path | None, runs: list[Path], record: pd.DataFrame) -> GridConfig:
    """The grid every task must belong to, over all its folds and the record's splits."""
    if config is not None:
        grid = GridConfig.from_file(config)
    elif runs:
        grid = GridConfig.build(RunStore(runs[0]).read_config().get("grid", {}),
                                source=str(runs[0] / "config.json"))
    else:
        raise DataError("no grid to check the tasks against: give --config or a run")
    splits = list(dict.fromkeys([*grid.splits, *record.get("split", pd.Series()).dropna()]))
    return grid.model_copy(update={"only_folds": None, "splits": splits})


BLOCK = ["split", "seed", "fold"]


def whole_blocks(run: pd.DataFrame, tables: list[pd.DataFrame], models: list[str]
                 ) -> pd.DataFrame:
    """``run``'s tasks less the ``cv`` tasks of blocks (split, seed, fold) where some
    model of ``models`` has no finished task in any of ``tables``; the dropped blocks
    are printed."""
    cv = pd.concat([t[t["kind"] == "cv"] for t in tables])
    done = cv.groupby(BLOCK)["model"].agg(set)
    whole = {block for block, names in done.items() if set(models) <= names}
    blocks = list(zip(*(run[c] for c in BLOCK)))
    keep = [kind != "cv" or block in whole for kind, block in zip(run["kind"], blocks)]
    for block in sorted({b for b, k in zip(blocks, keep) if not k}):
        print(f"not merged: {dict(zip(BLOCK, block))} has not finished for every model "
              "(--partial merges it)")
    return run[keep]


def merged_record(record: Path, runs: list[Path], config: Path | None = None,
                  partial: bool = False) -> tuple[pd.DataFrame, str]:
    """The record's tasks (``record``: a task CSV, may not exist yet) with those of
    ``runs`` merged in, and the leaderboard CSV of the merged table.

    Raises:
        DataError: a task (of the record or of a run) is not one of the grid's, or
            the merge is refused (see ``merge_tasks``).
    """
    kept = [TaskTable.from_csv(record).results] if record.exists() else []
    new = [ReportRun(run, every_task=True).task_table() for run in runs]
    grid = _grid(config, list(runs), kept[0] if kept else pd.DataFrame())
    known = {task.id for task in grid.tasks()}
    for where, table in zip([record] * len(kept) + list(runs), kept + new):
        foreign = sorted(set(table["id"]) - known)
        if foreign:
            raise DataError(f"{where}: {len(foreign)} task(s) are not tasks of the grid of "
                            f"{config or runs[0]} (other settings?), e.g. {foreign[0]}")
    if not partial:
        new = [whole_blocks(table, kept + new, grid.models) for table in new]
    tables = kept + new
    merged = merge_tasks(tables, str(record))
    table = TaskTable(merged, {"models": grid.models, "splits": grid.splits})
    board = leaderboard_csv(build_leaderboards(table))
    return merged, board.to_csv(index=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("record", type=Path, help="the committed task CSV (created if new)")
    parser.add_argument("runs", type=Path, nargs="*", help="run directories to merge in")
    parser.add_argument("--config", type=Path, help="the grid's config file (default: the "
                        "first run's); every task must be one of its tasks")
    parser.add_argument("--partial", action="store_true",
                        help="merge blocks (split, seed, fold) not every model finished")
    args = parser.parse_args(argv)
    before = len(pd.read_csv(args.record)) if args.record.exists() else 0
    tasks, board = merged_record(args.record, args.runs, args.config, args.partial)
    args.record.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.record, tasks.to_csv(index=False))
    note = ""
    if args.record.name == "tasks.csv":
        atomic_write_text(args.record.with_name("leaderboard.csv"), board)
        note = "; leaderboard.csv recomputed"
    print(f"{args.record}: {len(tasks)} tasks ({len(tasks) - before:+d}){note}")


if __name__ == "__main__":
    main()
