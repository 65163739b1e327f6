"""Generators of the BENCHMARKS.md tables of issue 15 (drGT): speed and memory of one
fold, the paper's protocols on drGT's own labels beside the paper's figures, and the
checks of ``drpkit explain --validate``.

Registered into ``doc_common.GENERATORS``; run through ``doc_tables.py NAME``.
"""
from __future__ import annotations

import json

import pandas as pd
from doc_common import RESULTS, ROOT, generator, md_table, paired_difference_text, read_jsonl
from doc_common import mean_sd_text as _ms


@generator("drgt-speed")
def drgt_speed(args: list[str]) -> str:
    """One GDSC2 fold of drGT with its defaults (``bench_drgt.py time``)."""
    rows = []
    for r in read_jsonl("drgt_timing_gdsc2.jsonl"):
        if r["dataset"] != "gdsc2":
            continue
        nodes = r["nodes"]
        rows.append([f"{r['split']} fold {r['fold']}", str(r["threads"]),
                     f"{r['fit_seconds']:.0f} s", f"{r['epochs']} ({r['best_epoch'] + 1})",
                     f"{r['seconds_per_epoch']:.2f} s",
                     f"{nodes['drugs']} / {nodes['cells']} / {nodes['genes']}",
                     f"{r['edges']:,}", f"{r['explain_seconds']:.1f} s",
                     f"{r['peak_rss_mb'] / 1024:.1f} GiB", f"{r['auroc']:.3f}", f"{r['pcc']:.3f}"])
    return md_table(["fold", "threads", "fit", "epochs (best)", "per epoch",
                     "nodes: drugs / cells / genes", "edges", "explain", "peak RSS", "AUROC",
                     "PCC"], rows, ["---", "---:", "---:", "---:", "---:", "---:", "---:",
                                    "---:", "---:", "---:", "---:"])


PAPER_SPLIT = {"random": "random 5-fold", "drgt-new-cell": "unseen cell",
               "drgt-new-drug": "unseen drug", "disjoint": "zero-shot"}


