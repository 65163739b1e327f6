"""Named generators of the tables in BENCHMARKS.md and README.md (Results).

Each generator reads only committed result files under ``benchmarks/results/``
(no data, no training; a second or two) and prints one Markdown table, exactly
as it stands in the document, where an HTML comment names the command::

    <!-- table: .venv/bin/python benchmarks/doc_tables.py hgacl-blind -->
    | dataset | split | model | ... |
    <!-- /table -->

``benchmarks/check_tables.py`` reruns every such command and fails on any
difference. Generators (``doc_tables.py --list`` prints them):

  foundation      measured wall times of the test suite / make demo (suite_timings.jsonl)
  graph-paper     MTIGCN family under the papers' protocol, GDSC and CCLE
  graph-gdsc2     graph models and baselines on GDSC2, three split kinds, paired t-tests
  graph-speed     time, memory and AUC of one GDSC fold (timing_ and schedule_gdsc_nihgcn)
  hgacl-paper     HGACL-DRP beside MTIGCN/NIHGCN and the naive baselines, papers' protocol
  hgacl-blind     the same models on cell-blind and drug-blind splits
  hgacl-ablation  HGACL-DRP with one component switched off at a time
  hgacl-speed     time and memory of one fold, HGACL-DRP and the MTIGCN family
  transfer        GDSC2 -> CCLE transfer (from gdsc2_all/leaderboard.md)
  executors       local against Ray executor (executors.jsonl)
  demo SPLIT      README's `make demo` leaderboard of SPLIT (random, cell-blind, drug-blind)

Formatting: ``mean ± sd`` over folds (ddof 1) with 4 decimals; bold marks the
best mean of a column within a dataset and split where the document bolds it;
seconds above 100 are rounded to whole seconds; memory is ``ru_maxrss`` in GiB.
A cell averaged over fewer folds than its row (the metric was added to
``bench_graph.py`` after some folds had run) says so: ``(3 folds)``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import doc_tables_csg2a  # noqa: F401  - registers the issue 16 generators
import doc_tables_drgt  # noqa: F401  - registers the issue 15 generators
import doc_tables_honest  # noqa: F401  - registers the issue 13/14 generators
import doc_tables_uq  # noqa: F401  - registers the issue 17 generators
from bench_graph import _versus
from doc_common import (
    CCLE_SIZES,
    GENERATORS,
    RESULTS,
    best_index,
    bold,
    generator,
    gib,
    load,
    md_table,
    mean_sd,
    read_jsonl,
    seconds,
    select,
    transfer_grid,
)


# --------------------------------------------------------------- issue 2
@generator("foundation")
def foundation(args: list[str]) -> str:
    """Wall times transcribed into ``suite_timings.jsonl`` (the record of those runs)."""
    rows = [[r["what"], r["figure"], f"`{r['command']}`"]
            for r in read_jsonl("suite_timings.jsonl") if r.get("table") == "foundation"]
    return md_table(["what", "figure", "command"], rows)


# --------------------------------------------------------------- issue 3
def published(paper: str, dataset: str) -> dict:
    return next(r for r in read_jsonl("published.jsonl")
                if r["paper"] == paper and r["dataset"] == dataset)


@generator("graph-paper")
def graph_paper(args: list[str]) -> str:
    frame = load("graph_gdsc_nihgcn.jsonl", "graph_ccle_nihgcn.jsonl")
    columns = ["auroc", "auprc", "f1", "mcc"]
    rows = []
    for name, dataset, params in (("GDSC", "gdsc-nihgcn", "{}"),
                                  ("CCLE", "ccle-nihgcn", CCLE_SIZES)):
        paper = published("MTIGCN", dataset)
        rows.append([name, f"**paper: MTIGCN** ({paper['citation']})", f"*{paper['auroc']:.4f}*",
                     f"*{paper['auprc']:.4f}*", "", "", paper["epochs"]])
        long = name == "GDSC"
        specs = [("mtigcn", "honest", "MTIGCN, honest", True),
                 ("mtigcn-a", "honest",
                  "MTIGCN-A (no IC50 head), honest" if long else "MTIGCN-A, honest", False),
                 ("mtigcn-b", "honest",
                  "MTIGCN-B (no similarity head), honest" if long else "MTIGCN-B, honest",
                  False),
                 ("nihgcn", "honest", "MTIGCN-AB = NIHGCN, honest", False),
                 ("mtigcn", "upstream", "MTIGCN, *upstream protocol*", False),
                 ("nihgcn", "upstream", "NIHGCN, *upstream protocol*", False)]
        for model, protocol, label, main in specs:
            part = select(frame, dataset, "nihgcn-random", model, params, protocol)
            cells = [mean_sd(part, c) for c in columns]
            if main:  # the row compared with the paper
                cells[:2] = [bold(c) for c in cells[:2]]
            epochs = f"{part['epochs'].mean():.0f} ({part['best_epoch'].mean():.0f})"
            rows.append([name, label, *cells, epochs])
    return md_table(["dataset", "model", "AUC", "AUPRC", "F1", "MCC", "epochs run (best)"], rows)


@generator("graph-gdsc2")
def graph_gdsc2(args: list[str]) -> str:
    frame = load("graph_gdsc2.jsonl")
    from drpkit.evaluate.stats import paired_ttest

    baselines = ["naive-drug", "naive-cell", "naive-additive", "ridge", "gbm"]
    models = [*baselines, "mtigcn", "nihgcn"]
    columns = ["auroc", "auprc", "mcc", "drug_auroc_mean", "pcc", "rmse", "drug_pcc_mean"]
    rows = []
    for split in ("random", "cell-blind", "drug-blind"):
        part = frame[frame["split"] == split]
        parts = {m: select(frame, "gdsc2", split, m) for m in models}
        best = {c: best_index({m: p[c].mean() if c in p else np.nan
                               for m, p in parts.items()}, c) for c in columns}
        for model, p in parts.items():
            cells = [bold(mean_sd(p, c)) if model in best[c] else mean_sd(p, c)
                     for c in columns]
            tests = [_versus(part, model, baselines, m, paired_ttest) for m in ("auroc", "pcc")]
            name = bold(model) if model in best["auroc"] else model
            rows.append([split, name, *cells, *tests])
    header = ["split", "model", "AUROC", "AUPRC", "MCC", "per-drug AUROC", "PCC", "RMSE",
              "per-drug PCC", "ΔAUROC vs best baseline", "ΔPCC vs best baseline"]
    return md_table(header, rows)


@generator("graph-speed")
def graph_speed(args: list[str]) -> str:
    """Fold 0 of gdsc-nihgcn: defaults, refit, longer patience, the fixed schedule."""
    timing = load("timing_gdsc_nihgcn.jsonl")
    schedule = load("schedule_gdsc_nihgcn.jsonl")

    def run(frame, model, params="{}"):
        return select(frame, "gdsc-nihgcn", "nihgcn-random", model, params).iloc[0]

    default = {m: run(timing, m) for m in ("nihgcn", "mtigcn")}
    refit = {m: run(timing, m, '{"trainer": {"refit": true}}') for m in ("nihgcn", "mtigcn")}
    patience = run(timing, "mtigcn", '{"trainer": {"patience": 200}}')
    both = run(timing, "mtigcn", '{"trainer": {"patience": 200, "refit": true}}')
    fixed = {"nihgcn": run(schedule, "nihgcn",
                           '{"trainer": {"max_epochs": 1000, "patience": 1000000}}'),
             "mtigcn": run(schedule, "mtigcn",
                           '{"trainer": {"max_epochs": 2000, "patience": 1000000}}')}
    pair = ("nihgcn", "mtigcn")
    rows = [
        ["drpkit, time to result per fold (epochs run, incl. data and scoring)",
         *(bold(f"{seconds(default[m]['total_s'])} ({default[m]['epochs']:.0f})")
           for m in pair)],
        ["drpkit, s per epoch (6,163 genes, compressed)",
         *(f"{default[m]['s_per_epoch']:.3f}" for m in pair)],
        ["drpkit, validation-selected test AUC of that fold",
         *(f"{default[m]['auroc']:.4f}" for m in pair)],
        ["drpkit with refit on train+val: time / AUC",
         *(f"{seconds(refit[m]['total_s'])} / {refit[m]['auroc']:.4f}" for m in pair)],
        ["drpkit, peak RSS (whole process, dataset included)",
         *(gib(default[m]["peak_rss_mb"]) for m in pair)],
        ["drpkit, patience 200 instead of 50: time / epochs run / AUC", "",
         f"{seconds(patience['total_s'])} ({patience['epochs']:.0f}) / {patience['auroc']:.4f}"],
        ["drpkit, patience 200 + refit: time / AUC", "",
         bold(f"{seconds(both['total_s'])} / {both['auroc']:.4f}")],
        # the NIHGCN fixed-schedule run used one thread on a busy machine: no time shown
        [("drpkit, the reference's fixed schedule (1,000 / 2,000 epochs), epoch chosen on "
          "validation: AUC (selected epoch)"),
         f"{fixed['nihgcn']['auroc']:.4f} ({fixed['nihgcn']['best_epoch']:.0f})",
         (f"{fixed['mtigcn']['auroc']:.4f} ({fixed['mtigcn']['best_epoch']:.0f}), "
          f"{seconds(fixed['mtigcn']['total_s'])}")],
    ]
    return md_table(["", "NIHGCN", "MTIGCN"], rows)


# --------------------------------------------------------------- issue 4
HGACL_COLUMNS = ["auroc", "auprc", "acc", "f1", "mcc", "precision", "recall"]
HGACL_HEADER = ["AUC", "AUPRC", "ACC", "F1", "MCC", "precision", "recall"]


@generator("hgacl-paper")
def hgacl_paper(args: list[str]) -> str:
    frame = load("hgacl_gdsc_nihgcn.jsonl", "hgacl_ccle_nihgcn.jsonl",
                 "graph_gdsc_nihgcn.jsonl", "graph_ccle_nihgcn.jsonl")
    rows = []
    for name, dataset, sizes in (("GDSC", "gdsc-nihgcn", "{}"),
                                 ("CCLE", "ccle-nihgcn", CCLE_SIZES)):
        paper = published("HGACL-DRP", dataset)
        rows.append([name, f"**paper: HGACL-DRP** ({paper['citation']})",
                     f"*{paper['auroc']:.4f}*", *[""] * 6])
        naive_cell = "naive-cell (cell's mean training label)" if name == "GDSC" else "naive-cell"
        specs = [("hgacl", "{}", "honest", "HGACL-DRP, honest", True),
                 ("hgacl", "{}", "upstream", "HGACL-DRP, *upstream protocol*", False),
                 ("mtigcn", sizes, "honest", "MTIGCN, honest", False),
                 ("nihgcn", sizes, "honest", "NIHGCN, honest", False),
                 ("naive-cell", "{}", "honest", naive_cell, False),
                 ("naive-additive", "{}", "honest", "naive-additive", False),
                 ("naive-drug", "{}", "honest", "naive-drug", False)]
        for model, params, protocol, label, main in specs:
            part = select(frame, dataset, "nihgcn-random", model, params, protocol)
            cells = [mean_sd(part, c) for c in HGACL_COLUMNS]
            if main:
                cells[:2] = [bold(c) for c in cells[:2]]
            rows.append([name, label, *cells])
    return md_table(["dataset", "model", *HGACL_HEADER], rows)


@generator("hgacl-blind")
def hgacl_blind(args: list[str]) -> str:
    frame = load("hgacl_gdsc_nihgcn.jsonl", "hgacl_ccle_nihgcn.jsonl")
    rows = []
    for name, dataset, sizes in (("GDSC", "gdsc-nihgcn", "{}"),
                                 ("CCLE", "ccle-nihgcn", CCLE_SIZES)):
        for split in ("cell-blind", "drug-blind"):
            specs = [("HGACL-DRP", "hgacl", "{}"), ("MTIGCN", "mtigcn", sizes),
                     ("naive-drug", "naive-drug", "{}"), ("naive-cell", "naive-cell", "{}"),
                     ("naive-additive", "naive-additive", "{}")]
            parts = {label: select(frame, dataset, split, model, params)
                     for label, model, params in specs}
            best = best_index({k: p["auroc"].mean() for k, p in parts.items()}, "auroc")
            for label, part in parts.items():
                cells = [mean_sd(part, c) for c in HGACL_COLUMNS]
                if label in best:
                    cells[0] = bold(cells[0])
                rows.append([name, split, label, *cells])
    return md_table(["dataset", "split", "model", *HGACL_HEADER], rows)


ABLATIONS = {'{"fusion": false}': "no data fusion (expression kernel only)",
             '{"neighbour_filter": false}': "no reliable-neighbour filter",
             '{"contrastive_weight": 0.0}': "no contrastive learning",
             '{"perturbations": ["feature"]}': "feature perturbation only",
             '{"perturbations": ["structure"]}': "structural perturbation only"}


@generator("hgacl-ablation")
def hgacl_ablation(args: list[str]) -> str:
    frame = load("hgacl_ablation_gdsc.jsonl", "hgacl_gdsc_nihgcn.jsonl",
                 "graph_gdsc_nihgcn.jsonl")
    full = select(frame, "gdsc-nihgcn", "nihgcn-random", "hgacl")
    specs = [("HGACL-DRP, full model", "hgacl", "{}"),
             *((label, "hgacl", params) for params, label in ABLATIONS.items()),
             ("NIHGCN (reference encoder)", "nihgcn", "{}")]
    reference = full.set_index("fold")["auroc"]
    rows = []
    for label, model, params in specs:
        part = select(frame, "gdsc-nihgcn", "nihgcn-random", model, params)
        delta = ""
        if (model, params) != ("hgacl", "{}"):
            diff = (part.set_index("fold")["auroc"] - reference).dropna()
            delta = f"{diff.mean():+.4f} ({(diff > 0).sum()}/{len(diff)} folds higher)"
        cells = [mean_sd(part, c) for c in ("auroc", "auprc", "acc", "f1", "mcc")]
        rows.append([label, str(len(part)), *cells, delta, f"{part['epochs'].mean():.0f}"])
    header = ["configuration", "folds", "AUC", "AUPRC", "ACC", "F1", "MCC",
              "ΔAUC vs full (paired folds)", "epochs"]
    return md_table(header, rows)


@generator("hgacl-speed")
def hgacl_speed(args: list[str]) -> str:
    gdsc, ccle = load("timing_gdsc_nihgcn.jsonl"), load("timing_ccle_nihgcn.jsonl")

    def one(frame, dataset, model, params="{}"):
        return select(frame, dataset, "nihgcn-random", model, params).iloc[0]

    def pair(runs, key, fmt):
        return " / ".join(fmt(r[key]) for r in runs)

    rows = []
    for frame, dataset, label, sizes, scale in (
            (gdsc, "gdsc-nihgcn", "GDSC (961 cells x 228 drugs, 3 omics)", "{}", "for scale"),
            (ccle, "ccle-nihgcn", "CCLE (328 cells x 24 drugs, 3 omics)", CCLE_SIZES,
             "512, alpha 0.45; for scale")):
        h = one(frame, dataset, "hgacl")
        rows.append([label, "HGACL-DRP", seconds(h["total_s"]), f"{h['epochs']:.0f}",
                     f"{h['s_per_epoch']:.3f}", gib(h["peak_rss_mb"])])
        runs = [one(frame, dataset, m, sizes) for m in ("mtigcn", "nihgcn")]
        rows.append([label.split(" ")[0], f"MTIGCN / NIHGCN ({scale})",
                     pair(runs, "total_s", seconds), pair(runs, "epochs", lambda v: f"{v:.0f}"),
                     pair(runs, "s_per_epoch", lambda v: f"{v:.3f}"),
                     pair(runs, "peak_rss_mb", lambda v: f"{v / 1024:.2f}") + " GiB"])
    header = ["dataset (fold 0 of `nihgcn-random`)", "model", "time to result", "epochs run",
              "s per epoch", "peak RSS (whole process)"]
    return md_table(header, rows)


# --------------------------------------------------------------- issue 5
@generator("transfer")
def transfer(args: list[str]) -> str:
    head, rows = transfer_grid()
    extra = ["AUROC seen", "AUROC new drug"]
    out = [[row[c] for c in head + extra] for row in rows]
    header = ["model", *head[1:], *extra]
    return md_table(header, out, ["---"] + ["---:"] * (len(header) - 1))


@generator("executors")
def executors(args: list[str]) -> str:
    runs = [r for r in read_jsonl("executors.jsonl") if "executor" in r]
    reference = next(r for r in runs if r["executor"] == "local" and r["workers"] == 1)
    rows = []
    for r in runs:
        name = "ray (local instance, started for the run)" if r["executor"] == "ray" \
            else r["executor"]
        shape = f"{r['workers']} x {r['threads']}"
        speed = reference["wall_s"] / r["wall_s"]
        if r is reference:
            shape, speed_text = shape + " (sequential reference)", f"{speed:.2f}"
        else:
            speed_text = f"{speed:.2f}x"
        rows.append([name, shape, f"{r['wall_s']:.1f} s", f"{r['task_s_sum']:.1f} s", speed_text])
    return md_table(["executor", "workers x threads", "wall time", "sum of task times",
                     "speed-up vs one task at a time"], rows)


# --------------------------------------------------------------- README
DEMO_MODELS = ["naive-drug", "naive-cell", "naive-additive", "ridge", "gbm", "nihgcn"]
DEMO_METRICS = {"auroc": "AUROC", "auprc": "AUPRC", "f1": "F1", "mcc": "MCC", "pcc": "PCC",
                "scc": "SCC", "rmse": "RMSE", "drug_pcc_mean": "PCC per drug",
                "pcc_norm": "PCC norm."}


@generator("demo")
def demo(args: list[str]) -> str:
    """`make demo`'s leaderboard of one split: the demo's models (benchmarks/configs/demo.toml)
    are run by the full GDSC2 grid with the same data, folds, seed and settings, so their rows
    are read from its committed leaderboard.csv; best first by AUROC, bold: best of the six."""
    parser = argparse.ArgumentParser(prog="doc_tables.py demo")
    parser.add_argument("split", choices=["random", "cell-blind", "drug-blind"])
    split = parser.parse_args(args).split
    board = pd.read_csv(RESULTS / "gdsc2_all" / "leaderboard.csv")
    board = board[(board["split"] == split) & board["model"].isin(DEMO_MODELS)]
    board = board.sort_values("auroc_mean", ascending=False, kind="stable").set_index("model")
    best = {m: best_index(board[f"{m}_mean"].to_dict(), m) for m in DEMO_METRICS}
    rows = []
    for model, row in board.iterrows():
        cells = []
        for metric in DEMO_METRICS:
            mean, sd = row[f"{metric}_mean"], row[f"{metric}_sd"]
            text = "–" if pd.isna(mean) else f"{mean:.3f} ± {sd:.3f}"
            cells.append(bold(text) if model in best[metric] else text)
        rows.append([model + (" (baseline)" if row["baseline"] else ""), *cells])
    header = ["Model", *DEMO_METRICS.values()]
    return md_table(header, rows, [" --- "] + [" ---: "] * len(DEMO_METRICS))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "--list"):
        print(__doc__ if argv[:1] != ["--list"] else "\n".join(GENERATORS))
        return 0
    name, rest = argv[0], argv[1:]
    if name not in GENERATORS:
        print(f"unknown table {name!r}; one of: {', '.join(GENERATORS)}", file=sys.stderr)
        return 2
    print(GENERATORS[name](rest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
