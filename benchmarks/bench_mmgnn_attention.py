"""Does mmgnn's atom -> pathway attention single out a drug's mechanism pathway?

For a ``drpkit train`` run of mmgnn and drugs given as ``DRUG=GENE_SET`` (the KEGG
pathway of the drug's known target, e.g. ``Trametinib=kegg:hsa04010`` for MEK1/2 in
MAPK signalling), reads the model's ``drug_pathway_attention`` (mean over atoms,
heads and up to ``explain_cells`` training cells of each drug) and appends one JSON
line per drug to ``--out``: the set's rank among all sets for that drug, its weight
as a multiple of uniform, and the same set's median rank over every drug of the
run, the control: a set that every drug ranks high says nothing about this drug.
``spread_x_uniform`` (largest minus smallest weight of the drug, x uniform) tells a
working attention from a collapsed one (0: every set weighs the same and the ranks are
ties broken by name).
Example (the BENCHMARKS.md rows)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_mmgnn_attention.py \\
        runs/mmgnn_gdsc2_f0_small Trametinib=kegg:hsa04010 Lapatinib=kegg:hsa04012 \\
        Palbociclib=kegg:hsa04110
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import append_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a `drpkit train` run of mmgnn")
    parser.add_argument("drugs", nargs="+", metavar="DRUG=SET")
    parser.add_argument("--out", default="benchmarks/results/mmgnn_attention_gdsc2.jsonl")
    args = parser.parse_args()

    from drpkit.explain.runs import load_train_run

    ctx = load_train_run(args.run)
    model, train = ctx["model"], ctx["train"]
    table = model.explain(train)["drug_pathway_attention"]
    n_sets = table["pathway"].nunique()
    for item in args.drugs:
        drug, _, pathway = item.partition("=")
        own = table.loc[table["drug"] == drug].set_index("pathway")
        if pathway not in own.index:
            raise SystemExit(f"{drug} / {pathway}: not in the run's attention table")
        rank = int(own.loc[pathway, "rank"])
        everyone = table.loc[table["pathway"] == pathway, "rank"]
        row = {"run": str(args.run), "model": ctx["config"]["model"],
               "split": ctx["config"]["split"], "fold": ctx["config"]["fold"],
               "drug": drug, "pathway": pathway, "sets": int(n_sets), "rank": rank,
               "weight_x_uniform": round(float(own.loc[pathway, "weight"]) * n_sets, 4),
               "spread_x_uniform": float((own["weight"].max() - own["weight"].min()) * n_sets),
               "params": {k: ctx["params"][k] for k in ("dim", "heads", "size_buckets", "trainer")
                          if k in ctx["params"]},
               "median_rank_all_drugs": float(everyone.median()),
               "drugs": int(everyone.size),
               "share_of_drugs_ranking_it_higher": round(float((everyone < rank).mean()), 4),
               "top_set": str(own["rank"].idxmin()),
               "date": time.strftime("%Y-%m-%d %H:%M")}
        append_row(args.out, row)


if __name__ == "__main__":
    main()
