"""Generators of the BENCHMARKS.md tables of issues 13 and 14 (honest labels,
per-drug baselines, calibration, defaults chosen on validation, node modes).

Registered into ``doc_common.GENERATORS``; run through ``doc_tables.py NAME``.
"""
from __future__ import annotations

import json

import pandas as pd
from doc_common import generator, md_table, mean_sd_text, read_jsonl


def _ms(values: pd.Series, digits: int = 3) -> str:
    return mean_sd_text(values, digits, empty="–")


@generator("labels")
def labels(args: list[str]) -> str:
    """Share of labels that change when z-score labels are fitted on each fold's
    training pairs instead of all pairs (labels_gdsc2.jsonl)."""
    frame = pd.DataFrame(read_jsonl("labels_gdsc2.jsonl"))
    rows = []
    for split, part in frame.groupby("split", sort=False):
        rows.append([split, str(len(part)), *(f"{100 * part[f'{p}_changed'].mean():.2f} %"
                                               for p in ("train", "val", "test")),
                     f"{100 * part['test_sensitive_share'].mean():.1f} %"])
    return md_table(["split", "folds", "training labels changed", "validation labels changed",
                     "test labels changed", "test pairs sensitive"], rows,
                    ["---", "---:", "---:", "---:", "---:", "---:"])


