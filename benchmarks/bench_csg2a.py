"""Speed, memory and attention maps of csg2a on GDSC2 (issue 16).

``time``: fit csg2a (defaults unless ``--params``) on one fold (GDSC2, random
split, fold 0 of 5, seed 0 unless told otherwise), score the test part and
append one JSON line to ``--out``: wall seconds of the fit, epochs, seconds per
epoch, training samples per second, genes, the test metrics, the peak resident
memory of the process (``ru_maxrss``, dataset included), the thread count, the
date and package versions. The issue's budget: <= 10 min per GDSC2 fold on 2
cores at ~1,000 genes, peak RSS <= 4 GB::

    .venv/bin/python benchmarks/bench_csg2a.py time --threads 2 \\
        --out benchmarks/results/csg2a_timing_gdsc2.jsonl

``moa``: for a csg2a model of ``drpkit train``, export its attention maps on the
fold's training part and run the mechanism-of-action check (attention-map
correlation of drugs that share a known target in the ``dti`` resource vs drugs
that share none); write ``moa.json``, the drug x drug correlation table and two
attention-map figures (drugs with well-known targets) into ``--out-dir``::

    .venv/bin/drpkit train --dataset gdsc2 --model csg2a --split random --fold 0 \\
        --out runs/csg2a_gdsc2_f0
    .venv/bin/python benchmarks/bench_csg2a.py moa --run runs/csg2a_gdsc2_f0 \\
        --drugs Lapatinib,Afatinib --out-dir docs/explain/csg2a_gdsc2_f0
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import add_fold_arguments, fit_one_fold, peak_rss_mb

REPORTED = ["pcc", "scc", "rmse", "r2", "drug_pcc_mean", "drug_rmse_mean", "cell_pcc_mean"]


def cmd_time(args: argparse.Namespace) -> None:
    import torch

    from drpkit.runs import package_versions

    _data, fold, result, params, loaded, total = fit_one_fold(args, "csg2a")
    model = result.fitted
    history = model.history_
    n_train = len(fold.train)
    row = {"model": "csg2a", "dataset": args.dataset, "split": args.split, "seed": args.seed,
           "fold": args.fold, "params": params, "threads": torch.get_num_threads(),
           "genes": len(model.genes_), "train_pairs": n_train,
           "load_seconds": round(loaded, 1), "fold_seconds": round(total, 1),
           "fit_seconds": round(history.seconds, 1), "epochs": history.epochs_run,
           "best_epoch": history.best_epoch,
           "seconds_per_epoch": round(history.seconds / max(history.epochs_run, 1), 2),
           "train_samples_per_second": round(
               n_train * history.epochs_run / max(history.seconds, 1e-9)),
           "peak_rss_mb": round(peak_rss_mb()),
           **{k: round(float(result.metrics[k]), 4) for k in REPORTED if k in result.metrics},
           "date": time.strftime("%Y-%m-%d %H:%M"), "versions": package_versions()}
    print(json.dumps(row))
    with open(args.out, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def _figure(model, maps: dict, drug: str, path: Path, top: int) -> None:
    """Heatmap of the ``top`` most coupled genes of ``drug``'s attention map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    a = maps[drug]
    genes = np.asarray(model.genes_)
    keep = np.argsort(-a.mean(axis=1))[:top]
    sub = a[np.ix_(keep, keep)]
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    limit = float(np.abs(sub).max()) or 1.0
    image = ax.imshow(sub, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_xticks(range(len(keep)), genes[keep], rotation=90, fontsize=7)
    ax.set_yticks(range(len(keep)), genes[keep], fontsize=7)
    ax.set_title(f"csg2a attention (Q Q^T / sqrt(b)), {drug}: top {top} genes by row mean")
    fig.colorbar(image, ax=ax, shrink=0.8, label="attention, mean over training cells")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_moa(args: argparse.Namespace) -> None:
    from drpkit.explain.runs import load_train_run
    from drpkit.models.csg2a_explain import moa_correlation
    from drpkit.models.mmgnn_explain import sample_training_pairs
    from drpkit.resources import RESOURCES
    from drpkit.runs import package_versions

    ctx = load_train_run(Path(args.run))
    model, train, full = ctx["model"], ctx["train"], ctx["full"]
    start = time.perf_counter()
    tables = model.explain(train)
    explain_seconds = time.perf_counter() - start
    targets = RESOURCES.get("dti").targets(full)
    summary = moa_correlation(tables["drug_attention_similarity"], targets)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables["drug_attention_similarity"].to_csv(out / "drug_attention_similarity.csv",
                                               index=False, float_format="%.4f")
    drugs = [d.strip() for d in args.drugs.split(",") if d.strip()]
    pairs = sample_training_pairs(train, model.config.explain_cells, model.config.seed)
    maps = model.attention_maps(train, pairs.loc[pairs["drug"].isin(drugs)])
    for drug in drugs:
        if drug in maps:
            _figure(model, maps, drug, out / f"attention_{drug.replace(' ', '_')}.png", args.top)
    known = targets.loc[targets["drug"].isin(drugs)].groupby("drug")["gene"].agg(sorted)
    config = ctx["config"]
    row = {"run": str(args.run), "dataset": config["data"].get("dataset"),
           "split": config.get("split"), "fold": config.get("fold"), "seed": config.get("seed"),
           "moa": summary, "annotation": "drugs sharing >= 1 known target (dti resource)",
           "figures": {d: list(known.get(d, [])) for d in drugs},
           "explain_seconds": round(explain_seconds, 1),
           "date": time.strftime("%Y-%m-%d %H:%M"), "versions": package_versions()}
    (out / "moa.json").write_text(json.dumps(row, indent=2) + "\n")
    print(json.dumps(row["moa"], indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tm = sub.add_parser("time", help="fit one fold; time, memory, metrics as one JSON line")
    add_fold_arguments(tm, "csg2a", "benchmarks/results/csg2a_timing_gdsc2.jsonl")
    moa = sub.add_parser("moa", help="attention maps of a train run, the MoA check, figures")
    moa.add_argument("--run", required=True, help="a `drpkit train --model csg2a` run")
    moa.add_argument("--drugs", default="Lapatinib,Afatinib")
    moa.add_argument("--top", type=int, default=30)
    moa.add_argument("--out-dir", default="docs/explain/csg2a_gdsc2_f0")
    args = parser.parse_args()
    {"time": cmd_time, "moa": cmd_moa}[args.command](args)


if __name__ == "__main__":
    main()
