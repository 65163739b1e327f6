"""A benchmark run directory, read once and sliced the way the report needs it.

:class:`ReportRun` wraps :class:`~drpkit.experiment.store.RunStore`: it keeps
only the tasks of the run's *current* grid (a directory reused with other
settings may hold finished tasks of an earlier grid, which would otherwise be
averaged in twice; when the stored grid matches no task id, e.g. a run made
by another drpkit version, the first task of each kind, model, dataset,
split, seed, fold and trial is kept), splits them by kind (``cv`` for the
leaderboards and figures, ``trial`` for the search, ``transfer`` for the
transfer table) and cuts the ``cv`` tasks into :class:`Group` s, one per
(dataset, split kind), the unit every leaderboard and figure describes.

The slicing lives in :class:`TaskTable`, which needs only the task rows: a
committed ``tasks.csv`` (the compact record of a published grid) is a
:class:`TaskTable` too, so its leaderboards can be recomputed, and new folds
merged into it, after the run directory that produced it is gone.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypedDict

import pandas as pd

from drpkit.errors import DataError, DrpkitError
from drpkit.experiment.store import CONFIG_FILE, RunStore

KEY = ["seed", "fold"]  # one block of paired comparisons
TASK_INFO = ("wall_seconds", "threads", "torch_threads", "peak_rss_mb", "started", "finished",
             "host")
UNIQUE = ["kind", "model", "dataset", "target", "split", "seed", "fold", "trial", "member"]


@dataclass(frozen=True)
class Group:
    """The ``cv`` tasks of one (dataset, split kind).

    Attributes:
        dataset: dataset label (as in ``RunStore.results()``).
        split: split kind.
        models: models with at least one finished task, in grid order.
        folds: distinct folds among the finished tasks.
        seeds: distinct seeds among the finished tasks.
    """

    dataset: str
    split: str
    models: tuple[str, ...]
    folds: int
    seeds: int

    @property
    def title(self) -> str:
        return f"{self.dataset} · {self.split}"

    @property
    def design(self) -> str:
        """What every number of the group is computed over, e.g. ``3 folds × 1 seed``."""
        return f"{_plural(self.folds, 'fold')} × {_plural(self.seeds, 'seed')}"

    @property
    def anchor(self) -> str:
        return slug(f"{self.dataset}-{self.split}")


class TaskTable:
    """Finished tasks, one row each (kind, model, dataset, split, seed, fold, metrics),
    sliced the way leaderboards need them.

    Args:
        results: one row per task, with at least the columns of ``UNIQUE`` and ``id``.
        grid: the grid's settings (only its ``models`` and ``splits`` order are read).
    """

    def __init__(self, results: pd.DataFrame, grid: dict | None = None):
        self.results = results
        self.grid = grid or {}
        self.models = _ordered(results["model"], self.grid.get("models", []))

    @classmethod
    def from_csv(cls, path: str | Path, grid: dict | None = None) -> TaskTable:
        """The tasks of a ``tasks.csv`` written by ``drpkit report``.

        Raises:
            DataError: the file is missing, unreadable, lacks a column of
                ``UNIQUE`` / ``id``, or holds two tasks of the same key.
        """
        path = Path(path)
        try:
            # round_trip: pandas' default float parser is not exact in the last digit,
            # and a merged record is written back: its old rows must not change
            tasks = pd.read_csv(path, dtype={"target": str, "trial": str, "member": str},
                                float_precision="round_trip")
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable tasks.csv ({exc})") from None
        check_tasks(tasks, str(path))
        return cls(tasks, grid)

    def node_mode(self, model: str) -> str | None:
        """The node mode of a graph model's tasks; a bare task table does not record it."""
        return None

    # ------------------------------------------------------------- by kind
    def kind(self, kind: str) -> pd.DataFrame:
        """Finished tasks of one kind (``cv``, ``trial`` or ``transfer``)."""
        return self.results[self.results["kind"] == kind]

    def groups(self) -> list[Group]:
        """One :class:`Group` per (dataset, split kind) with finished ``cv`` tasks,
        datasets and split kinds in grid order."""
        cv = self.kind("cv")
        out = []
        for dataset in _ordered(cv["dataset"], []):
            part = cv[cv["dataset"] == dataset]
            for split in _ordered(part["split"], self.grid.get("splits", [])):
                rows = part[part["split"] == split]
                out.append(Group(dataset, split, tuple(_ordered(rows["model"], self.models)),
                                 rows["fold"].nunique(), rows["seed"].nunique()))
        return out

    def cv_results(self, group: Group) -> pd.DataFrame:
        """The ``cv`` rows (one per task, with metrics) of ``group``."""
        cv = self.kind("cv")
        return cv[(cv["dataset"] == group.dataset) & (cv["split"] == group.split)]


