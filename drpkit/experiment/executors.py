"""Where benchmark tasks run: local processes or Ray, behind one small interface.

An executor backend only knows how to start :func:`drpkit.experiment.worker.execute`
on a task and hand back what it returned (or raised). Everything else, which
tasks are ready, what is finished, storing results, the progress display,
lives once in :func:`run_grid`, so both backends behave the same and give
the same numbers for the same task.

* ``local``: a pool of ``workers`` fresh Python processes on this machine
  (``spawn``, so no process inherits another's torch threads); default
  ``cores // threads`` workers.
* ``ray``: Ray tasks of ``threads`` CPUs each, on a local Ray instance started
  for the run, or on the cluster at ``ray_address`` (every node needs drpkit
  and reaches the data sources; results come back to the driver, which writes
  them, so no shared file system is needed).
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import signal
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from drpkit.atomic import atomic_file
from drpkit.errors import DataError
from drpkit.experiment.grid import GridConfig, Task
from drpkit.experiment.store import RunStore, TaskResult
from drpkit.experiment.worker import execute
from drpkit.registry import Registry
from drpkit.runs import package_versions

Outcome = TaskResult | BaseException


class Backend(ABC):
    """Starts tasks and reports the ones that ended."""

    slots: int  # tasks that may run at once

    @abstractmethod
    def submit(self, payload: dict[str, Any], threads: int, params: dict | None,
               members: list[pd.DataFrame] | None = None) -> Any:
        """Start ``execute(payload, threads, params, members)``; returns a handle."""

    @abstractmethod
    def wait(self, handles: list[Any], timeout: float) -> list[tuple[Any, Outcome]]:
        """Handles that ended within ``timeout`` seconds, each with its result or error."""

    def close(self, abort: bool = False) -> None:
        """Release workers (called once, also after errors). ``abort``: the grid is
        being interrupted (Ctrl-C, an error), so running tasks are stopped, not awaited."""


EXECUTORS: Registry[Callable[..., Backend]] = Registry("executor")


class WorkerDied(RuntimeError):
    """a worker process died while running this task (killed for memory, or the
    script that called run_grid lacks `if __name__ == "__main__":`, which spawned
    worker processes need)"""


def default_workers(threads: int) -> int:
    """As many tasks as the cores allow at ``threads`` threads each (at least one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // threads)


@EXECUTORS.register("local")
class LocalBackend(Backend):
    """A pool of ``workers`` spawned Python processes."""

    def __init__(self, workers: int | None, threads: int, address: str | None = None):
        if address:
            raise DataError("--ray-address needs --executor ray")
        self.slots = workers or default_workers(threads)
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.slots,
                                      mp_context=multiprocessing.get_context("spawn"))

    def submit(self, payload, threads, params, members=None):
        return self._pool.submit(execute, payload, threads, params, members)

    def wait(self, handles, timeout):
        ended, _ = cf.wait(handles, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out = [(future, future.exception() or future.result()) for future in ended]
        if any(isinstance(o, cf.process.BrokenProcessPool) for _, o in out):
            # a worker died: the pool is unusable, start a new one for the other tasks
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            out = [(f, WorkerDied(WorkerDied.__doc__) if isinstance(o, cf.process.BrokenProcessPool)
                    else o) for f, o in out]
        return out

    def close(self, abort: bool = False):
        if abort:  # unfinished tasks leave nothing behind (results are written atomically)
            workers = getattr(self._pool, "_processes", None) or {}  # pid -> Process
            for process in list(workers.values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)


@EXECUTORS.register("ray")
class RayBackend(Backend):
    """Ray tasks of ``threads`` CPUs each, locally or on a cluster."""

    def __init__(self, workers: int | None, threads: int, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise DataError("--executor ray needs Ray: pip install 'drpkit[ray]'") from None
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            cpus = None if address else (workers or default_workers(threads)) * threads
            ray.init(address=address, num_cpus=cpus, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        cluster_cpus = int(ray.cluster_resources().get("CPU", threads))
        self.slots = workers or max(1, cluster_cpus // threads)
        self._remote = ray.remote(num_cpus=threads, max_retries=0)(execute)

    def submit(self, payload, threads, params, members=None):
        return self._remote.remote(payload, threads, params, members)

    def wait(self, handles, timeout):
        ready, _ = self._ray.wait(handles, num_returns=1, timeout=timeout)
        out = []
        for ref in ready:
            try:
                out.append((ref, self._ray.get(ref)))
            except self._ray.exceptions.RayTaskError as exc:  # the task's own error
                out.append((ref, exc.cause if isinstance(exc.cause, BaseException) else exc))
            except Exception as exc:  # noqa: BLE001 - a lost worker or node fails its task
                out.append((ref, exc))
        return out

    def close(self, abort: bool = False):
        if self._started:
            self._ray.shutdown()


# ------------------------------------------------------------------ scheduling
@dataclass
class GridOutcome:
    """What a :func:`run_grid` call did."""

    total: int
    skipped: int  # finished by an earlier run
    finished: int
    failed: dict[str, str] = field(default_factory=dict)  # task id -> error
    seconds: float = 0.0


def run_grid(config: GridConfig, run_dir: str | Path, progress: bool | None = None,
             log: Callable[[str], None] = print) -> GridOutcome:
    """Run every unfinished task of ``config``, storing each result as it ends.

    Finished tasks of an earlier (e.g. killed) run in ``run_dir`` are not run
    again (only their timings are read, for the time estimate). A failing task
    is recorded under ``failed/`` with its error and does not stop the others;
    a ``cv`` task whose trials all failed fails too. Trials run before the
    ``cv`` task that uses them.
    """
    config.check()
    EXECUTORS.get(config.executor)
    store = RunStore(run_dir)
    store.prepare()
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    earlier = store.read_config() if store.has_config() else {}
    record = {"grid": config.model_dump(mode="json"), "versions": package_versions(),
              "started": earlier.get("started", now), "sessions": earlier.get("sessions", [])}
    store.write_config(record)
    tasks = config.tasks()
    done = store.done() & {t.id for t in tasks}
    pending = [t for t in tasks if t.id not in done]
    outcome = GridOutcome(total=len(tasks), skipped=len(done), finished=0)
    start = time.perf_counter()
    if not pending:
        log(f"all {len(tasks)} tasks of {run_dir} are finished")
        return outcome
    backend = EXECUTORS.get(config.executor)(config.workers, config.threads, config.ray_address)
    # This session's entry is written now and brought up to date whenever a task ends, so
    # the wall time of a session that is killed (even by SIGKILL) still counts.
    session = {"started": now, "seconds": 0.0, "finished": 0, "failed": 0,
               "executor": config.executor, "workers": backend.slots, "threads": config.threads}
    record["sessions"].append(session)

    def save_session() -> None:
        outcome.seconds = time.perf_counter() - start
        session.update(seconds=round(outcome.seconds, 1), finished=outcome.finished,
                       failed=len(outcome.failed))
        store.write_config(record)

    save_session()
    earlier_seconds: dict[str, list[float]] = defaultdict(list)
    for task in tasks:
        if task.id in done:
            took = task_seconds(store.result(task.id))
            if took is not None:
                earlier_seconds[task.model].append(took)
    display = _Progress(len(tasks), len(done), backend.slots, progress, log,
                        left=Counter(t.model for t in pending), seconds=earlier_seconds)
    running: dict[Any, Task] = {}
    completed = False
    restore_sigterm = _stop_on_sigterm()
    try:
        while pending or running:
            for task in _ready(pending, done, outcome.failed, backend.slots - len(running)):
                pending.remove(task)
                params, members, error = None, None, None
                if task.search is not None:
                    params = choose_setting(task, store)
                    if params is None:
                        error = "every hyperparameter trial of this fold failed"
                if task.ensemble is not None:
                    lost = [t for t in task.after if t not in done]
                    if lost:
                        error = f"ensemble member task(s) failed: {', '.join(lost)}"
                    else:
                        members = [store.predictions(t) for t in task.after]
                if error is not None:
                    store.write_failure(task, error)
                    outcome.failed[task.id] = error
                    display.failed(task, error)
                    continue
                running[backend.submit(task.model_dump(mode="json"), config.threads,
                                       params, members)] = task
                display.started(task)
            display.update(len(running))
            if not running:
                continue
            for handle, result in backend.wait(list(running), timeout=1.0):
                task = running.pop(handle)
                if isinstance(result, BaseException):
                    error = f"{type(result).__name__}: {result}"
                    store.write_failure(task, error, "".join(traceback.format_exception(result)))
                    outcome.failed[task.id] = error
                    display.failed(task, error)
                else:
                    store.write_result(task, result)
                    done.add(task.id)
                    outcome.finished += 1
                    display.finished(task, result)
                save_session()
        completed = True
    finally:
        restore_sigterm()
        backend.close(abort=not completed)
        display.close()
        save_session()
    results = store.results([t.id for t in tasks])
    if len(results):
        _write_csv(results, Path(run_dir) / "results.csv")
    return outcome


def _stop_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM (``kill PID``, a batch scheduler's stop) end the grid the way
    Ctrl-C does, so the ``finally`` of :func:`run_grid` terminates the running
    workers; by default SIGTERM kills only this process and leaves the spawned
    workers training on, orphaned. Returns a function that puts the previous
    handler back. Outside the main thread signals cannot be handled: no-op."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def _ready(pending: list[Task], done: set[str], failed: dict[str, str], free: int) -> list[Task]:
    """Up to ``free`` pending tasks whose prerequisites have all ended."""
    out: list[Task] = []
    for task in pending:
        if len(out) >= free:
            break
        if all(dep in done or dep in failed for dep in task.after):
            out.append(task)
    return out


LOWER_IS_BETTER = {"rmse", "mae"}


def choose_setting(task: Task, store: RunStore) -> dict[str, Any] | None:
    """The hyperparameters of the best finished trial of ``task`` (by the
    search's validation metric), or None when no trial finished."""
    from drpkit.models import MODELS

    if task.search is None:
        raise DataError(f"task {task.id} has no hyperparameter search to choose from")
    metric = task.search.get("metric") or (
        "pcc" if "value" in MODELS.get(task.model).outputs else "auroc")
    done = store.done()
    scored = [(store.result(t)["metrics"].get(metric), store.task(t)["params"])
              for t in task.after if t in done]
    scored = [(v, p) for v, p in scored if v is not None and not math.isnan(v)]
    if not scored:
        return None
    pick = min if metric in LOWER_IS_BETTER else max
    return pick(scored, key=lambda item: item[0])[1]


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_file(path) as tmp:
        frame.to_csv(tmp, index=False)


def task_seconds(info: dict[str, Any]) -> float | None:
    """A finished task's duration in its worker, data loading included when recorded."""
    took = info.get("wall_seconds", info.get("seconds"))
    return None if took is None else float(took)


HEARTBEAT_SECONDS = 600.0


class _Progress:
    """tqdm bar on a terminal; otherwise one line per ended task. Both show
    done / running / failed and the estimated time left. Without a terminal (a log
    file, a batch job), a line naming the running tasks and their time so far is
    also written after ``HEARTBEAT_SECONDS`` without any, so a long task shows it
    is alive.

    The estimate is per model: a grid mixes baselines that take milliseconds
    with graph models that take minutes, so each unfinished task is costed at
    the mean time of the finished tasks of its model (earlier sessions
    included; the mean over all models for a model not yet seen), and the
    total is shared among the slots.
    """

    def __init__(self, total: int, done: int, slots: int, enabled: bool | None,
                 log: Callable[[str], None], left: Counter[str] | None = None,
                 seconds: dict[str, list[float]] | None = None):
        self.total, self.done, self.failures, self.slots = total, done, 0, slots
        self.log, self.running = log, 0
        self.left = Counter(left or {})  # model -> unfinished tasks
        self.seconds = defaultdict(list, {m: list(s) for m, s in (seconds or {}).items()})
        self.bar = tqdm(total=total, initial=done, desc="benchmark", dynamic_ncols=True,
                        disable=None if enabled is None else not enabled)
        self.since: dict[str, float] = {}  # running task id -> start (monotonic)
        self.last_line = time.monotonic()

    def started(self, task: Task) -> None:
        self.since[task.id] = time.monotonic()

    def eta_seconds(self) -> float | None:
        """Estimated seconds until every unfinished task has ended (None: no timing yet)."""
        timed = [t for times in self.seconds.values() for t in times]
        if not timed:
            return None
        fallback = sum(timed) / len(timed)
        work = sum(count * (sum(self.seconds[m]) / len(self.seconds[m])
                            if self.seconds.get(m) else fallback)
                   for m, count in self.left.items() if count > 0)
        return work / max(self.slots, 1)

    def _eta(self) -> str:
        left = self.eta_seconds()
        if left is None:
            return "?"
        seconds = int(left)
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    def update(self, running: int) -> None:
        self.running = running
        self.bar.set_postfix_str(f"running {running}, failed {self.failures}, "
                                 f"about {self._eta()} left", refresh=False)
        self.bar.refresh()
        now = time.monotonic()
        if self.bar.disable and self.since and now - self.last_line >= HEARTBEAT_SECONDS:
            tasks = ", ".join(f"{task_id} ({(now - start) / 60:.0f} min)"
                              for task_id, start in self.since.items())
            self.log(f"[{self.done}/{self.total}] running: {tasks}; about {self._eta()} left")
            self.last_line = now

    def finished(self, task: Task, result: TaskResult) -> None:
        self.done += 1
        self.left[task.model] -= 1
        self.since.pop(task.id, None)
        self.last_line = time.monotonic()
        took = task_seconds(result.info)
        if took is not None:
            self.seconds[task.model].append(took)
        self.bar.update()
        if self.bar.disable:
            self.log(f"[{self.done}/{self.total}] {task.id}: {result.info.get('seconds', 0):.1f} s"
                     f" (running {self.running - 1}, failed {self.failures}, "
                     f"about {self._eta()} left)")

    def failed(self, task: Task, error: str) -> None:
        self.failures += 1
        self.left[task.model] -= 1
        self.since.pop(task.id, None)
        message = f"FAILED {task.id}: {error}"
        if self.bar.disable:
            self.log(message)
        else:
            self.bar.write(message)

    def close(self) -> None:
        self.bar.close()
