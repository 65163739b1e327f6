"""The run directory of a benchmark: one folder per finished task, written atomically.

Layout (``RUN_DIR``)::

    config.json                 the grid (GridConfig), package versions, first start and
                                one record per run_grid session (wall seconds, tasks run)
    tasks/<task id>/            one folder per *finished* task
        task.json               the Task (kind, model, params, data, split, fold, seed, ...)
        result.json             metrics, seconds, threshold, chosen setting, host, times
        predictions.parquet     scored pairs: cell, drug, y, label, yhat, score,
                                baseline, tissue (cv: test pairs; transfer: target
                                pairs; trial: validation pairs)
        history.json            training curves of torch models (train_loss, val, ...)
        artifacts/<name>.parquet
                                tables that explain the fitted model (``DRPModel.explain``:
                                attention maps, gene rankings, fusion weights), if any
    failed/<task id>.json       error and traceback of a task's last failed attempt

A task folder is assembled under a hidden ``.partial`` name and renamed into
place only when every file is written, so a folder under ``tasks/`` is always
complete: a run killed at any moment loses at most the tasks that were
running, never a finished one, and a restart skips every finished task
without reading or rewriting it.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from drpkit.atomic import atomic_new_directory, atomic_write_text
from drpkit.errors import DataError
from drpkit.experiment.grid import Task
from drpkit.runs import write_json

CONFIG_FILE = "config.json"
ARTIFACTS = "artifacts"
_ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def artifact_name(name: str) -> str:
    """``name`` if it is a safe file stem (letters, digits, ``_.-``), else an error."""
    if not _ARTIFACT_NAME.match(name) or name.endswith("."):
        raise DataError(f"artifact name {name!r}: use letters, digits, '_', '-' or '.'")
    return name


@dataclass
class TaskResult:
    """What a worker hands back for one task (the driver writes it).

    Attributes:
        metrics: flat metric name -> value.
        predictions: scored pairs (see the module docstring).
        info: seconds, threshold, chosen setting, host, start and end times.
        history: training history of torch models, else None.
        artifacts: name -> table explaining the fitted model (may be empty).
    """

    metrics: dict[str, float]
    predictions: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] | None = None
    artifacts: dict[str, pd.DataFrame] = field(default_factory=dict)


class RunStore:
    """Reads and writes one benchmark run directory (see the module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.tasks_dir = self.root / "tasks"
        self.failed_dir = self.root / "failed"

    # ---------------------------------------------------------------- writing
    def prepare(self) -> None:
        """Create the folders and remove what a killed run left half-written."""
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"--out {self.root}: is an existing file, not a run directory; give "
                            "a directory (a new one, or a run to resume)")
        self.tasks_dir.mkdir(parents=True, exist_ok=True)
        self.failed_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.tasks_dir.glob(".*.partial*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in [*self.root.glob(".*.partial"), *self.failed_dir.glob(".*.partial")]:
            leftover.unlink(missing_ok=True)

    def write_config(self, payload: dict) -> None:
        atomic_write_text(self.root / CONFIG_FILE, json.dumps(payload, indent=2, default=str))

    def has_config(self) -> bool:
        return (self.root / CONFIG_FILE).exists()

    def read_config(self) -> dict:
        path = self.root / CONFIG_FILE
        if not path.exists():
            raise DataError(f"{self.root}: no {CONFIG_FILE}; not a drpkit benchmark directory")
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: unreadable ({exc})") from None

    def write_result(self, task: Task, result: TaskResult) -> Path:
        """Store a finished task atomically; a task already stored is left untouched."""
        target = self.tasks_dir / task.id
        if target.exists():
            return target
        with atomic_new_directory(target) as tmp:
            write_json(tmp / "task.json", task.model_dump(mode="json"))
            write_json(tmp / "result.json", {"metrics": result.metrics, **result.info})
            result.predictions.to_parquet(tmp / "predictions.parquet", index=False)
            if result.history is not None:
                write_json(tmp / "history.json", result.history)
            if result.artifacts:
                (tmp / ARTIFACTS).mkdir()
                for name, table in result.artifacts.items():
                    table.to_parquet(tmp / ARTIFACTS / f"{artifact_name(name)}.parquet")
        (self.failed_dir / f"{task.id}.json").unlink(missing_ok=True)
        return target

    def write_failure(self, task: Task, error: str, trace: str = "") -> None:
        atomic_write_text(self.failed_dir / f"{task.id}.json", json.dumps(
            {"task": task.model_dump(mode="json"), "error": error, "traceback": trace},
            indent=2))

    # ---------------------------------------------------------------- reading
    def done(self) -> set[str]:
        """Ids of the finished tasks."""
        if not self.tasks_dir.exists():
            return set()
        return {p.name for p in self.tasks_dir.iterdir() if not p.name.startswith(".")}

    def failures(self) -> dict[str, dict]:
        """Task id -> the recorded failure (error, traceback, task)."""
        if not self.failed_dir.exists():
            return {}
        return {p.stem: json.loads(p.read_text()) for p in sorted(self.failed_dir.glob("*.json"))}

    def task(self, task_id: str) -> dict:
        return self._json(task_id, "task.json")

    def result(self, task_id: str) -> dict:
        return self._json(task_id, "result.json")

    def predictions(self, task_id: str) -> pd.DataFrame:
        path = self.tasks_dir / task_id / "predictions.parquet"
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: unreadable predictions ({exc})") from None

    def artifacts(self, task_id: str) -> dict[str, pd.DataFrame]:
        """Name -> table of the artifacts a task's model exported (empty if none)."""
        folder = self.tasks_dir / task_id / ARTIFACTS
        out = {}
        for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
            try:
                out[path.stem] = pd.read_parquet(path)
            except (OSError, ValueError) as exc:
                raise DataError(f"{path}: unreadable artifact ({exc})") from None
        return out

    def artifact_names(self, task_id: str) -> list[str]:
        """Names of a task's artifacts, without reading them."""
        folder = self.tasks_dir / task_id / ARTIFACTS
        return sorted(p.stem for p in folder.glob("*.parquet")) if folder.is_dir() else []

    def history(self, task_id: str) -> dict | None:
        path = self.tasks_dir / task_id / "history.json"
        return self._json(task_id, "history.json") if path.exists() else None

    def results(self, ids: list[str] | None = None) -> pd.DataFrame:
        """One row per finished task (all, or those of ``ids``): the task's
        fields (dataset, split, seed, fold, ...) and its metrics."""
        rows = []
        for task_id in sorted(self.done() if ids is None else set(ids) & self.done()):
            task, result = self.task(task_id), self.result(task_id)
            rows.append({"id": task_id, "kind": task["kind"], "model": task["model"],
                         "dataset": _label(task["data"]),
                         "target": _label(task["target"]) if task.get("target") else None,
                         "split": task.get("split"), "seed": task["seed"],
                         "fold": task["fold"], "trial": task.get("trial"),
                         "member": task.get("member"),
                         "seconds": result.get("seconds"), **result["metrics"]})
        return pd.DataFrame(rows)

    def _json(self, task_id: str, name: str) -> dict:
        path = self.tasks_dir / task_id / name
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: unreadable ({exc})") from None


def _label(spec: dict) -> str:
    from drpkit.data.spec import DataSpec
    from drpkit.experiment.grid import dataset_label

    return dataset_label(DataSpec(**spec))
