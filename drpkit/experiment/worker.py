"""Running one benchmark task, in whatever process an executor gives it.

:func:`execute` is the only function executors call: it takes a task as
plain JSON (so it crosses process and machine boundaries unchanged), limits
the task to its share of threads, runs it and returns a
:class:`~drpkit.experiment.store.TaskResult`. It never writes files; the
driver stores results, so a Ray cluster needs no shared file system.

Datasets and folds are cached per worker process: a worker that runs many
folds of one dataset loads it once.
"""
from __future__ import annotations

import json
import platform
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from drpkit.data.container import DrugResponseData
from drpkit.data.spec import DataSpec
from drpkit.errors import DataError
from drpkit.experiment.crossval import (
    FoldResult,
    run_ensemble_fold,
    run_fold,
    run_member,
    run_trial,
)
from drpkit.experiment.grid import Task
from drpkit.experiment.store import TaskResult
from drpkit.runs import package_versions
from drpkit.splits import Fold, make_folds

_DATA: dict[str, DrugResponseData] = {}
_FOLDS: dict[tuple, list[Fold]] = {}


def load_data(spec: DataSpec, *, target: bool = False) -> DrugResponseData:
    """The dataset of ``spec``, built once per process; ``target``: as a transfer
    target, whose cells and drugs without features may borrow the source's."""
    key = spec.model_dump_json() + (" target" if target else "")
    if key not in _DATA:
        _DATA[key] = spec.load(defer_missing=target)
    return _DATA[key]


def task_fold(task: Task) -> Fold:
    """The fold a ``cv`` or ``trial`` task runs on (folds cached per process)."""
    if task.split is None:
        raise DataError(f"task {task.id}: a {task.kind} task needs a split")
    key = (task.data.model_dump_json(), task.split, task.folds, task.seed)
    if key not in _FOLDS:
        _FOLDS[key] = make_folds(load_data(task.data), task.split, task.folds, task.seed)
    return _FOLDS[key][task.fold]


def limit_threads(threads: int) -> None:
    """Give this process ``threads`` torch and BLAS threads (workers share the cores)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)


def execute(payload: dict[str, Any], threads: int = 1,
            params: dict[str, Any] | None = None,
            members: list[pd.DataFrame] | None = None) -> TaskResult:
    """Run the task described by ``payload`` (``Task.model_dump(mode="json")``).

    Args:
        payload: the task.
        threads: torch / BLAS threads for this task.
        params: hyperparameters to use instead of ``task.params`` (a searched
            model's ``cv`` task gets the setting its trials chose).
        members: the outputs of an ensemble's ``member`` tasks, in member
            order, which its ``cv`` task combines instead of fitting.
    """
    limit_threads(threads)
    task = Task(**payload)
    started = time.time()
    params = task.params if params is None else params
    if members is not None:
        result = _run_ensemble(task, params, members)
    else:
        result = RUNNERS[task.kind](task, params)
    import torch

    result.info.update({"host": platform.node(), "threads": threads,
                        "torch_threads": torch.get_num_threads(),
                        "versions": package_versions(),
                        "started": _stamp(started), "finished": _stamp(time.time()),
                        "wall_seconds": round(time.time() - started, 2),
                        "peak_rss_mb": round(resource.getrusage(
                            resource.RUSAGE_SELF).ru_maxrss / 1024)})
    return result


def _run_cv(task: Task, params: dict[str, Any]) -> TaskResult:
    data = load_data(task.data)
    return _package(run_fold(data, task.model, task_fold(task), params), data, params)


def _run_trial(task: Task, params: dict[str, Any]) -> TaskResult:
    data = load_data(task.data)
    return _package(run_trial(data, task.model, task_fold(task), params), data, params)


def _run_member(task: Task, params: dict[str, Any]) -> TaskResult:
    data = load_data(task.data)
    if task.member is None:
        raise DataError(f"task {task.id}: a member task needs its member index")
    return _package(run_member(data, task.model, task_fold(task), params, task.member), data,
                    params)


def _run_ensemble(task: Task, params: dict[str, Any], members: list[pd.DataFrame]) -> TaskResult:
    data = load_data(task.data)
    return _package(run_ensemble_fold(data, task.model, task_fold(task), params, members), data,
                    params)


def _run_transfer(task: Task, params: dict[str, Any]) -> TaskResult:
    from drpkit.experiment.transfer import run_transfer

    if task.target is None:
        raise DataError(f"task {task.id}: a transfer task needs a target dataset")
    source, target = load_data(task.data), load_data(task.target, target=True)
    outcome = run_transfer(source, target, task.model, params, seed=task.seed)
    return TaskResult(outcome.metrics, with_tissue(outcome.predictions, target),
                      {"seconds": round(outcome.seconds, 2), "params": params,
                       "config": outcome.fitted.config.model_dump(mode="json"),
                       **outcome.info}, history_of(outcome.fitted), outcome.artifacts)


RUNNERS: dict[str, Callable[[Task, dict[str, Any]], TaskResult]] = {
    "cv": _run_cv, "trial": _run_trial, "member": _run_member, "transfer": _run_transfer}


def _package(result: FoldResult, data: DrugResponseData, params: dict[str, Any]) -> TaskResult:
    metrics = {k: float(v) for k, v in result.metrics.items()
               if isinstance(v, int | float | np.floating | np.integer)}
    return TaskResult(metrics, with_tissue(result.predictions, data),
                      {"seconds": round(result.seconds, 2), "params": params,
                       "config": result.fitted.config.model_dump(mode="json")},
                      history_of(result.fitted), result.artifacts)


def with_tissue(predictions: pd.DataFrame, data: DrugResponseData) -> pd.DataFrame:
    """``predictions`` with each cell's tissue (when the dataset knows it)."""
    if "tissue" in data.cell_info:
        tissue = data.cell_info["tissue"]
        tissue = tissue[~tissue.index.duplicated()]
        return predictions.assign(tissue=predictions["cell"].map(tissue).astype("string"))
    return predictions


def history_of(model: Any) -> dict | None:
    """The training history of a torch model as plain JSON, else None."""
    history = getattr(model, "history_", None)
    return json.loads(json.dumps(history.to_dict(), default=float)) if history else None


def _stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))