class ReportRun(TaskTable):
    """Everything the report reads from one run directory.

    Raises:
        DataError: ``root`` is not a benchmark run directory (no ``config.json``
            or no ``tasks/``), or none of its grid's tasks has finished.
    """

    def __init__(self, root: str | Path, every_task: bool = False):
        """``every_task``: read every finished task of the directory, not only those of
        the grid it ran last (``config.json`` holds the last invocation's grid, e.g. one
        restricted by ``--splits`` or ``--only-folds``), and keep tasks that share a key
        (``benchmarks/merge_grid.py`` reads runs so, and refuses such tasks itself)."""
        self.root = Path(root)
        self.store = RunStore(self.root)
        if not (self.root / CONFIG_FILE).exists() or not self.store.tasks_dir.is_dir():
            raise DataError(f"{self.root}: not a benchmark run directory (it needs "
                            f"{CONFIG_FILE} and tasks/, as written by `drpkit benchmark`)")
        self.config = self.store.read_config()
        self.grid = self.config.get("grid", {})  # read by _grid_task_ids
        ids, done = None if every_task else self._grid_task_ids(), self.store.done()
        if ids is not None and not ids & done:
            ids = None  # ids made by another drpkit version: read every finished task
        results = self.store.results(None if ids is None else sorted(ids & done))
        # one task per (kind, model, data, fold, ...): a second grid in the same
        # directory must not be averaged in (ids is None: keep the first per key)
        results = results.drop_duplicates(UNIQUE) if len(results) and not every_task \
            else results
        if results.empty:
            raise DataError(f"{self.root}: no finished tasks yet; run `drpkit benchmark` "
                            "first (or wait for its first task to end)")
        super().__init__(results, self.grid)
        self.ignored = len(done) - len(self.results)
        self.failures = {k: v for k, v in self.store.failures().items()
                         if ids is None or k in ids}
        self.expected = len(ids) if ids is not None else None
        self.infos = {task_id: self.store.result(task_id) for task_id in self.results["id"]}

    def _grid_task_ids(self) -> set[str] | None:
        """Ids of the tasks the stored grid expands to (None if it cannot be rebuilt)."""
        from drpkit.experiment.grid import GridConfig

        try:
            return {t.id for t in GridConfig.build(self.grid, source=CONFIG_FILE).tasks()}
        except (DrpkitError, ValueError, TypeError):
            return None

    def node_mode(self, model: str) -> str | None:
        """The node mode (``inductive`` / ``transductive``) a graph model's tasks
        ran in, from the resolved settings each task records (None for other
        models, and for runs made before tasks recorded their settings)."""
        ids = self.results.loc[self.results["model"] == model, "id"]
        modes = {self.infos[i].get("config", {}).get("nodes") for i in ids} - {None}
        return "/".join(sorted(modes)) or None

    def task_table(self) -> pd.DataFrame:
        """One row per finished task: its fields and metrics, plus where and how it
        ran (wall seconds, threads, peak memory, start and end, package versions).
        No predictions: this is the compact record committed beside a published grid."""
        extra = []
        for task_id in self.results["id"]:
            info = self.infos[task_id]
            versions = info.get("versions") or {}
            extra.append({**{k: info.get(k) for k in TASK_INFO},
                          "versions": ";".join(f"{k}={v}" for k, v in sorted(versions.items()))})
        return pd.concat([self.results.reset_index(drop=True), pd.DataFrame(extra)], axis=1)

    def predictions(self, group: Group) -> pd.DataFrame:
        """Test predictions of every ``cv`` task of ``group``, stacked, with the
        task's ``model``, ``seed`` and ``fold`` as columns."""
        frames = [self.store.predictions(row.id).assign(model=row.model, seed=row.seed,
                                                        fold=row.fold)
                  for row in self.cv_results(group).itertuples()]
        return pd.concat(frames, ignore_index=True)

    def histories(self, group: Group) -> dict[str, dict]:
        """Model -> training history of its first fold (lowest seed, then fold)
        in ``group``, for the models that record one (torch models)."""
        out: dict[str, dict] = {}
        for row in self.cv_results(group).sort_values(KEY).itertuples():
            if row.model not in out:
                history = self.store.history(row.id)
                if history and history.get("train_loss"):
                    out[row.model] = {**history, "seed": row.seed, "fold": row.fold}
        return {m: out[m] for m in group.models if m in out}

    # ------------------------------------------------------------- run facts
    def timing(self) -> Timing:
        """Start date, wall time and summed task seconds. The wall time is the
        sum of the ``run_grid`` sessions recorded in ``config.json`` (so pauses
        between a stop and a resume do not count); for runs without that
        record, the first task start to the last task end."""
        starts = [t for t in (_time(i.get("started")) for i in self.infos.values()) if t]
        ends = [t for t in (_time(i.get("finished")) for i in self.infos.values()) if t]
        sessions = self.config.get("sessions") or []
        if sessions:
            wall, how = float(sum(s.get("seconds", 0.0) for s in sessions)), (
                f"{len(sessions)} session(s) of drpkit benchmark")
        elif starts and ends:
            wall, how = (max(ends) - min(starts)).total_seconds(), "first task start to last end"
        else:
            wall, how = None, ""
        seconds = pd.to_numeric(self.results["seconds"], errors="coerce").sum()
        return {"started": self.config.get("started") or (min(starts).isoformat()
                                                          if starts else None),
                "wall": wall, "wall_how": how, "fit_seconds": float(seconds)}