@generator("drgt-paper")
def drgt_paper(args: list[str]) -> str:
    """Every model of a grid on drGT's own GDSC2 labels under the paper's protocols
    (``RUN/tasks.csv`` copied to ``benchmarks/results/drgt_paper/``), mean ± sd over
    the folds, with the figures of the paper's abstract beside drGT's rows, labelled."""
    tasks = pd.read_csv(RESULTS / (args[0] if args else "drgt_paper/tasks.csv"))
    tasks = tasks[tasks["kind"] == "cv"]
    paper = {r["split"]: r for r in read_jsonl("published.jsonl") if r["paper"] == "drGT"}
    rows = []
    for split in [s for s in PAPER_SPLIT if s in set(tasks["split"])]:
        part = tasks[tasks["split"] == split]
        for model, runs in part.groupby("model", sort=False):
            rows.append([PAPER_SPLIT[split], model, str(len(runs)), _ms(runs["auroc"]),
                         _ms(runs["auprc"]), _ms(runs["drug_auroc_mean"]), _ms(runs["r2"]),
                         _ms(runs["drug_pcc_mean"])])
        if split in paper:
            quoted = paper[split]
            rows.append([PAPER_SPLIT[split], "drGT, the paper's figure (abstract)", "",
                         f"{quoted['auroc']:.3f}", "", "", f"{quoted['r2']:.3f}", ""])
    return md_table(["protocol", "model", "folds", "AUROC", "AUPRC", "AUROC per drug", "R2",
                     "PCC per drug"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:"])


@generator("drgt-explain")
def drgt_explain(args: list[str]) -> str:
    """The three checks of ``drpkit explain --validate``, one block of rows per run
    (arguments ``NAME:READING``, read from ``docs/explain/NAME/validation.json``)."""
    rows = []
    for spec in args or ["gdsc2_f0:flow"]:
        name, _, reading = spec.partition(":")
        v = json.loads((ROOT / "docs" / "explain" / name / "validation.json").read_text())
        share, rec, enr = v["known_share"], v["dti_recovery"], v["enrichment"]
        rows += [
            [reading, "visible known targets in the top K (the paper's reading; circular)",
             str(share["k"]), f"{share['drugs']} drugs",
             f"{share['known']} of {share['links']} ({100 * share['share']:.1f} %)", "", ""],
            [reading, (f"hidden targets recovered ({100 * rec['hide_dti']:.0f} % of links "
                       f"hidden; that model's AUROC {rec['hidden_model_auroc']:.3f})"),
             str(rec["k"]), f"{rec['drugs']} drugs", f"{rec['hits']} of {rec['hidden_links']}",
             f"random {rec['expected_random']:.1f}, degree-matched {rec['expected_degree']:.1f}",
             f"{rec['p_random']:.2f} / {rec['p_degree']:.2f}"],
            [reading, f"top gene set holds a target ({enr['gene_sets']} KEGG sets, BH)",
             str(enr["k"]), f"{enr['annotated_drugs']} annotated drugs",
             f"{enr['matches']} ({100 * enr['match_share']:.1f} %)",
             f"random genes {100 * enr['null_match_share']:.1f} %", f"{enr['p_permutation']:.2f}"],
        ]
    return md_table(["reading", "check", "K", "over", "drGT", "baseline (expected)", "p"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:"])


ABLATIONS = {"conv_gat": "GAT layers (GATConv)", "conv_transformer": "Transformer layers",
             "use_genes_false": "no gene nodes", "use_dti_false": "no drug-target edges"}


@generator("drgt-ablation")
def drgt_ablation(args: list[str]) -> str:
    """drGT's ablations (``drgt_ablation/<variant>.csv``, each a run's tasks.csv) against
    the full model (GATv2; the drgt rows of ``drgt_paper/tasks.csv``) on the same folds:
    mean ± sd over folds and the paired difference with its t-test p."""
    from scipy.stats import ttest_rel

    full = pd.read_csv(RESULTS / "drgt_paper" / "tasks.csv")
    full = full[(full["kind"] == "cv") & (full["model"] == "drgt")]
    rows = []
    variants = {"full model (GATv2)": full}
    for key, label in ABLATIONS.items():
        path = RESULTS / "drgt_ablation" / f"{key}.csv"
        if path.exists():
            frame = pd.read_csv(path)
            variants[label] = frame[frame["kind"] == "cv"]
    for split in [s for s in PAPER_SPLIT if s in set().union(*(set(v["split"]) for v in
                                                                variants.values() if v is not full))]:
        base = full[full["split"] == split].set_index("fold")
        for label, frame in variants.items():
            part = frame[frame["split"] == split].set_index("fold")
            both = part[["auroc", "r2"]].join(base[["auroc", "r2"]], rsuffix="_full", how="inner")
            if both.empty:
                continue
            cells = [PAPER_SPLIT[split], label, str(len(both)), _ms(both["auroc"]), _ms(both["r2"])]
            if frame is full:
                cells += ["", ""]
            else:
                diff = both["auroc"] - both["auroc_full"]
                p = ttest_rel(both["auroc"], both["auroc_full"]).pvalue if len(both) > 2 else float("nan")
                cells += [f"{diff.mean():+.3f}", "" if pd.isna(p) else f"{p:.2g}"]
            rows.append(cells)
    return md_table(["protocol", "variant", "folds", "AUROC", "R2", "Δ AUROC vs full",
                     "p (paired t)"], rows, ["---", "---", "---:", "---:", "---:", "---:", "---:"])


GRID_SPLITS = ("random", "cell-blind", "drug-blind", "disjoint")
GRID_METRICS = {"auroc": "AUROC", "auprc": "AUPRC", "drug_auroc_mean": "AUROC per drug",
                "pcc": "PCC", "r2": "R2", "drug_pcc_mean": "PCC per drug"}


@generator("drgt-gdsc2")
def drgt_gdsc2(args: list[str]) -> str:
    """drGT on GDSC2's four split kinds (the issue-14 grid, seed 0, the folds drGT ran)
    beside MTIGCN and the best baseline in AUROC and in PCC per drug (baselines as the
    grid's leaderboard marks them), with drGT's paired difference to each and its
    t-test p over the folds, for AUROC and PCC per drug."""
    tasks = pd.read_csv(RESULTS / "gdsc2_honest" / "tasks.csv")
    tasks = tasks[(tasks["kind"] == "cv") & (tasks["seed"] == 0)]
    board = pd.read_csv(RESULTS / "gdsc2_honest" / "leaderboard.csv")
    baselines = set(board.loc[board["baseline"].astype(bool), "model"])
    rows = []
    for split in GRID_SPLITS:
        part = tasks[tasks["split"] == split]
        folds = set(part.loc[part["model"] == "drgt", "fold"])
        part = part[part["fold"].isin(folds)]
        means = part.groupby("model")[list(GRID_METRICS)].mean()
        best = {metric: means.loc[means.index.isin(baselines), metric].idxmax()
                for metric in ("auroc", "drug_pcc_mean")}
        drgt = part[part["model"] == "drgt"].set_index("fold")
        shown = ["drgt", "mtigcn", *dict.fromkeys(best.values())]
        for model in shown:
            runs = part[part["model"] == model].set_index("fold")
            best_in = [GRID_METRICS[m] for m, b in best.items() if b == model]
            label = model + (f" (best baseline: {', '.join(best_in)})" if best_in else "")
            cells = [split, label, str(len(runs))]
            cells += [_ms(runs[metric]) for metric in GRID_METRICS]
            for metric in ("auroc", "drug_pcc_mean"):
                cells.append("" if model == "drgt" else
                             paired_difference_text(drgt, runs, metric))
            rows.append(cells)
    header = ["split", "model", "folds", *GRID_METRICS.values(), "drGT − this: AUROC",
              "drGT − this: PCC per drug"]
    return md_table(header, rows, ["---", "---", *["---:"] * (len(header) - 2)])
