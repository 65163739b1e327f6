"""Figure: HGACL-DRP's test AUROC / AUPRC against the two perturbation strengths.

Reads the JSON lines of ``bench_graph.py cv`` runs of ``hgacl`` on
``gdsc-nihgcn`` (paper protocol) that vary ``edge_drop`` (alpha, structural
view) at the default ``feature_noise`` and ``feature_noise`` (beta, feature
view) at the default ``edge_drop``, plus the default runs, and draws mean +-
sd over the folds every point shares::

    .venv/bin/python benchmarks/plot_hgacl_sensitivity.py \\
        benchmarks/results/hgacl_sensitivity_gdsc.jsonl benchmarks/results/hgacl_gdsc_nihgcn.jsonl \\
        --out benchmarks/figures/hgacl_sensitivity.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from drpkit.models import create_model

DEFAULTS = create_model("hgacl").config
AXES = {"edge_drop": ("alpha: fraction of response edges dropped (structural view)",
                      DEFAULTS.edge_drop),
        "feature_noise": ("beta: sd of the Gaussian noise on embeddings (feature view)",
                          DEFAULTS.feature_noise)}
METRICS = {"auroc": "AUROC", "auprc": "AUPRC"}


def load(paths: list[str]) -> pd.DataFrame:
    rows = [json.loads(line) for path in paths for line in Path(path).read_text().splitlines()
            if line.strip()]
    frame = pd.DataFrame(rows)
    frame = frame[(frame["model"] == "hgacl") & (frame["split"] == "nihgcn-random")
                  & (frame.get("protocol", "honest").fillna("honest") == "honest")]
    params = frame["params"].map(lambda p: p or {})
    frame = frame[params.map(lambda p: set(p) <= set(AXES))]
    for name, (_, default) in AXES.items():
        frame[name] = params.map(lambda p, n=name, d=default: p.get(n, d))
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    frame = load(args.files)
    folds = sorted(set.intersection(*[set(g["fold"]) for _, g in
                                      frame.groupby(list(AXES))]))
    frame = frame[frame["fold"].isin(folds)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, (name, (label, default)) in zip(axes, AXES.items(), strict=True):
        other = next(n for n in AXES if n != name)
        part = frame[frame[other] == AXES[other][1]]
        for metric, title in METRICS.items():
            stats = part.groupby(name)[metric].agg(["mean", "std"]).sort_index()
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", capsize=3,
                        label=title)
        ax.axvline(default, color="grey", linestyle=":", label="default (paper's optimum)")
        ax.set(xlabel=label)
        ax.grid(alpha=0.3)
    axes[0].set(ylabel="test metric, mean ± sd")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"HGACL-DRP on gdsc-nihgcn, paper protocol (balanced test), folds "
                 f"{', '.join(map(str, folds))} of 5, seed 0; epochs chosen on validation",
                 fontsize=9)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=130)
    print(f"wrote {args.out} from {len(frame)} runs")


if __name__ == "__main__":
    main()
