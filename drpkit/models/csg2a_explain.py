"""CSG2A's gene-gene attention, aggregated per drug into explain() tables, and the
paper's mechanism-of-action check.

For a pair (cell c, drug d) the block's attention is ``A = Q Q^T / sqrt(b) +
A_PPI``; the prior is the same for every pair, so a drug's map is the learned
part ``Q Q^T / sqrt(b)`` averaged over up to ``explain_cells`` of its training
cells (a seeded sample): "which gene pairs this compound couples, in the cells
it was trained on".

Tables (plain columns, written as Parquet):

* ``drug_gene_scores``: ``drug, gene, score, rank``, a gene's score being the
  mean of its row of the map (how strongly the gene is coupled to the others),
  top ``explain_top`` per drug (the columns ``drpkit explain`` lists);
* ``drug_gene_pair_attention``: ``drug, gene_a, gene_b, attention, rank``, the
  ``explain_pairs`` largest off-diagonal entries per drug (the paper takes the
  top 1,000 pairs into an enrichment analysis);
* ``drug_attention_similarity``: ``drug_a, drug_b, pcc``, the Pearson correlation
  of two drugs' maps (upper triangles), the input of :func:`moa_correlation`;
* ``drug_attention_map``: ``drug, gene_a, gene_b, attention``, each drug's map
  among its ``explain_map_genes`` highest-scoring genes (every ordered pair), enough
  to draw the map of any drug from a benchmark run without refitting.

:func:`moa_correlation` compares that correlation between drugs that share a
known target (the ``dti`` resource: DrugBank via drGT, ChEMBL via drug2cell)
with drugs that share none. The paper groups drugs into seven mechanism
classes by hand (0.338 within vs 0.169 across); a shared target is the
annotation reachable offline here, and it is a stricter grouping.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from drpkit.models.mmgnn_explain import sample_training_pairs

if TYPE_CHECKING:  # pragma: no cover
    from drpkit.data.container import DrugResponseData
    from drpkit.models.csg2a import CSG2A


def attention_artifacts(model: CSG2A, data: DrugResponseData) -> dict[str, pd.DataFrame]:
    """The three tables of the module docstring (none for ``form=linear``)."""
    cfg = model.config
    if model.module_.block.form == "linear" or not len(data.responses):
        return {}
    pairs = sample_training_pairs(data, cfg.explain_cells, cfg.seed)
    maps = model.attention_maps(data, pairs)
    genes = np.asarray(model.genes_, dtype=str)
    n = len(genes)
    upper = np.triu_indices(n, k=1)
    scores, top_pairs, submaps = [], [], []
    for drug, a in maps.items():
        row = a.mean(axis=1)
        ranked = np.argsort(-row, kind="stable")
        order = ranked[:cfg.explain_top]
        scores.append(pd.DataFrame({"drug": drug, "gene": genes[order], "score": row[order],
                                    "rank": np.arange(1, len(order) + 1)}))
        keep = ranked[:cfg.explain_map_genes]
        ia, ib = np.meshgrid(keep, keep, indexing="ij")
        submaps.append(pd.DataFrame({"drug": drug, "gene_a": genes[ia.ravel()],
                                     "gene_b": genes[ib.ravel()],
                                     "attention": a[ia.ravel(), ib.ravel()]}))
        values = a[upper]
        best = np.argsort(-values, kind="stable")[:cfg.explain_pairs]
        top_pairs.append(pd.DataFrame({
            "drug": drug, "gene_a": genes[upper[0][best]], "gene_b": genes[upper[1][best]],
            "attention": values[best], "rank": np.arange(1, len(best) + 1)}))
    names = list(maps)
    flat = np.stack([maps[d][upper] for d in names]) if names else np.zeros((0, 0))
    corr = np.corrcoef(flat) if len(names) > 1 else np.ones((len(names), len(names)))
    i, j = np.triu_indices(len(names), k=1)
    similarity = pd.DataFrame({"drug_a": np.asarray(names, dtype=str)[i],
                               "drug_b": np.asarray(names, dtype=str)[j], "pcc": corr[i, j]})
    return {"drug_gene_scores": pd.concat(scores, ignore_index=True),
            "drug_gene_pair_attention": pd.concat(top_pairs, ignore_index=True),
            "drug_attention_similarity": similarity,
            "drug_attention_map": pd.concat(submaps, ignore_index=True)}


def moa_correlation(similarity: pd.DataFrame, targets: pd.DataFrame) -> dict[str, Any]:
    """Attention-map correlation of drug pairs sharing a known target vs not.

    Args:
        similarity: ``drug_a, drug_b, pcc`` (``drug_attention_similarity``).
        targets: ``drug, gene`` known targets (``RESOURCES.get("dti").targets(data)``);
            drugs without a known target take no part.

    Returns:
        counts, mean and median correlation of both groups, the difference of
        medians and a one-sided Mann-Whitney p (within > across).
    """
    known = targets.groupby("drug")["gene"].agg(lambda g: frozenset(map(str, g)))
    keep = similarity["drug_a"].isin(known.index) & similarity["drug_b"].isin(known.index)
    pairs = similarity.loc[keep]
    shared = np.array([bool(known[a] & known[b])
                       for a, b in zip(pairs["drug_a"], pairs["drug_b"], strict=True)],
                      dtype=bool)
    within, across = pairs["pcc"].to_numpy()[shared], pairs["pcc"].to_numpy()[~shared]
    out: dict[str, Any] = {"drugs with targets": len(set(pairs["drug_a"]) |
                                                         set(pairs["drug_b"])),
                           "pairs sharing a target": int(shared.sum()),
                           "pairs sharing none": int((~shared).sum())}
    if len(within) and len(across):
        out |= {"mean within": float(within.mean()), "mean across": float(across.mean()),
                "median within": float(np.median(within)),
                "median across": float(np.median(across)),
                "median difference": float(np.median(within) - np.median(across)),
                "p (Mann-Whitney, within > across)": float(
                    mannwhitneyu(within, across, alternative="greater").pvalue)}
    return out
