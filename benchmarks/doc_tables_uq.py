"""Generator of the BENCHMARKS.md uncertainty table (issue 17): coverage, width and
AURC per model, calibration and split (``uncertainty_gdsc2.jsonl`` of
``bench_uncertainty.py``). Registered into ``doc_common.GENERATORS``."""
from __future__ import annotations

import json

import pandas as pd
from doc_common import RESULTS, generator, md_table, read_jsonl, transfer_grid
from doc_common import mean_sd_text as _ms


def _rows(*names: str) -> list[dict]:
    """Rows of ``bench_uncertainty.py`` result files. A row that stores its resolved
    ``settings`` gets its ``params`` (what labels read) recomputed as the settings that
    differ from its model's *current* defaults, so no label goes stale when a default
    changes; older rows, recorded without them, keep the ``params`` they were written with."""
    from bench_common import changed_settings, default_settings

    rows = read_jsonl(*names)
    for row in rows:
        if isinstance(row.get("settings"), dict):
            row["params"] = {"seed": row["seed"], **changed_settings(
                row["settings"], default_settings(row["model"]))}
    return rows


def _model_settings(params: dict) -> str:
    """Model settings of a row beyond seed and uncertainty, as `` (k=v, ...)``."""
    def flat(prefix: str, value) -> list[str]:
        if isinstance(value, dict):
            return [item for k, v in value.items() for item in flat(f"{prefix}{k}.", v)]
        return [f"{prefix[:-1]}={value}"]

    items = [item for k, v in params.items() if k not in ("seed", "uncertainty")
             for item in flat(f"{k}.", v)]
    return f" ({', '.join(items)})" if items else ""


def _uncertainty_setting(params: dict) -> str:
    """A row's uncertainty settings as ``k=v, ...`` (the tables' "uncertainty" column)."""
    return ", ".join(f"{k}={v}" for k, v in params["uncertainty"].items())


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its "setting" column (uncertainty settings) and the model's other
    settings appended to "model", so that rows of different settings never share a group."""
    frame = frame.copy()
    frame["setting"] = frame["params"].map(_uncertainty_setting)
    frame["base"] = frame["model"]
    frame["model"] = frame["model"] + frame["params"].map(_model_settings)
    return frame


SPLIT_ORDER = {"random": 0, "cell-blind": 1, "drug-blind": 2}


def _ordered_groups(frame: pd.DataFrame):
    """(model, setting, split) groups of a :func:`_labelled` frame: models (each model's
    variants together), variants and settings in order of first appearance in the
    file, then split kinds random, cell-blind, drug-blind, transfers."""
    groups = list(frame.groupby(["model", "setting", "split"], sort=False))
    base = dict(zip(frame["model"], frame["base"]))
    order = {name: i for i, name in reversed(list(enumerate(frame["base"])))}
    first = {name: i for i, name in reversed(list(enumerate(frame["model"])))}
    setting = {name: i for i, name in reversed(list(enumerate(frame["setting"])))}
    return sorted(groups, key=lambda g: (order[base[g[0][0]]], first[g[0][0]],
                                         setting[g[0][1]], SPLIT_ORDER.get(g[0][2], 3)))


@generator("uncertainty")
def uncertainty(args: list[str]) -> str:
    """90% intervals of each (model, setting, split): mean ± sd over folds."""
    frame = _labelled(pd.DataFrame(_rows("uncertainty_gdsc2.jsonl")))
    rows = []
    for (model, setting, split), part in _ordered_groups(frame):
        rows.append([model, f"`{setting}`", split, str(len(part)),
                     _ms(100 * part["interval_coverage"], 1) + " %",
                     _ms(part["interval_width_mean"], 2), _ms(part["interval_drug_coverage_sd"]),
                     _ms(part["interval_drug_coverage_min"]), _ms(part["aurc"]),
                     _ms(part["aurc_constant"]), f"{part['seconds'].mean():,.0f} s"])
    return md_table(["model", "uncertainty", "split", "folds", "coverage (nominal 90 %)",
                     "mean width (ln IC50)", "per-drug coverage sd", "worst drug's coverage",
                     "AURC", "AURC constant width", "time per fold"], rows,
                    ["---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:",
                     "---:"])


GROUPS = ("seen", "new cell", "new drug", "new both")


@generator("uncertainty-transfer")
def uncertainty_transfer(args: list[str]) -> str:
    """Coverage of the transfer rows by novelty of the target pair (pairs; coverage; PCC)."""
    frame = pd.DataFrame(_rows("uncertainty_gdsc2.jsonl"))
    frame = _labelled(frame[frame["split"].str.startswith("transfer")])
    rows = []
    for r in frame.to_dict("records"):
        rows.append([r["model"], f"`{r['setting']}`", r["split"], *(
            f"{int(r[f'n[{g}]']):,}: {100 * r[f'interval_coverage[{g}]']:.1f} % "
            f"(PCC {r[f'pcc[{g}]']:.2f})" for g in GROUPS)])
    return md_table(["model", "uncertainty", "target", *(f"{g}: pairs, coverage (PCC)" for g in GROUPS)],
                    rows, ["---", "---", "---", "---:", "---:", "---:", "---:"])


@generator("mmgnn-speed")
def mmgnn_speed(args: list[str]) -> str:
    """mmgnn's training cost per setting (``mmgnn_speed_gdsc2.jsonl`` of bench_mmgnn.py)."""
    rows = []
    for r in read_jsonl("mmgnn_speed_gdsc2.jsonl"):
        setting = _model_settings(r["settings"]).strip(" ()") or "defaults"
        rows.append([f"`{setting}`", str(r["batch_size"]), f"{r['ms_per_step']:.0f}",
                     f"{r['epoch_seconds']:,}", f"{r['peak_rss_mb']:,}", str(r["threads"]),
                     r.get("load") or "-"])
    return md_table(["setting", "batch", "ms per step", "s per epoch (132,594 pairs)",
                     "peak RSS (MiB)", "threads", "beside it"], rows,
                    ["---", "---:", "---:", "---:", "---:", "---:", "---"])


