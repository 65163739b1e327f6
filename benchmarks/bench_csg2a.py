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

``moa``: from the artifacts a csg2a task of a benchmark run stored (attention
maps on its fold's training part), run the mechanism-of-action check
(attention-map correlation of drugs that share a known target in the ``dti``
resource vs drugs that share none) and draw two drugs' maps; writes ``moa.json``
and the figures into ``--out-dir``::

    .venv/bin/python benchmarks/bench_csg2a.py moa --run runs/csg2a_gdsc2 --split random \\
        --fold 0 --drugs Lapatinib,Afatinib --out-dir docs/explain/csg2a_gdsc2_f0

``per-drug``: per-drug test PCC and RMSE of every model of a run on one split kind, for
the comparison paired over drugs (``doc_tables.py csg2a-drugs``)::

    .venv/bin/python benchmarks/bench_csg2a.py per-drug --run runs/csg2a_all \\
        --split drug-blind --out benchmarks/results/csg2a_gdsc2/per_drug_drug-blind.csv

``synthetic-lincs``: a LINCS example set in the real GSE92742 format (synthetic
profiles) on the dataset's landmark genes, for the pretraining ablation rows::

    .venv/bin/python benchmarks/bench_csg2a.py synthetic-lincs --out runs/lincs_synthetic
    .venv/bin/drpkit pretrain csg2a --lincs runs/lincs_synthetic --out runs/csg2a_synthetic_ckpt
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
           "fold": args.fold, "folds": args.folds,
           "params": {k: v for k, v in params.items() if k != "seed"},
           "threads": torch.get_num_threads(), "load": args.load,
           "genes": len(model.genes_), "train_pairs": n_train,
           "load_seconds": round(loaded, 1), "fold_seconds": round(total, 1),
           "fit_seconds": round(history.seconds, 1), "epochs": history.epochs_run,
           "best_epoch": history.best_epoch, "best_val_loss": round(history.best_score, 5),
           "seconds_per_epoch": round(history.seconds / max(history.epochs_run, 1), 2),
           "train_samples_per_second": round(
               n_train * history.epochs_run / max(history.seconds, 1e-9)),
           "peak_rss_mb": round(peak_rss_mb()),
           **{k: round(float(result.metrics[k]), 4) for k in REPORTED if k in result.metrics},
           "date": time.strftime("%Y-%m-%d %H:%M"), "versions": package_versions()}
    print(json.dumps(row))
    with open(args.out, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def _csg2a_task(args: argparse.Namespace):
    """(RunStore, task id, dataset) of the finished csg2a cv task of ``args.run`` on
    ``args.split`` fold ``args.fold``; exits naming them if there is none."""
    from drpkit.experiment.store import RunStore

    store = RunStore(Path(args.run))
    tasks = store.results()
    pick = tasks[(tasks["model"] == "csg2a") & (tasks["kind"] == "cv") &
                 (tasks["split"] == args.split) & (tasks["fold"] == args.fold)]
    if pick.empty:
        raise SystemExit(f"{args.run}: no finished csg2a task on {args.split} fold {args.fold}")
    return store, pick["id"].iloc[0], pick["dataset"].iloc[0]


def _attention_scale(store, task_id: str) -> float | None:
    """Mean |entry| of the task's per-drug attention maps (0: the attention collapsed)."""
    artifacts = store.artifacts(task_id)
    maps = artifacts.get("drug_attention_map")
    return None if maps is None else round(float(maps["attention"].abs().mean()), 4)


def cmd_from_run(args: argparse.Namespace) -> None:
    """A timing row from a finished csg2a task of a benchmark run: its training
    history, metrics and the peak memory its worker recorded."""
    from drpkit.data import load_dataset
    from drpkit.splits import make_folds

    store, task_id, dataset = _csg2a_task(args)
    task, result = store.task(task_id), store.result(task_id)
    history = json.loads((store.tasks_dir / task_id / "history.json").read_text())
    data = load_dataset(dataset)
    fold = make_folds(data, args.split, int(task["folds"]), int(task["seed"]))[args.fold]
    chosen = result.get("config", {}).get("genes")
    if chosen == "landmark":  # the landmark genes the dataset's expression has
        from drpkit.resources import landmark_genes

        columns = set(data.cell_view("expression").columns)
        genes = sum(g in columns for g in landmark_genes())
    else:
        genes = len(chosen) if isinstance(chosen, list) else result["config"].get("n_genes")
    row = {"model": "csg2a", "dataset": dataset, "split": args.split,
           "seed": int(task["seed"]), "fold": int(task["fold"]), "folds": int(task["folds"]),
           "params": {k: v for k, v in task["params"].items() if k != "seed"},
           "threads": result.get("torch_threads"), "source": f"benchmark task {task_id}",
           "load": args.load, "genes": genes, "train_pairs": len(fold.train),
           "fit_seconds": round(history["seconds"], 1), "epochs": history["epochs_run"],
           "best_epoch": history["best_epoch"], "best_val_loss": round(history["best_score"], 5),
           "attention_abs_mean": _attention_scale(store, task_id),
           "seconds_per_epoch": round(history["seconds"] / max(history["epochs_run"], 1), 2),
           "train_samples_per_second": round(
               len(fold.train) * history["epochs_run"] / max(history["seconds"], 1e-9)),
           "peak_rss_mb": result.get("peak_rss_mb"),
           **{k: round(float(result["metrics"][k]), 4) for k in REPORTED
              if k in result["metrics"]}, "date": time.strftime("%Y-%m-%d %H:%M"),
           "versions": result.get("versions")}
    print(json.dumps(row))
    with open(args.out, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def cmd_per_drug(args: argparse.Namespace) -> None:
    """Per-drug test metrics of every finished cv task of ``args.split`` in a run, one
    row per (model, fold, drug), written atomically to ``--out`` (CSV): on drug-blind
    folds each drug is tested in exactly one fold, so models can be compared paired
    over drugs, which has far more pairs than the folds."""
    import pandas as pd

    from drpkit.atomic import atomic_write_text
    from drpkit.evaluate import evaluate_predictions
    from drpkit.experiment.store import RunStore

    store = RunStore(Path(args.run))
    tasks = store.results()
    tasks = tasks[(tasks["kind"] == "cv") & (tasks["split"] == args.split)]
    if tasks.empty:
        raise SystemExit(f"{args.run}: no finished cv task on {args.split}")
    tables = []
    for task in tasks.itertuples():
        per_drug = evaluate_predictions(store.predictions(task.id), "regression").per_drug
        per_drug = per_drug.rename(columns={"group": "drug"})[["drug", "n", "pcc", "rmse"]]
        tables.append(per_drug.assign(model=task.model, split=task.split, seed=task.seed,
                                      fold=task.fold))
    table = pd.concat(tables)[["model", "split", "seed", "fold", "drug", "n", "pcc", "rmse"]]
    table = table.sort_values(["model", "fold", "drug"])
    atomic_write_text(Path(args.out), table.to_csv(index=False, float_format="%.5g"))
    print(f"{len(table):,} rows ({table['drug'].nunique()} drugs, {len(tasks)} tasks) "
          f"-> {args.out}")


def _figure(submap, drug: str, path: Path) -> None:
    """Heatmap of ``drug``'s attention among its top genes (``drug_attention_map`` rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import SymLogNorm

    genes = list(dict.fromkeys(submap["gene_a"]))
    matrix = submap.pivot(index="gene_a", columns="gene_b", values="attention").loc[genes, genes]
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    values = matrix.to_numpy()
    limit = float(np.abs(values).max()) or 1.0
    # symmetric log colours: a few genes with extreme robust z-scores dominate the diagonal
    norm = SymLogNorm(linthresh=max(limit / 1000, 1e-6), vmin=-limit, vmax=limit)
    image = ax.imshow(values, cmap="RdBu_r", norm=norm)
    ax.set_xticks(range(len(genes)), genes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(genes)), genes, fontsize=7)
    ax.set_title(f"csg2a gene-gene attention Q Q^T / sqrt(b), {drug}:\n"
                 f"its top {len(genes)} genes by row mean, mean over training cells",
                 fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8, label="attention (prior excluded; symmetric log)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_moa(args: argparse.Namespace) -> None:
    from drpkit.data import load_dataset
    from drpkit.models.csg2a_explain import moa_correlation
    from drpkit.resources import RESOURCES

    store, task_id, dataset = _csg2a_task(args)
    artifacts = store.artifacts(task_id)
    targets = RESOURCES.get("dti").targets(load_dataset(dataset))
    summary = moa_correlation(artifacts["drug_attention_similarity"], targets)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    drugs = [d.strip() for d in args.drugs.split(",") if d.strip()]
    maps = artifacts["drug_attention_map"]
    for drug in drugs:
        part = maps[maps["drug"] == drug]
        if len(part):
            _figure(part, drug, out / f"attention_{drug.replace(' ', '_')}.png")
    scores = artifacts["drug_gene_scores"]
    known = targets.groupby("drug")["gene"].agg(lambda g: sorted(set(g)))
    row = {"run": str(args.run), "task": task_id, "dataset": dataset, "split": args.split,
           "fold": int(args.fold), "folds": store.task(task_id)["folds"], "moa": summary,
           "annotation": "drug pairs sharing >= 1 known target (dti resource: DrugBank via "
                         "drGT, ChEMBL via drug2cell) vs sharing none",
           "figures": {d: {"known targets": list(known.get(d, [])),
                           "top genes": list(scores.loc[scores["drug"] == d].nsmallest(
                               10, "rank")["gene"])} for d in drugs},
           "date": time.strftime("%Y-%m-%d %H:%M")}
    (out / "moa.json").write_text(json.dumps(row, indent=2) + "\n")
    print(json.dumps(row["moa"], indent=2))


def cmd_synthetic_lincs(args: argparse.Namespace) -> None:
    """The tests' GCTX writer at full size: every L1000 landmark gene of the
    dataset's expression, so ``drpkit pretrain csg2a`` on it gives a checkpoint
    that fine-tuning on the dataset can load. Synthetic profiles: this shows the
    pretrain -> fine-tune path works; it makes no accuracy claim."""
    from drpkit.data import load_dataset
    from drpkit.data.lincs import write_lincs_example
    from drpkit.resources import landmark_genes

    expression = load_dataset(args.dataset).cell_view("expression")
    genes = [g for g in landmark_genes() if g in expression.columns]
    files = write_lincs_example(args.out, genes=genes, n_plates=args.plates, seed=args.seed)
    print(f"{len(genes)} landmark genes, {args.plates} plates: "
          + ", ".join(str(p) for p in files.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tm = sub.add_parser("time", help="fit one fold; time, memory, metrics as one JSON line")
    tm.add_argument("--load", default="none (idle machine)",
                    help="what else ran on the machine meanwhile")
    add_fold_arguments(tm, "csg2a", "benchmarks/results/csg2a_timing_gdsc2.jsonl")
    moa = sub.add_parser("moa", help="the MoA check and two attention maps of a grid task")
    moa.add_argument("--run", required=True, help="a benchmark run with csg2a tasks")
    moa.add_argument("--split", default="random")
    moa.add_argument("--fold", type=int, default=0)
    moa.add_argument("--drugs", default="Lapatinib,Afatinib")
    moa.add_argument("--out-dir", default="docs/explain/csg2a_gdsc2_f0")
    fr = sub.add_parser("from-run", help="a timing row from a finished grid task")
    fr.add_argument("--run", required=True)
    fr.add_argument("--split", default="random")
    fr.add_argument("--fold", type=int, default=0)
    fr.add_argument("--load", default="", help="what else ran on the machine meanwhile")
    fr.add_argument("--out", default="benchmarks/results/csg2a_timing_gdsc2.jsonl")
    pd_ = sub.add_parser("per-drug", help="per-drug test metrics of a run's tasks on a split")
    pd_.add_argument("--run", required=True)
    pd_.add_argument("--split", default="drug-blind")
    pd_.add_argument("--out", required=True, help="CSV file to write")
    syn = sub.add_parser("synthetic-lincs", help="a GSE92742-format example set to pretrain on")
    syn.add_argument("--out", required=True, help="folder for the four files")
    syn.add_argument("--dataset", default="gdsc2")
    syn.add_argument("--plates", type=int, default=16)
    syn.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    {"time": cmd_time, "moa": cmd_moa, "from-run": cmd_from_run, "per-drug": cmd_per_drug,
     "synthetic-lincs": cmd_synthetic_lincs}[args.command](args)


if __name__ == "__main__":
    main()
