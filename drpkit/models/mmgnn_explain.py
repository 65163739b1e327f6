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
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

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
