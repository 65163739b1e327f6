"""mmgnn's atom -> pathway attention, aggregated per drug into explain() tables.

For a pair (drug d, cell c) the drug -> cell cross-attention gives, per head,
a weight ``a_hij`` of atom i on gene-set token j, summing to 1 over j. The
pair's reading is ``w_cj = mean_i mean_h a_hij`` (still summing to 1 over the
sets); a drug's weight on set j is the mean of ``w_cj`` over up to
``explain_cells`` of its training cells (a seeded sample), so it reads "which
pathways this molecule's atoms look at, in the cells it was trained on".
``rank`` 1 is the largest weight of a drug.

Tables (plain columns, written as Parquet):

* ``drug_pathway_attention``: ``drug, pathway, weight, rank, n_cells``, every
  gene set;
* ``drug_gene_scores``: the same weights under the columns every explainer
  shares (``drug, gene, score, rank``) so ``drpkit explain`` lists them, the
  top ``explain_top`` per drug. **Note**: for mmgnn the ``gene`` column holds
  the gene-set name (``kegg:hsa04110``), and ``feature`` is ``pathway``;
  the known-target column of ``drpkit explain`` is then always False.

A model with ``cross_attention=false`` or ``pathway_tokens=false`` exports none.

Per atom, :func:`atom_pathway_attention` keeps what the tables average away:
one drug's (atoms x gene sets) weights, atoms in the canonical order of
:func:`drpkit.features.molgraph.canonical_mol` (the order of the graph's
nodes), over the same seeded sample of cells; the mean of its rows is that
drug's ``weight`` column. ``drpkit explain --drug`` draws it
(:func:`drpkit.explain.figures.molecule_attention`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from drpkit.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from drpkit.data.container import DrugResponseData
    from drpkit.models.mmgnn import MMGNN


def sample_training_pairs(data: DrugResponseData, per_drug: int, seed: int) -> pd.DataFrame:
    """Up to ``per_drug`` training pairs (cell, drug) of each drug, seeded."""
    r = data.responses[["cell", "drug"]].drop_duplicates()
    rng = np.random.default_rng(seed)
    keys = rng.random(len(r))
    chosen = r.assign(_key=keys).sort_values(["drug", "_key"]).groupby("drug").head(per_drug)
    return chosen[["cell", "drug"]].reset_index(drop=True)


def atom_pathway_attention(model: MMGNN, data: DrugResponseData, drug: str) -> pd.DataFrame:
    """One drug's attention per atom and gene set (module docstring): rows are the
    atoms (index ``atom``, column ``element``), the other columns the gene sets; each
    row sums to 1. Raises DataError when ``drug`` has no pairs in ``data``."""
    from drpkit.features.molgraph import canonical_mol

    if not model.explains_atoms:
        raise DataError("mmgnn: per-atom attention needs drug_encoder=mol-gnn, "
                        "cross_attention=true and pathway_tokens=true")
    pairs = sample_training_pairs(data, model.config.explain_cells, model.config.seed)
    pairs = pairs.loc[pairs["drug"] == drug].reset_index(drop=True)
    if pairs.empty:
        raise DataError(f"mmgnn: drug {drug!r} has no pairs in the explained data")
    outs = model._run(data, pairs, need_weights=True)
    n_atoms = int(outs[0].drug_mask[0].sum())  # one drug: every row has its atoms first
    weights = torch.cat([o.attention[:, :n_atoms] for o in outs]).mean(0).numpy()
    mol = canonical_mol(str(data.smiles.get(drug, "")), drug)
    if mol.GetNumAtoms() != n_atoms:  # the graph's nodes are this molecule's atoms
        raise DataError(f"mmgnn: {drug!r} has {mol.GetNumAtoms()} atoms but {n_atoms} "
                        "attention rows; was the model fitted on another SMILES?")
    pathways = model.module_.pathways
    assert pathways is not None and pathways.sets is not None  # explains_atoms
    frame = pd.DataFrame(weights, columns=list(pathways.sets)).rename_axis("atom")
    frame.insert(0, "element", [atom.GetSymbol() for atom in mol.GetAtoms()])
    return frame


def pathway_attention_artifacts(model: MMGNN, data: DrugResponseData) -> dict[str, pd.DataFrame]:
    """``drug_pathway_attention`` and ``drug_gene_scores`` (module docstring)."""
    cfg = model.config
    if not cfg.cross_attention or not cfg.pathway_tokens or not len(data.responses):
        return {}
    pairs = sample_training_pairs(data, cfg.explain_cells, cfg.seed)
    weights = model.attention(data, pairs)  # (pairs, sets), rows sum to 1
    per_drug = weights.groupby(pairs["drug"].to_numpy()).mean()
    counts = pairs.groupby("drug").size()
    table = per_drug.rename_axis("drug").reset_index().melt(
        id_vars="drug", var_name="pathway", value_name="weight")
    table["n_cells"] = counts.reindex(table["drug"]).to_numpy()
    table["rank"] = table.groupby("drug")["weight"].rank(method="first",
                                                          ascending=False).astype(int)
    table = table.sort_values(["drug", "rank"]).reset_index(drop=True)
    table = table[["drug", "pathway", "weight", "rank", "n_cells"]].astype(
        {"drug": str, "pathway": str})
    top = table.loc[table["rank"] <= cfg.explain_top]
    scores = pd.DataFrame({"drug": top["drug"], "gene": top["pathway"], "score": top["weight"],
                           "rank": top["rank"], "feature": "pathway"}).reset_index(drop=True)
    return {"drug_pathway_attention": table, "drug_gene_scores": scores}
