"""Wall time of one benchmark grid on the local and Ray executors.

Runs the same grid (GDSC2, random split, 4 folds; ridge, gbm and nihgcn) three
ways into fresh run directories and appends one JSON line per way to
``--out``:

* ``local``, 1 worker x 2 threads: one task at a time (the sequential reference);
* ``local``, 2 workers x 1 thread: two processes on this machine;
* ``ray``, 2 workers x 1 thread: a local Ray instance started for the run.

It also checks that the two 1-thread runs gave identical metrics for every
task. Run on an otherwise idle machine::

    .venv/bin/python benchmarks/bench_executors.py --out benchmarks/results/executors.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from drpkit.experiment.executors import run_grid
from drpkit.experiment.grid import GridConfig
from drpkit.experiment.store import RunStore

GRID = {"name": "executor benchmark", "datasets": ["gdsc2"],
        "models": ["ridge", "gbm", "nihgcn"], "splits": ["random"], "folds": 4}
WAYS = [("local", 1, 2), ("local", 2, 1), ("ray", 2, 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="drpkit-executors-"))
    metrics = {}
    try:
        for executor, workers, threads in WAYS:
            config = GridConfig.build({**GRID, "executor": executor, "workers": workers,
                                       "threads": threads})
            run = root / f"{executor}-{workers}x{threads}"
            start = time.perf_counter()
            outcome = run_grid(config, run, progress=False)
            wall = time.perf_counter() - start
            results = RunStore(run).results().set_index("id").sort_index()
            metrics[(executor, workers, threads)] = results
            row = {"executor": executor, "workers": workers, "threads": threads,
                   "tasks": outcome.finished, "failed": len(outcome.failed),
                   "wall_s": round(wall, 1), "task_s_sum": round(float(results["seconds"].sum()), 1),
                   "grid": GRID, "cpus": os.cpu_count()}
            print(json.dumps(row), flush=True)
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
        local, ray = metrics[("local", 2, 1)], metrics[("ray", 2, 1)]
        numeric = local.drop(columns=["seconds"]).select_dtypes("number").columns
        same = np.allclose(local[numeric].to_numpy(float), ray[numeric].to_numpy(float),
                           rtol=1e-9, atol=1e-12, equal_nan=True)
        print(f"ray and local (1 thread per task) give identical metrics: {same}")
        with open(args.out, "a") as fh:
            fh.write(json.dumps({"check": "ray 2x1 and local 2x1 metrics identical",
                                 "result": bool(same), "tasks": len(local)}) + "\n")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