@generator("mmgnn-training")
def mmgnn_training(args: list[str]) -> str:
    """mmgnn's fits by optimiser setting (``bench_mmgnn_training.py``): validation loss,
    the attention's query/key and gene-set embedding norms, and the test scores."""
    rows = []
    for r in read_jsonl("mmgnn_training_gdsc2.jsonl"):
        optimiser = {"adam": "Adam, L2", "adamw": "AdamW, decay"}[r["optimizer"]]
        setting = f"{optimiser} {r['weight_decay']:g}" if r["weight_decay"] else "Adam, no decay"
        if r["drug_encoder"] != "mol-gnn":
            setting += f"; drug_encoder={r['drug_encoder']}"
        for flag in ("cross_attention", "pathway_tokens"):
            if not r.get(flag, True):
                setting += f"; {flag}=false"
        norms = "–" if r["query_norm"] is None else \
            f"{r['query_norm']:.1f} / {r['key_norm']:.1f}"
        sets = "–" if r["set_embedding_norm"] is None else f"{r['set_embedding_norm']:.2f}"
        rows.append([r["split"], str(r["fold"]), setting, f"{r['best_val_loss']:.4f}",
                     f"{r['best_epoch']} of {r['epochs']}", norms, sets, f"{r['pcc']:.3f}",
                     f"{r['drug_pcc_mean']:.3f}", f"{r['seconds']:,.0f} s"])
    return md_table(["split", "fold", "optimiser (and ablation)", "validation loss (best)",
                     "best epoch", "query / key norms (drug -> cell)", "gene-set embedding norm", "PCC",
                     "PCC per drug", "fit"], rows,
                    ["---", "---:", "---", "---:", "---:", "---:", "---:", "---:", "---:",
                     "---:"])


@generator("mmgnn-attention")
def mmgnn_attention(args: list[str]) -> str:
    """Rank of each drug's mechanism pathway in mmgnn's attention, beside the same set's
    median rank over all drugs (``mmgnn_attention_gdsc2.jsonl`` of
    bench_mmgnn_attention.py)."""
    from drpkit.resources.gene_sets import pathway_label

    rows = []
    for r in read_jsonl("mmgnn_attention_gdsc2.jsonl"):
        trainer = r["params"].get("trainer", {})
        optimiser = trainer.get("optimizer", "adam")
        flat = r["spread_x_uniform"] < 1e-4
        rows.append([f"{optimiser}, weight_decay={trainer.get('weight_decay')}", r["drug"],
                     pathway_label(r["pathway"]),
                     f"{r['spread_x_uniform']:.2g}" + (" (flat)" if flat else ""),
                     "– (ties)" if flat else f"{r['rank']} of {r['sets']}",
                     f"{r['weight_x_uniform']:.3f}",
                     "–" if flat else f"{r['median_rank_all_drugs']:.0f} ({r['drugs']} drugs)",
                     "–" if flat else f"{100 * r['share_of_drugs_ranking_it_higher']:.0f} %",
                     "–" if flat else pathway_label(r["top_set"])])
    return md_table(["training", "drug", "mechanism pathway", "spread (x uniform)",
                     "its rank for the drug", "weight (x uniform)",
                     "median rank over all drugs", "drugs ranking it higher",
                     "drug's top set"], rows,
                    ["---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---"])