class Timing(TypedDict):
    """What :meth:`ReportRun.timing` returns."""

    started: str | None  # ISO date
    wall: float | None  # seconds
    wall_how: str  # how ``wall`` was measured
    fit_seconds: float  # summed over tasks


def check_tasks(tasks: pd.DataFrame, where: str) -> None:
    """Raise DataError unless ``tasks`` has the columns of a task table and one
    task per key (``UNIQUE``: kind, model, dataset, target, split, seed, fold,
    trial, member); ``where`` names the source in the message."""
    missing = [c for c in ["id", *UNIQUE] if c not in tasks]
    if missing:
        raise DataError(f"{where}: not a task table, it lacks the column(s) {missing}")
    twice = tasks[tasks.duplicated(UNIQUE, keep=False)]
    if len(twice):
        first = twice.iloc[0]
        key = twice[UNIQUE].apply(lambda row: repr(tuple(row)), axis=1)  # NaN-safe equality
        ids = sorted(twice.loc[key == key.iloc[0], "id"])
        raise DataError(f"{where}: {len(twice)} tasks share their key (kind, model, dataset, "
                        f"split, seed, fold, ...), e.g. {first['model']} {first['split']} "
                        f"fold {first['fold']}: {', '.join(ids)}; tasks run with other "
                        "settings must not be averaged together")


def merge_tasks(tables: list[pd.DataFrame], where: str = "merged tasks") -> pd.DataFrame:
    """Task tables stacked into one: a task id found in a later table replaces the
    earlier row (a task re-recorded); different ids of one key are refused
    (:func:`check_tasks`), as are tables whose columns differ in name."""
    if not tables:
        raise DataError(f"{where}: no task table to merge")
    columns = list(tables[0].columns)
    for table in tables[1:]:
        if set(table.columns) != set(columns):
            odd = sorted(set(table.columns) ^ set(columns))
            raise DataError(f"{where}: the task tables' columns differ ({odd[:5]}); were they "
                            "written by different drpkit versions?")
    merged = pd.concat([t[columns] for t in tables], ignore_index=True)
    merged = merged.drop_duplicates("id", keep="last").reset_index(drop=True)
    check_tasks(merged, where)
    return merged


def is_baseline(model: str) -> bool:
    """True for registered reference models (see ``drpkit.models.base.is_baseline``)."""
    from drpkit.models.base import is_baseline as registered_baseline

    return registered_baseline(model)


def slug(text: str) -> str:
    """An HTML id / file-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower()


def _ordered(values: pd.Series, preferred: list) -> list:
    """Distinct ``values``: those in ``preferred`` first in its order, then the rest sorted."""
    present = set(values.dropna())
    return [v for v in preferred if v in present] + sorted(present - set(preferred), key=str)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _time(stamp: str | None) -> datetime | None:
    if stamp is None:
        return None
    with contextlib.suppress(TypeError, ValueError):  # TypeError: not a string
        return datetime.fromisoformat(stamp)
    return None
