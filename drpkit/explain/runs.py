"""``drpkit explain RUN``: drug-gene rankings of a train run or a benchmark run.

Two kinds of run directory are read:

* a **train run** (``drpkit train``: ``config.json`` + ``model/``): the saved
  model is loaded and the fold's training part rebuilt from the recorded
  dataset, split, fold and seed. A model that exports ``drug_gene_scores``
  from :meth:`~drpkit.models.DRPModel.explain` (drGT: attention; mmgnn:
  atom -> pathway attention, with gene-set names in the ``gene`` column) is read
  as is; otherwise integrated gradients rank its input genes
  (:mod:`drpkit.explain.gradients`) for up to ``cells_per_drug`` training
  cells of each drug;
* a **benchmark run** (``drpkit benchmark`` / ``evaluate``: ``tasks/``): the
  ``drug_gene_scores`` artifacts of one model's tasks (optionally one split)
  are averaged per (drug, gene) over the tasks (a gene below a task's stored
  top counts 0 there) and re-ranked. Models are not stored there, so the
  gradient path needs a train run.

Every ranking gets a ``known`` column: the gene is a known target of the
drug in the ``dti`` resource (DrugBank and ChEMBL).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from drpkit.errors import DataError
from drpkit.explain.attention import SCORE_COLUMNS

SCORES = "drug_gene_scores"


@dataclass
class Explained:
    """Rankings of one run, and what the checks need.

    Attributes:
        run: the run directory.
        model: model name; method: ``attention`` or ``gradients``.
        scores: ``drug, gene, score, rank, known`` (+ model-specific columns).
        cells: ``cell, gene, score, rank`` or None.
        universe: the genes ranked (graph genes / input genes).
        visible: (drug, gene) links that are edges of the model's graph.
        context: what the checks may reuse (data, fold, params, train part).
        tasks: task ids read (benchmark runs).
    """

    run: Path
    model: str
    method: str
    scores: pd.DataFrame
    cells: pd.DataFrame | None
    universe: np.ndarray
    visible: pd.DataFrame
    context: dict = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)


def known_targets(data, drugs) -> pd.DataFrame:
    """(drug, gene) known targets of ``drugs`` in the ``dti`` resource."""
    from drpkit.resources import DTI, RESOURCES

    dti = RESOURCES.get("dti")
    assert isinstance(dti, DTI)  # registered as the DTI resource
    found = dti.match(list(drugs), data.smiles)
    return found[["drug", "gene"]].drop_duplicates().reset_index(drop=True)


def mark_known(scores: pd.DataFrame, known: pd.DataFrame) -> pd.DataFrame:
    pairs = set(zip(known["drug"].astype(str), known["gene"].astype(str), strict=True))
    return scores.assign(known=[(d, g) in pairs for d, g in zip(
        scores["drug"].astype(str), scores["gene"].astype(str), strict=True)])


def rerank(frame: pd.DataFrame, key: str = "drug") -> pd.DataFrame:
    frame = frame.copy()
    frame["rank"] = frame.groupby(key)["score"].rank(method="first", ascending=False).astype(int)
    return frame.sort_values([key, "rank"]).reset_index(drop=True)


def _check_drugs(scores: pd.DataFrame, drugs: list[str] | None) -> None:
    if drugs:
        missing = sorted(set(drugs) - set(scores["drug"]))
        if missing:
            raise DataError(f"drug(s) {missing} are not ranked in this run; ranked drugs include "
                            f"{sorted(set(scores['drug']))[:8]}")


# ---------------------------------------------------------------- train runs
def load_train_run(run: Path) -> dict:
    """Model, data, fold and training part of a ``drpkit train`` run directory."""
    from drpkit.data.spec import DataSpec
    from drpkit.models import load_model
    from drpkit.models.requirements import data_for_model
    from drpkit.splits import holdout_fold, make_folds

    try:
        config = json.loads((run / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{run}: unreadable config.json ({exc})") from None
    model = load_model(run / "model")
    full = DataSpec(**config["data"]).load()
    split, seed = config.get("split", "random"), int(config.get("seed", 0))
    fold = holdout_fold(full, seed) if split == "none" else make_folds(
        full, split, int(config.get("folds", 5)), seed)[int(config.get("fold", 0))]
    data = data_for_model(model, full.with_fold_labels(fold.train, [fold.val, fold.test]))
    return {"config": config, "model": model, "full": full, "data": data, "fold": fold,
            "train": data.subset(fold.train), "params": config.get("params", {})}


def explain_train_run(run: Path, drugs: list[str] | None = None, cell: str | None = None,
                      method: str = "auto", cells_per_drug: int = 32,
                      seed: int = 0) -> Explained:
    """Rankings of a train run (see the module docstring)."""
    from drpkit.explain.gradients import gradient_scores, sample_pairs, supports_gradients

    ctx = load_train_run(run)
    model, train = ctx["model"], ctx["train"]
    artifacts = model.explain(train) if method in ("auto", "attention") else {}
    cells = None
    if SCORES in artifacts:
        method, scores = "attention", artifacts[SCORES]
        _check_drugs(scores, drugs)
        cells = artifacts.get("cell_gene_scores")
        state = getattr(model, "state_", None)
        if state is not None:  # drGT: its graph's genes and drug-target edges
            universe = np.asarray(state.genes, dtype=str)
            visible = state.dti.astype(str)
        else:  # the model's input genes (csg2a) when it ranks those, else the ranked
            # features themselves (mmgnn: gene-set names; see its docs)
            inputs = (model.input_genes() or {}).get("expression", [])
            ranked = set(scores["gene"].astype(str))
            universe = np.asarray(inputs if ranked <= set(inputs) else sorted(ranked),
                                  dtype=str)
            visible = pd.DataFrame(columns=["drug", "gene"])
        ctx["artifacts"] = artifacts
    elif method == "attention":
        raise DataError(f"model {model.name!r} exports no attention scores; use --method "
                        "gradients (or auto)")
    else:
        if not supports_gradients(model):
            raise DataError(f"model {model.name!r} exposes neither attention nor gradient "
                            "explanations (mlp, nihgcn, mtigcn* and drgt do)")
        method = "gradients"
        wanted = drugs or sorted(train.responses["drug"].unique())
        pairs = sample_pairs(train, wanted, cells_per_drug, seed)
        missing = sorted(set(wanted) - set(pairs["drug"]))
        if missing:
            raise DataError(f"drug(s) {missing} have no training pairs in this run")
        scores = gradient_scores(model, train, pairs)
        if cell is not None:
            r = train.responses
            cell_drugs = drugs or sorted(r.loc[r["cell"] == cell, "drug"].unique())
            if not len(cell_drugs):
                raise DataError(f"cell {cell!r} has no training pairs in this run")
            per_pair = gradient_scores(model, train, pd.DataFrame(
                {"cell": cell, "drug": cell_drugs}))
            cells = rerank(per_pair.groupby("gene", as_index=False)["score"].mean().assign(
                cell=cell), "cell")[["cell", "gene", "score", "rank"]]
        universe = np.asarray(scores["gene"].unique(), dtype=str)
        visible = pd.DataFrame(columns=["drug", "gene"])
    scores = mark_known(scores, known_targets(ctx["full"], scores["drug"].unique()))
    return Explained(run, model.name, method, scores, cells, universe, visible, ctx)


# ------------------------------------------------------------ benchmark runs
def explain_benchmark_run(run: Path, model: str | None = None, split: str | None = None,
                          drugs: list[str] | None = None) -> Explained:
    """Rankings averaged over a benchmark run's tasks (see the module docstring)."""
    from drpkit.experiment.store import RunStore

    store = RunStore(run)
    results = store.results()
    if results.empty:
        raise DataError(f"{run}: no finished tasks")
    with_scores = [t for t in results["id"] if SCORES in store.artifact_names(t)]
    chosen = results.loc[results["id"].isin(with_scores)]
    if model is not None:
        chosen = chosen.loc[chosen["model"] == model]
    if split is not None:
        chosen = chosen.loc[chosen["split"] == split]
    names = sorted(set(chosen["model"]))
    if not names:
        have = sorted(set(results.loc[results["id"].isin(with_scores), "model"]))
        raise DataError(f"{run}: no task{' of model ' + repr(model) if model else ''}"
                        f"{' under split ' + repr(split) if split else ''} stored "
                        f"{SCORES}; models with them: {have or 'none'} (gradient "
                        "explanations need a `drpkit train` run)")
    if len(names) > 1:
        raise DataError(f"{run}: several models have explanations ({', '.join(names)}); "
                        "choose one with --model")
    ids = list(chosen["id"])
    frames, cells, genes, hidden, visible = [], [], [], [], []
    for task_id in ids:
        art = store.artifacts(task_id)
        frames.append(art[SCORES].assign(task=task_id))
        if "cell_gene_scores" in art:
            cells.append(art["cell_gene_scores"])
        if "gene_nodes" in art:
            genes.append(art["gene_nodes"]["gene"])
        if "dti" in art[SCORES]:
            visible.append(art[SCORES].loc[art[SCORES]["dti"], ["drug", "gene"]])
        if "hidden_dti" in art:
            hidden.append(art["hidden_dti"].assign(task=task_id))
    scores = _average(pd.concat(frames, ignore_index=True), "drug", len(ids))
    _check_drugs(scores, drugs)
    cell_table = _average(pd.concat(cells, ignore_index=True), "cell", len(ids)) \
        if cells else None
    universe = np.asarray(pd.concat(genes).unique() if genes else scores["gene"].unique(),
                          dtype=str)
    data = _dataset_of(store, ids[0])
    scores = mark_known(scores, known_targets(data, scores["drug"].unique()))
    vis = pd.concat(visible).drop_duplicates() if visible else pd.DataFrame(
        columns=["drug", "gene"])
    return Explained(run, names[0], "attention", scores, cell_table, universe, vis,
                     {"full": data, "store": store,
                      "hidden": pd.concat(hidden) if hidden else None}, ids)