@generator("perdrug")
def perdrug(args: list[str]) -> str:
    """Per-drug and tissue baselines on GDSC2 (perdrug_gdsc2.jsonl)."""
    frame = pd.DataFrame(read_jsonl("perdrug_gdsc2.jsonl"))
    rows = []
    for (split, model), part in frame.groupby(["split", "model"], sort=False):
        rows.append([split, model, str(len(part)), _ms(part["drug_pcc_mean"]), _ms(part["pcc"]),
                     _ms(part["auroc"]), f"{part['fit_s'].mean():.1f} s",
                     str(int(part["torch_threads"].iloc[0]))])
    return md_table(["split", "model", "folds", "PCC per drug", "PCC", "AUROC",
                     "fit time per fold", "threads"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:"])


@generator("calibration")
def calibration(args: list[str]) -> str:
    """MTIGCN's regression head with and without its affine calibration, the same
    fitted model per row (mtigcn_calibration_gdsc2.jsonl)."""
    rows = []
    for r in read_jsonl("mtigcn_calibration_gdsc2.jsonl"):
        a, b = r["calibration"]
        rows.append([f"{r['dataset']} {r['split']} fold {r['fold']} (seed {r['seed']})",
                     str(r["threads"]), f"{a:.3f} x {b:+.3f}",
                     f"{r['none']['rmse']:.4f}", f"{r['affine']['rmse']:.4f}",
                     f"{r['none']['mean_offset']:+.3f}", f"{r['affine']['mean_offset']:+.3f}",
                     f"{r['affine']['pcc']:.4f}", f"{r['affine']['drug_pcc_mean']:.4f}"])
    return md_table(["fold", "threads", "calibration (validation)", "RMSE paper form",
                     "RMSE calibrated", "mean error paper form", "mean error calibrated",
                     "PCC (both)", "PCC per drug (both)"], rows,
                    ["---", "---:", "---", "---:", "---:", "---:", "---:", "---:", "---:"])


@generator("patience")
def patience(args: list[str]) -> str:
    """Early-stopping settings scored on a selection part held out of each fold's
    training part (tune_patience_gdsc_nihgcn.jsonl; the test folds are never read)."""
    frame = pd.DataFrame(read_jsonl("tune_patience_gdsc_nihgcn.jsonl"))
    frame["setting"] = frame["setting"].map(lambda s: json.dumps(s, sort_keys=True))
    order = list(dict.fromkeys(frame["setting"]))
    base = frame[frame["setting"] == order[0]].set_index("fold")
    rows = []
    for setting in order:
        part = frame[frame["setting"] == setting].set_index("fold")
        cells = [f"`{setting}`", str(len(part))]
        for metric in ("select_auroc", "select_pcc"):
            diff = (part[metric] - base[metric]).dropna()
            cells += [_ms(part[metric], 4),
                      f"{diff.mean():+.4f} ({int((diff > 0).sum())} of {len(diff)} up)"]
        cells += [f"{part['epochs'].mean():.0f}", f"{part['seconds'].mean():.0f} s"]
        rows.append(cells)
    return md_table(["setting", "folds", "selection AUROC", "Δ vs patience 50",
                     "selection PCC", "Δ vs patience 50", "epochs", "seconds"], rows,
                    ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"])


@generator("node-modes-check")
def node_modes_check(args: list[str]) -> str:
    """Transductive mode of the shared graph scaffold against the code before it
    (node_modes_{before,after}_gdsc_nihgcn.jsonl, GDSC fold 0 of the papers' protocol)."""
    before = {r["model"]: r for r in read_jsonl("node_modes_before_gdsc_nihgcn.jsonl")}
    after = {r["model"]: r for r in read_jsonl("node_modes_after_gdsc_nihgcn.jsonl")}
    rows = []
    for model, old in before.items():
        new = after.get(model, {})
        cells = [model]
        for key in ("auroc", "auprc", "best_epoch"):
            cells += [f"{old[key]:.6f}" if key != "best_epoch" else str(old[key]),
                      (f"{new[key]:.6f}" if key != "best_epoch" else str(new[key]))
                      if key in new else "–"]
        cells.append("identical" if new and all(old[k] == new.get(k) for k in
                                               ("auroc", "auprc", "best_epoch")) else "differs")
        rows.append(cells)
    return md_table(["model", "AUROC before", "AUROC after", "AUPRC before", "AUPRC after",
                     "best epoch before", "best epoch after", ""], rows,
                    ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---"])


@generator("within-drug")
def within_drug(args: list[str]) -> str:
    """Per split kind: the best model that is not a baseline against the best baseline,
    in PCC and AUROC *within drugs*, with the Holm-corrected Wilcoxon p of the report
    (``RUN/leaderboard.csv``, default the committed GDSC2 honest grid)."""
    path = args[0] if args else "gdsc2_honest/leaderboard.csv"
    from doc_common import RESULTS

    board = pd.read_csv(RESULTS / path)
    rows = []
    for split, part in board.groupby("split", sort=False):
        for metric, name in (("drug_pcc_mean", "PCC per drug"),
                             ("drug_auroc_mean", "AUROC per drug")):
            if f"{metric}_mean" not in part or part[f"{metric}_mean"].isna().all():
                continue
            reference = part[f"{metric}_reference"].dropna()
            if reference.empty:
                continue
            ref = reference.iloc[0]
            models = part[~part["baseline"] & part[f"{metric}_mean"].notna()]
            if models.empty:
                continue
            best = models.loc[models[f"{metric}_mean"].idxmax()]
            ref_row = part[part["model"] == ref].iloc[0]
            significant = bool(best.get(f"{metric}_significantly_better", False) is True
                               or str(best.get(f"{metric}_significantly_better")) == "True")
            rows.append([split, name, f"{ref} {ref_row[f'{metric}_mean']:.3f}",
                         f"{best['model']} {best[f'{metric}_mean']:.3f}",
                         f"{best[f'{metric}_diff']:+.3f}", f"{best[f'{metric}_p_wilcoxon_holm']:.2g}",
                         f"{int(best[f'{metric}_n'])}", "yes" if significant else "no"])
    return md_table(["split", "metric", "best baseline", "best other model", "Δ",
                     "p (Wilcoxon, Holm)", "blocks", "better, p < 0.05"], rows,
                    ["---", "---", "---", "---", "---:", "---:", "---:", "---"])


@generator("grid-compare")
def grid_compare(args: list[str]) -> str:
    """One metric per model and split kind in two grids' leaderboards, side by side:
    ``grid-compare METRIC OLD NEW`` (default: auroc, the issue-5 grid with labels over all
    pairs, ``gdsc2_all/leaderboard.csv``, against the per-fold-label grid,
    ``gdsc2_honest/leaderboard.csv``). A model missing from one grid shows ``–``."""
    from doc_common import RESULTS

    metric, old_path, new_path = (args + ["auroc", "gdsc2_all/leaderboard.csv",
                                          "gdsc2_honest/leaderboard.csv"][len(args):])[:3]
    column = f"{metric}_mean"
    old, new = (pd.read_csv(RESULTS / p).set_index(["split", "model"]) for p in (old_path, new_path))
    splits = list(dict.fromkeys(new.index.get_level_values("split")))
    models = list(dict.fromkeys(new.index.get_level_values("model")))

    def value(board: pd.DataFrame, split: str, model: str) -> str:
        if (split, model) not in board.index or column not in board:
            return "–"
        v = board.loc[(split, model), column]
        return "–" if pd.isna(v) else f"{v:.3f}"

    rows = []
    for model in models:
        row = [model]
        for split in splits:
            row.append(f"{value(old, split, model)} → {value(new, split, model)}")
        rows.append(row)
    return md_table(["model", *splits], rows, ["---"] + ["---:"] * len(splits))


def _tasks(path: str) -> pd.DataFrame:
    from doc_common import RESULTS

    frame = pd.read_csv(RESULTS / path)
    return frame[frame["kind"] == "cv"]


GRAPH_MODELS = ("nihgcn", "mtigcn", "mtigcn-a", "mtigcn-b", "hgacl")


@generator("node-modes")
def node_modes(args: list[str]) -> str:
    """Graph models inductive (the first file, default gdsc2_honest/tasks.csv) against
    transductive (the other files, default gdsc2_honest_3c28bfc/tasks.csv; the first holding a
    (model, split, fold) counts) on the same GDSC2 folds, seed 0, paired over folds."""
    from scipy.stats import ttest_rel

    files = args or ["gdsc2_honest/tasks.csv", "gdsc2_honest_3c28bfc/tasks.csv"]
    inductive = _tasks(files[0])
    inductive = inductive[(inductive["seed"] == 0) & inductive["model"].isin(GRAPH_MODELS)]
    transductive = pd.concat([_tasks(f) for f in files[1:]]).drop_duplicates(
        ["model", "split", "seed", "fold"])
    transductive = transductive[transductive["seed"] == 0]
    rows = []
    for split in dict.fromkeys(inductive["split"]):
        for model in dict.fromkeys(inductive["model"]):
            a = inductive[(inductive["split"] == split) & (inductive["model"] == model)]
            b = transductive[(transductive["split"] == split) & (transductive["model"] == model)]
            both = a.set_index("fold")[["auroc", "drug_auroc_mean"]].join(
                b.set_index("fold")[["auroc", "drug_auroc_mean"]], lsuffix="_i", rsuffix="_t",
                how="inner")
            if both.empty:
                continue
            diff = both["auroc_i"] - both["auroc_t"]
            p = ttest_rel(both["auroc_i"], both["auroc_t"]).pvalue if len(both) > 2 else float("nan")
            rows.append([split, model, str(len(both)), _ms(both["auroc_t"]), _ms(both["auroc_i"]),
                         f"{diff.mean():+.3f}", "–" if pd.isna(p) else f"{p:.2g}",
                         _ms(both["drug_auroc_mean_t"]), _ms(both["drug_auroc_mean_i"])])
    return md_table(["split", "model", "folds", "AUROC transductive", "AUROC inductive", "Δ",
                     "p (paired t)", "AUROC per drug transductive", "AUROC per drug inductive"],
                    rows, ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"])


@generator("compression")
def compression(args: list[str]) -> str:
    """NIHGCN (inductive) with and without the row-space input compression on the same
    folds (the nihgcn rows of gdsc2_honest/tasks.csv, gdsc2_nocompress/tasks.csv)."""
    on = _tasks("gdsc2_honest/tasks.csv")
    on = on[on["seed"] == 0]
    off = _tasks("gdsc2_nocompress/tasks.csv")
    rows = []
    for split in dict.fromkeys(off["split"]):
        a = on[(on["split"] == split) & (on["model"] == "nihgcn")].set_index("fold")
        b = off[off["split"] == split].set_index("fold")
        both = a[["auroc", "seconds"]].join(b[["auroc", "seconds"]], lsuffix="_on",
                                            rsuffix="_off", how="inner")
        if both.empty:
            continue
        diff = both["auroc_on"] - both["auroc_off"]
        rows.append([split, str(len(both)), _ms(both["auroc_on"]), _ms(both["auroc_off"]),
                     f"{diff.mean():+.4f} ({int((diff > 0).sum())} of {len(diff)} higher)",
                     f"{both['seconds_on'].mean():.0f} s", f"{both['seconds_off'].mean():.0f} s"])
    return md_table(["split", "folds", "AUROC compressed", "AUROC plain", "Δ (compressed - plain)",
                     "fit time compressed", "fit time plain"], rows,
                    ["---", "---:", "---:", "---:", "---:", "---:", "---:"])
