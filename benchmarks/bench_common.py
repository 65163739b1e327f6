"""Pieces the benchmark scripts share (``bench_drgt.py``, ``bench_csg2a.py``,
``bench_uncertainty.py``, ``bench_mmgnn_attention.py``)."""
from __future__ import annotations

import argparse
import json
import resource
from pathlib import Path


def append_row(out, row: dict) -> None:
    """Print ``row`` and append it to the JSON-lines file ``out``."""
    print(json.dumps(row), flush=True)
    with open(out, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def changed_settings(values: dict, defaults: dict) -> dict:
    """The entries of ``values`` that differ from ``defaults``, nested dicts compared
    key by key (``{"trainer": {"max_epochs": 15}}``, not the whole trainer)."""
    out = {}
    for key, value in values.items():
        default = defaults.get(key)
        if isinstance(value, dict) and isinstance(default, dict):
            inner = changed_settings(value, default)
            if inner:
                out[key] = inner
        elif value != default:
            out[key] = value
    return out


def default_settings(model: str) -> dict:
    """The model's current default settings as JSON values."""
    from drpkit.models import MODELS

    return MODELS.get(model).Config().model_dump(mode="json")


def resolved_settings(model: str, params: dict) -> dict:
    """Every setting of ``model`` given ``params`` (defaults filled in, validated), as
    JSON values: what a result row stores so that its label can be recomputed against
    whatever the defaults are when a table is printed (``changed_settings``)."""
    from drpkit.models import MODELS
    from drpkit.params import deep_merge

    config = MODELS.get(model).Config  # merged as DRPModel.__init__ merges its settings
    return config(**deep_merge(config().model_dump(), params)).model_dump(mode="json")


def put_row(out, row: dict, key: str) -> None:
    """Print ``row`` and write it to the JSON-lines file ``out`` in place of the row
    with the same ``row[key]`` (re-recording a run replaces its row where it stood,
    so tables keep their order), else append it. A replacement rewrites the file
    atomically (``drpkit.atomic``), so an interrupted write leaves the old file."""
    from drpkit.atomic import atomic_write_text

    path = Path(out)
    rows = [json.loads(line) for line in path.read_text().splitlines()
            if line.strip()] if path.exists() else []
    written, placed = [], False
    for old in rows:  # the first row of the same key becomes ``row``, later ones go
        if old.get(key) != row[key]:
            written.append(old)
        elif not placed:
            written.append(row)
            placed = True
    if not placed:
        append_row(out, row)
        return
    print(json.dumps(row), flush=True)
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in written))


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux ``ru_maxrss`` is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def add_fold_arguments(parser: argparse.ArgumentParser, model: str, out: str) -> None:
    """``--dataset --split --folds --fold --seed --threads --params --out`` of a
    one-fold timing run of ``model`` (GDSC2, random split, fold 0 of 5, seed 0)."""
    parser.add_argument("--dataset", default="gdsc2")
    parser.add_argument("--split", default="random")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--params", default=None, help=f"JSON overrides of {model}'s settings")
    parser.add_argument("--out", default=out)


def fit_one_fold(args: argparse.Namespace, model: str):
    """Fit ``model`` on the fold ``args`` name (threads set first): ``(data, fold,
    run_fold result, params, seconds loading the data, seconds of the fold)``."""
    import json
    import time

    import torch

    from drpkit.data import load_dataset
    from drpkit.experiment import run_fold
    from drpkit.splits import make_folds

    torch.set_num_threads(args.threads)
    params = {"seed": args.seed, **json.loads(args.params or "{}")}
    start = time.perf_counter()
    data = load_dataset(args.dataset)
    fold = make_folds(data, args.split, args.folds, args.seed)[args.fold]
    loaded = time.perf_counter() - start
    result = run_fold(data, model, fold, params)
    return data, fold, result, params, loaded, time.perf_counter() - start - loaded