def _average(frame: pd.DataFrame, key: str, n_tasks: int) -> pd.DataFrame:
    """Mean score per (key, gene) over ``n_tasks`` tasks (absent = 0), re-ranked."""
    summed = frame.groupby([key, "gene"], as_index=False)["score"].sum()
    summed["score"] /= n_tasks
    summed["tasks"] = frame.groupby([key, "gene"])["score"].size().to_numpy()
    return rerank(summed, key)


def _dataset_of(store, task_id: str):
    from drpkit.data.spec import DataSpec

    return DataSpec(**store.task(task_id)["data"]).load()


def explain_run(run: Path, **options) -> Explained:
    """A train run or a benchmark run, by what the directory holds."""
    run = Path(run)
    if (run / "model").is_dir():
        train_keys = ("drugs", "cell", "method", "cells_per_drug", "seed")
        return explain_train_run(run, **{k: v for k, v in options.items() if k in train_keys})
    if (run / "tasks").is_dir():
        store_keys = ("model", "split", "drugs")
        return explain_benchmark_run(run, **{k: v for k, v in options.items()
                                             if k in store_keys})
    raise DataError(f"{run}: neither a `drpkit train` run (model/) nor a benchmark run "
                    "(tasks/)")


def atom_figures(explained: Explained, drugs: list[str]) -> dict[str, tuple]:
    """Per-atom attention of ``drugs`` for a train run whose model gives it (mmgnn with
    a molecular graph: ``explains_atoms``): ``{file stem: (atoms x sets table, figure)}``;
    empty for other models and benchmark runs (no model stored)."""
    from drpkit.explain.figures import molecule_attention
    from drpkit.features.molgraph import canonical_mol

    model = explained.context.get("model")
    if model is None or not drugs or not getattr(model, "explains_atoms", False):
        return {}
    train = explained.context["train"]
    out = {}
    for drug in drugs:
        weights = model.atom_attention(train, drug)
        mol = canonical_mol(str(train.smiles[drug]), drug)
        stem = "atoms_" + "".join(c if c.isalnum() or c in "-." else "_" for c in drug)
        out[stem] = (weights, molecule_attention(mol, weights.drop(columns="element"), drug))
    return out


def pair_ranking(explained: Explained, drug: str, cell: str) -> pd.DataFrame:
    """Genes ranked for one (drug, cell) pair: the drug's plus the cell's score
    (attention flow into both embeddings the pair is scored from)."""
    if explained.cells is None:
        raise DataError("this run has no cell-level scores")
    d = explained.scores.loc[explained.scores["drug"] == drug, ["gene", "score"]]
    c = explained.cells.loc[explained.cells["cell"] == cell, ["gene", "score"]]
    if c.empty:
        raise DataError(f"cell {cell!r} is not ranked in this run")
    both = d.merge(c, on="gene", how="outer", suffixes=("_drug", "_cell")).fillna(0.0)
    both["score"] = both["score_drug"] + both["score_cell"]
    both["drug"], both["cell"] = drug, cell
    return rerank(both)[["drug", "cell", "gene", "score", "rank", "score_drug", "score_cell"]]


__all__ = ["SCORE_COLUMNS", "Explained", "atom_figures", "explain_run", "pair_ranking"]
