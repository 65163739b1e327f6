"""``drpkit explain RUN``: ranked genes per drug (and cell), figures, checks."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from drpkit.cli.app import _csv_list, app
from drpkit.errors import DataError

FIGURE_DRUGS = 20  # heatmap rows when no --drug is given
NETWORK_DRUGS = 6


@app.command("explain")
def explain(run: Annotated[Path, typer.Argument(
                help="A `drpkit train` run (model/) or a benchmark run (tasks/).")],
            drug: Annotated[list[str] | None, typer.Option(
                "--drug", help="Drug(s) to explain (repeat or comma-separate); default all."
            )] = None,
            cell: Annotated[str | None, typer.Option(
                help="A cell line: its genes, and with --drug the pair's.")] = None,
            top: Annotated[int, typer.Option(
                help="K: genes per drug in the tables, figures and checks.")] = 20,
            out: Annotated[Path | None, typer.Option(
                help="Output folder (default RUN/explain).")] = None,
            validate: Annotated[bool, typer.Option(
                "--validate", help="Check the rankings: DTI recovery (drgt: refits with a "
                "fifth of the target links hidden) and gene-set enrichment.")] = False,
            method: Annotated[str, typer.Option(
                help="auto (attention when the model exports it, else integrated "
                     "gradients), attention or gradients.")] = "auto",
            model: Annotated[str | None, typer.Option(
                help="Benchmark runs: the model whose explanations to read.")] = None,
            split: Annotated[str | None, typer.Option(
                help="Benchmark runs: only tasks of this split kind.")] = None,
            gene_sets: Annotated[str, typer.Option(
                "--gene-sets", help="Gene-set collections (kegg, reactome, wikipathways, "
                "cpdb; comma-separated) or a .gmt/.json file, for --validate.")] = "kegg",
            cells_per_drug: Annotated[int, typer.Option(
                help="Integrated gradients: training cells explained per drug.")] = 32,
            permutations: Annotated[int, typer.Option(
                help="Permutations of the baselines in --validate.")] = 1000,
            hide: Annotated[float, typer.Option(
                help="Share of target links hidden for DTI recovery.")] = 0.2,
            seed: Annotated[int, typer.Option(help="Seeds sampling and permutations.")] = 0,
            ) -> None:
    """Rank genes per drug for a trained model and write tables and figures.

    drGT: attention flow (attention rollout over its layers, documented in
    drpkit.explain.attention) plus the raw drug-target coefficients. Models
    without attention (mlp, nihgcn, mtigcn*): integrated gradients (captum) on
    their input genes. Writes drug_genes.csv/.parquet, heatmap.png and
    network.png (and cell_genes.csv, pair_genes.csv, the checks' tables and
    validation.json when asked). mmgnn: atom -> gene-set attention; with --drug,
    atoms_DRUG.png/.csv draw each drug's atoms coloured by their weight on its top
    gene set.
    """
    import pandas as pd

    from drpkit.atomic import atomic_new_directory
    from drpkit.explain.figures import heatmap, network, save
    from drpkit.explain.runs import atom_figures, explain_run, pair_ranking

    if method not in ("auto", "attention", "gradients"):
        raise DataError(f"--method must be auto, attention or gradients, got {method!r}")
    if top < 1:
        raise DataError("--top must be at least 1")
    drugs = [d for item in drug or [] for d in _csv_list(item)] or None
    explained = explain_run(run, drugs=drugs, cell=cell, method=method,
                            cells_per_drug=cells_per_drug, seed=seed, model=model, split=split)
    scores = explained.scores
    chosen = drugs or _figure_drugs(scores, top)
    target = out or Path(run) / "explain"
    if target.exists() and any(target.iterdir()) and not (target / "explain.json").exists():
        raise DataError(f"{target} exists and is not an earlier `drpkit explain` output; "
                        "choose another --out")
    tables = {}
    if cell is not None and explained.cells is not None:
        tables["cell_genes"] = explained.cells.loc[explained.cells["cell"] == cell]
        if explained.method == "attention" and drugs:
            tables["pair_genes"] = pd.concat([pair_ranking(explained, d, cell) for d in drugs],
                                             ignore_index=True)
    atoms = atom_figures(explained, drugs or [])
    flat = flat_drugs(scores)
    if flat:
        typer.echo(f"warning: {len(flat)} of {scores['drug'].nunique()} drugs have equal scores "
                   f"for every ranked feature (e.g. {', '.join(flat[:3])}); their order is "
                   "arbitrary and says nothing about the drug (for attention: the weights "
                   "are uniform)", err=True)
    checks = None
    if validate:
        from drpkit.explain.validate import check_gene_ranking
        from drpkit.explain.validate import validate as run_checks

        check_gene_ranking(explained)

        checks = run_checks(explained, top, _gene_sets(gene_sets), permutations, hide, seed,
                            log=typer.echo)
    with atomic_new_directory(target, replace=True) as tmp:
        picked = scores.loc[scores["drug"].isin(drugs)] if drugs else scores
        picked.to_parquet(tmp / "drug_genes.parquet", index=False)
        picked.loc[picked["rank"] <= top].to_csv(tmp / "drug_genes.csv", index=False)
        for name, frame in tables.items():
            frame.loc[frame["rank"] <= top].to_csv(tmp / f"{name}.csv", index=False)
        shown = scores.loc[scores["drug"].isin(chosen)]
        how = f"{explained.model}, {explained.method}"
        save(heatmap(shown, min(top, 15), f"Top genes per drug ({how}; outlined: known "
                                          "target)"), tmp / "heatmap.png")
        save(network(shown.loc[shown["drug"].isin(chosen[:NETWORK_DRUGS])], min(top, 5),
                     f"Top links ({how}; red: known target)"), tmp / "network.png")
        for stem, (weights, fig) in atoms.items():
            weights.to_csv(tmp / f"{stem}.csv")
            save(fig, tmp / f"{stem}.png")
        meta = {"run": str(run), "model": explained.model, "method": explained.method,
                "top": top, "drugs": len(scores["drug"].unique()), "tasks": explained.tasks,
                "genes_ranked": len(explained.universe), "flat_drugs": flat}
        if checks is not None:
            for name, frame in checks["tables"].items():
                frame.to_csv(tmp / f"{name}.csv", index=False)
            meta["validation"] = checks["summary"]
            (tmp / "validation.json").write_text(json.dumps(checks["summary"], indent=2))
        (tmp / "explain.json").write_text(json.dumps(meta, indent=2))
    _print(explained, chosen if drugs else chosen[:5], top, checks)
    typer.echo(f"explanations written to {target}")


def flat_drugs(scores, rtol: float = 1e-6) -> list[str]:
    """Drugs whose scores are all equal (spread below ``rtol`` of their largest): a
    collapsed attention gives every gene set the same weight, and ranks are then ties
    broken by name."""
    spread = scores.groupby("drug")["score"].agg(lambda v: v.max() - v.min())
    peak = scores.groupby("drug")["score"].agg(lambda v: v.abs().max())
    return sorted(spread.index[spread <= rtol * peak.clip(lower=1e-300)].astype(str))


def _figure_drugs(scores, top: int) -> list[str]:
    """Drugs for the figures: most known targets among their top genes first."""
    hits = scores.loc[scores["rank"] <= top].groupby("drug")["known"].sum()
    return list(hits.sort_values(ascending=False, kind="stable").index[:FIGURE_DRUGS])


def _gene_sets(spec: str) -> dict[str, set[str]]:
    from drpkit.resources import RESOURCES, GeneSets

    resource = RESOURCES.get("gene-sets")
    assert isinstance(resource, GeneSets)  # registered as the gene-set resource
    if spec.lower().endswith((".gmt", ".json")):
        return resource.load(path=spec)
    return resource.load(_csv_list(spec))


def _print(explained, drugs: list[str], top: int, checks: dict | None) -> None:
    scores = explained.scores
    for name in drugs:
        rows = scores.loc[(scores["drug"] == name) & (scores["rank"] <= min(top, 10))]
        genes = ", ".join(f"{g}{'*' if k else ''}" for g, k in zip(rows["gene"], rows["known"],
                                                                    strict=True))
        typer.echo(f"{name}: {genes}")
    typer.echo("(* known target in the dti resource)")
    if checks is None:
        return
    summary = checks["summary"]
    share = summary["known_share"]
    typer.echo(f"known targets among top-{share['k']} links: {share['known']} of "
               f"{share['links']} ({share['share']:.1%}) over {share['drugs']} drugs")
    rec = summary.get("dti_recovery")
    if rec:
        p_r = rec.get("p_random", rec.get("p_random_median"))
        p_d = rec.get("p_degree", rec.get("p_degree_median"))
        typer.echo(f"dti recovery (top {rec['k']}): {rec['hits']} of {rec['hidden_links']} "
                   f"hidden links over {rec['drugs']} drugs (expected: random "
                   f"{rec['expected_random']:.1f}, degree-matched {rec['expected_degree']:.1f}; "
                   f"p = {p_r:.3g} / {p_d:.3g})")
    enr = summary["enrichment"]
    typer.echo(f"enrichment (top {enr['k']}, {enr['gene_sets']} sets): top set is a target "
               f"pathway for {enr['matches']} of {enr['annotated_drugs']} annotated drugs "
               f"({enr['match_share']:.1%}; random genes {enr['null_match_share']:.1%}, "
               f"p = {enr['p_permutation']:.3g})")