@generator("mmgnn-fold")
def mmgnn_fold(args: list[str]) -> str:
    """mmgnn's train runs (``uncertainty_gdsc2.jsonl`` rows of model mmgnn, recorded by
    ``bench_uncertainty.py --from-run``) beside models of the per-fold-label grid on the
    same fold and seed (``gdsc2_honest/tasks.csv``); its transfer rows are in
    ``mmgnn-transfer``."""
    runs = [r for r in _rows("uncertainty_gdsc2.jsonl")
            if r["model"] == "mmgnn" and not r["split"].startswith("transfer")]
    grid = pd.read_csv(RESULTS / "gdsc2_honest/tasks.csv")
    others = args or ["naive-additive", "per-drug-ridge", "gbm", "mlp", "mtigcn"]
    metrics = ("pcc", "rmse", "drug_pcc_mean", "auroc", "drug_auroc_mean")
    rows = []
    keys = list(dict.fromkeys((r["split"], r["fold"], r["seed"]) for r in runs))
    for key in keys:  # each fold: its mmgnn runs, then the grid's models on it
        for r in runs:
            if (r["split"], r["fold"], r["seed"]) == key:
                rows.append([f"mmgnn{_model_settings(r['params'])}", r["split"], str(r["fold"]),
                             *(f"{r[k]:.3f}" if k in r else "–" for k in metrics),
                             f"{r['seconds']:,.0f} s"])
        same = grid[(grid["kind"] == "cv") & (grid["split"] == key[0]) & (grid["fold"] == key[1])
                    & (grid["seed"] == key[2])].set_index("model")
        for model in others:
            if model in same.index:
                t = same.loc[model]
                rows.append([model, key[0], str(key[1]),
                             *("–" if pd.isna(t[k]) else f"{t[k]:.3f}" for k in metrics),
                             f"{t['seconds']:,.0f} s"])
    return md_table(["model", "split", "fold", "PCC", "RMSE", "PCC per drug", "AUROC",
                     "AUROC per drug", "fit time"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"])


@generator("predict-example")
def predict_example(args: list[str]) -> str:
    """``drpkit predict`` on CCLE's new cells (``bench_predict_example.py``): with ``rows``,
    the flagged predictions and one cell's first rows; else intervals against CCLE's
    measured ln IC50 per drug novelty and flag."""
    folder = RESULTS / "predict_example"
    if args[:1] == ["rows"]:
        pred = pd.read_csv(folder / "pred.csv")
        shown = pd.concat([pred[pred["flag_uncertain"]], pred[~pred["flag_uncertain"]].head(4)])
        return md_table(
            ["cell", "drug", "value", "value_sd", "value_lo", "value_hi", "new_cell", "new_drug",
             "flag_uncertain"],
            [[r.cell, r.drug, f"{r.value:.2f}", f"{r.value_sd:.2f}", f"{r.value_lo:.2f}",
              f"{r.value_hi:.2f}", str(r.new_cell), str(r.new_drug), f"**{r.flag_uncertain}**"
              if r.flag_uncertain else str(r.flag_uncertain)] for r in shown.itertuples()],
            ["---", "---", "---:", "---:", "---:", "---:", "---", "---", "---"])
    summary = json.loads((folder / "summary.json").read_text())
    rows = [[g["drug"], "yes" if g["flagged"] else "no", str(g["pairs"]), f"{g['mean width']:.2f}",
             str(g["measured pairs"]),
             f"{100 * g['coverage']:.1f} %" if g["coverage"] is not None else "–",
             f"{g['mean abs error']:.2f}" if g["mean abs error"] is not None else "–"]
            for g in summary["groups"]]
    return md_table(["drug", "flagged", "pairs", "mean width (ln IC50)", "pairs CCLE measured",
                     "coverage of CCLE's value", "mean abs. error vs CCLE"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:"])


@generator("uncertainty-classes")
def uncertainty_classes(args: list[str]) -> str:
    """Probabilities and conformal sets of the rows that recorded them (``ece``):
    ``uncertainty_gdsc2.jsonl`` and ``uncertainty_classifiers_gdsc2.jsonl`` (the same
    runs, folds whose first rows predate the ECE columns)."""
    files = [name for name in ("uncertainty_gdsc2.jsonl", "uncertainty_classifiers_gdsc2.jsonl")
             if (RESULTS / name).exists()]
    frame = pd.DataFrame(_rows(*files))
    frame = _labelled(frame[frame["ece"].notna()] if "ece" in frame else frame.iloc[:0])
    rows = [[model, f"`{setting}`", split, str(len(part)), _ms(part["ece_raw"], 4),
             _ms(part["ece"], 4), _ms(100 * part["set_coverage"], 1) + " %",
             _ms(part["set_size_mean"], 2), _ms(part["auroc"])]
            for (model, setting, split), part in _ordered_groups(frame)]
    return md_table(["model", "uncertainty", "split", "folds", "ECE of the score",
                     "ECE after isotonic calibration", "set coverage (nominal 90 %)",
                     "mean set size", "AUROC"], rows,
                    ["---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:"])


TRANSFER_BESIDE = ("naive-drug", "naive-additive", "gbm", "mlp", "mtigcn")


@generator("mmgnn-transfer")
def mmgnn_transfer(args: list[str]) -> str:
    """mmgnn's GDSC2 -> CCLE rows (``bench_uncertainty.py --transfer``) beside the
    transfer grid's rows of the baselines and MTIGCN (its report's leaderboard.md): the
    same runner, target pairs and metrics, one fit each."""
    frame = _labelled(pd.DataFrame(_rows("uncertainty_gdsc2.jsonl")))
    frame = frame[(frame["base"] == "mmgnn") & frame["split"].str.startswith("transfer")]
    rows = [[r["model"], f"{r['pcc']:.3f}", f"{r['drug_pcc_mean']:.3f}", f"{r['auroc']:.3f}",
             f"{r['pcc[seen]']:.3f}", f"{r['pcc[new drug]']:.3f}",
             f"{100 * r['interval_coverage']:.1f} %", f"{r['seconds']:,.0f} s"]
            for r in frame.to_dict("records")]
    rows += [[*(r[c] for c in ("Model", "PCC", "PCC per drug", "AUROC", "PCC seen",
                                "PCC new drug")), "–", "–"]
             for r in transfer_grid()[1] if r["Model"] in TRANSFER_BESIDE]
    return md_table(["model", "PCC", "PCC per drug", "AUROC", "PCC seen pairs",
                     "PCC new drug's pairs", "90 % interval coverage", "fit"], rows,
                    ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"])


MMGNN_GRID_SPLITS = ["random", "cell-blind", "drug-blind", "disjoint"]
MIN_PAIRED_FOLDS = 3  # fewer paired folds: the difference is shown without a p


@generator("mmgnn-grid")
def mmgnn_grid(args: list[str]) -> str:
    """mmgnn's grid at CPU-sized settings (``mmgnn_gdsc2_cpu/tasks.csv``, merged by
    ``merge_grid.py``) beside the per-fold-label grid's models on the same folds and
    seed (``gdsc2_honest/tasks.csv``): mean ± sd over the folds mmgnn finished, its
    intervals' coverage, and mmgnn's paired difference to each model (t-test p from
    three folds on). ``args``: the models beside it."""
    from doc_common import on_the_same_folds

    ours = pd.read_csv(RESULTS / "mmgnn_gdsc2_cpu/tasks.csv")
    grid = pd.read_csv(RESULTS / "gdsc2_honest/tasks.csv")
    others = args or ["naive-additive", "per-drug-ridge", "gbm", "mlp", "mtigcn"]
    seeds = set(ours["seed"])
    beside = grid[grid["model"].isin(others) & grid["seed"].isin(seeds)]
    tasks = pd.concat([ours, beside.set_index("model").loc[others].reset_index()])
    tasks = tasks[tasks["kind"] == "cv"]
    rows = []
    for split in [s for s in MMGNN_GRID_SPLITS if s in set(ours["split"])]:
        for model, runs, versus in on_the_same_folds(tasks, "mmgnn", split,
                                                     ["pcc", "drug_pcc_mean"],
                                                     MIN_PAIRED_FOLDS):
            coverage = runs.get("interval_coverage", pd.Series(dtype=float))
            rows.append([split, model, str(len(runs)), _ms(runs["pcc"]), _ms(runs["rmse"]),
                         _ms(runs["drug_pcc_mean"]), _ms(runs["auroc"]),
                         _ms(100 * coverage, 1, "–") + (" %" if coverage.notna().any() else ""),
                         f"{runs['seconds'].mean():,.0f} s", *versus])
    return md_table(["split", "model", "folds", "PCC", "RMSE", "PCC per drug", "AUROC",
                     "90 % interval coverage", "fit per fold", "mmgnn − this: PCC",
                     "mmgnn − this: PCC per drug"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:",
                     "---:", "---:"])
