"""Training speed of mmgnn per step on a GDSC2 fold, and what an epoch costs.

mmgnn's drug -> cell and cell -> drug attention is per pair: every training pair
builds an (atoms x gene sets) attention map per head, so its cost grows with
pairs x atoms x sets, and a GDSC2 fold (132,594 training pairs, drugs of 32 atoms
on average, 96 at most, 302 KEGG sets) is far heavier than the other models'.
This script times ``--steps`` optimiser steps (no validation) for each JSON setting
given, after the model's data preparation, and appends one line per setting to
``--out``: milliseconds per step, the implied seconds per epoch, batch size,
threads and versions. Example (the BENCHMARKS.md rows)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_mmgnn.py --steps 60 --load "..." \\
        '{}' '{"size_buckets": 50}' '{"size_buckets": 50, "dim": 32, "heads": 2}'
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import peak_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="*", default=["{}"],
                        help="JSON overrides of mmgnn's settings, one run each")
    parser.add_argument("--dataset", default="gdsc2")
    parser.add_argument("--split", default="random")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--load", default="", help="what else ran on the machine meanwhile")
    parser.add_argument("--out", default="benchmarks/results/mmgnn_speed_gdsc2.jsonl")
    args = parser.parse_args()

    import torch

    from drpkit.data import load_dataset
    from drpkit.experiment.crossval import _fit, _prepared
    from drpkit.models import create_model
    from drpkit.models import mmgnn as module
    from drpkit.runs import package_versions
    from drpkit.splits import make_folds

    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset)
    fold = make_folds(data, args.split, 5, 0)[0]
    timed: list[float] = []
    plain_batches = module._MMGNNTask.batches

    def first_steps(task, epoch, generator):
        """The task's own batches, cut after --steps; the time they took is kept."""
        start = time.perf_counter()
        yield from itertools.islice(plain_batches(task, epoch, generator), args.steps)
        timed.append(time.perf_counter() - start)

    # timing only: one short epoch, no validation pass
    module._MMGNNTask.batches = first_steps
    module._MMGNNTask.validate = lambda task: {"val_loss": 0.0}
    for text in args.settings:
        settings = json.loads(text)
        model = create_model("mmgnn", {**settings, "trainer": {
            **settings.get("trainer", {}), "max_epochs": 1, "progress": False}})
        timed.clear()
        _fit(model, _prepared(model, data, fold, [fold.val]), fold)
        per_step = timed[0] / args.steps
        size = model.config.batch_size
        row = {"dataset": args.dataset, "split": args.split, "fold": 0, "settings": settings,
               "batch_size": size, "train_pairs": len(fold.train), "steps": args.steps,
               "ms_per_step": round(1000 * per_step, 1),
               "epoch_seconds": round(per_step * math.ceil(len(fold.train) / size)),
               "peak_rss_mb": round(peak_rss_mb()), "threads": torch.get_num_threads(),
               "load": args.load,
               "date": time.strftime("%Y-%m-%d %H:%M"), "versions": package_versions()}
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as handle:
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
