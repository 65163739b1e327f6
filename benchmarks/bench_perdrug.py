"""Per-drug models and tissue-aware naive baselines on full GDSC2 (issue 14).

Plain Python, run from the repository root:

    .venv/bin/python benchmarks/bench_perdrug.py [--threads 1] [--resume]

Cell-blind: 5 folds (seed 0) of every model in ``--models``; drug-blind:
folds ``--drug-blind-folds`` (default 0 and 1) of ``--drug-blind-models``
(default per-drug-ridge, whose new-drug path this exercises, next to the
naive mean-effects models as reference). Every fold is
``drpkit.experiment.run_fold`` (fit on the training part with its validation
part, score the test part), with the models' default settings unless
``--params`` says otherwise. One JSON line per model/split/fold goes to
``--out`` (metrics, fit and total seconds, thread counts, package versions)
as soon as the fold is done; ``--resume`` skips lines already there. The
table printed at the end is mean ± sd over the folds in the file.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = ["per-drug-ridge", "per-drug-elastic-net", "per-drug-rf", "naive-tissue",
          "naive-tissue-drug", "naive-effects-tissue", "naive-additive"]
METRICS = ["drug_pcc_mean", "pcc", "auroc"]
OUT = Path(__file__).resolve().parent / "results" / "perdrug_gdsc2.jsonl"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2, 3, 4],
                   help="cell-blind folds to run")
    p.add_argument("--drug-blind-models", nargs="*",
                   default=["per-drug-ridge", "naive-additive", "naive-effects-tissue"])
    p.add_argument("--drug-blind-folds", nargs="*", type=int, default=[0, 1])
    p.add_argument("--params", type=json.loads, default={},
                   help='JSON {"model": {setting: value}} (default: model defaults)')
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--resume", action="store_true", help="skip folds already in --out")
    return p.parse_args(argv)


def done_keys(path: Path) -> set[tuple[str, str, int]]:
    if not path.exists():
        return set()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["model"], r["split"], r["fold"]) for r in rows}


def table(path: Path) -> pd.DataFrame:
    """mean ± sd over folds per split and model, from the JSON lines in ``path``."""
    rows = pd.read_json(path, lines=True)
    out = []
    for (split, model), part in rows.groupby(["split", "model"], sort=False):
        row = {"split": split, "model": model, "folds": len(part)}
        for key in [*METRICS, "fit_s", "total_s"]:
            v = part[key].astype(float)
            row[key] = f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v.mean():.3f}"
        out.append(row)
    return pd.DataFrame(out)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    from drpkit.data import load_dataset
    from drpkit.experiment import run_fold
    from drpkit.runs import package_versions
    from drpkit.splits import make_folds

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    data = load_dataset("gdsc2")
    versions = package_versions()
    skip = done_keys(args.out) if args.resume else set()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        args.out.write_text("")
    plan = [("cell-blind", args.folds, args.models),
            ("drug-blind", args.drug_blind_folds, args.drug_blind_models)]
    for split, fold_ids, models in plan:
        if not fold_ids or not models:
            continue
        folds = make_folds(data, split, 5, seed=0)
        for k in fold_ids:
            for name in models:
                if (name, split, k) in skip:
                    continue
                start = time.perf_counter()
                result = run_fold(data, name, folds[k], args.params.get(name))
                total = time.perf_counter() - start
                row = {"model": name, "dataset": "gdsc2", "split": split, "seed": 0, "fold": k,
                       "params": args.params.get(name, {}),
                       **{m: float(v) for m, v in result.metrics.items()
                          if isinstance(v, int | float | np.floating)},
                       "fit_s": round(result.seconds, 2), "total_s": round(total, 2),
                       "torch_threads": torch.get_num_threads(), "blas_threads": args.threads,
                       "versions": versions}
                with args.out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(f"{split} fold {k} {name}: " + ", ".join(
                    f"{m} {row[m]:.3f}" for m in METRICS) + f", fit {row['fit_s']} s", flush=True)
    print(table(args.out).to_markdown(index=False))


if __name__ == "__main__":
    main()
