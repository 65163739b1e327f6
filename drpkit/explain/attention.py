"""drGT's attention coefficients turned into drug-gene (and cell-gene) scores.

Every attention layer gives, per head, a coefficient on each edge
``source -> destination``; at each destination they sum to 1 over its
incoming edges (GAT and GATv2 include a self-loop). Two readings are exported:

* **Direct** (upstream's): the coefficients of the drug-target edges
  themselves, ``gene -> drug`` (how much of a drug's update comes from that
  target) and ``drug -> gene``, per layer and head (``drug_gene_attention``)
  and averaged over heads and layers (columns ``gene_to_drug`` /
  ``drug_to_gene`` of ``drug_gene_scores``). The public code sums the
  head-averaged ``drug -> gene`` matrices over layers. Direct coefficients
  exist only where a target edge exists, so they rank known targets only.
* **Attention flow** (the ranking, column ``score``): attention rollout
  (Abnar & Zuidema, ACL 2020) over all layers. Each layer's head-averaged
  coefficients form a matrix ``A_l[dst, src]``; with the residual path mixed
  in, ``A~_l = (A_l + I) / 2``, and ``R = A~_L ... A~_1`` says how much of a
  node's final embedding flows from each node's input, along *every* path:
  a target's direct edge, and ``gene -> cell -> drug`` paths through the
  cells the drug is active in. A drug's ``score`` for a gene is
  ``R[drug, gene]`` divided by the drug's total flow from genes (so scores
  sum to 1 over genes and are comparable across drugs); ``rank`` 1 is the
  largest. With ``explain_reading="specific"`` the share is divided by the
  gene's mean share over all drugs first (a lift, as TF-IDF does for words):
  flow through the cells reaches every drug from the same well-connected
  genes, and the lift ranks what is particular to a drug. The same for cells gives ``cell_gene_scores``. This is what lets a
  *hidden* target (no edge) be recovered (:mod:`drpkit.explain.checks`).

The pair ``(drug, cell)`` is scored from both embeddings, so a gene's share
in one prediction is the drug's plus the cell's flow (``drpkit explain
--drug D --cell C``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from torch import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from drpkit.data.container import DrugResponseData
    from drpkit.models.drgt import DrGT
    from drpkit.nn.drgt_net import LayerAttention

SCORE_COLUMNS = ["drug", "gene", "score", "rank"]
"""Columns every ``drug_gene_scores`` artifact has (attention or gradients)."""


def layer_matrix(att: LayerAttention, n: int, residual: float = 0.5) -> Tensor:
    """Sparse (n, n) ``(1 - residual) A + residual I`` with ``A[dst, src]`` the
    head-averaged coefficient of edge ``src -> dst``."""
    src, dst = att.edge_index
    values = att.alpha.float().mean(1) * (1.0 - residual)
    eye = torch.arange(n)
    index = torch.cat([torch.stack([dst, src]), torch.stack([eye, eye])], 1)
    values = torch.cat([values, torch.full((n,), residual)])
    return torch.sparse_coo_tensor(index, values, (n, n), check_invariants=False).coalesce()


def rollout(layers: list[LayerAttention], n: int, rows: Tensor) -> Tensor:
    """(len(rows), n) attention flow into the nodes ``rows`` from every node's input."""
    last = layer_matrix(layers[-1], n)
    flow = torch.index_select(last, 0, rows).to_dense()
    for att in reversed(layers[:-1]):
        flow = torch.sparse.mm(layer_matrix(att, n).t(), flow.t()).t()
    return flow


def _direct(layers: list[LayerAttention], n_drugs: int, gene_off: int,
            n_genes: int) -> pd.DataFrame:
    """Drug-gene edge coefficients: one row per (layer, head, edge)."""
    frames = []
    for layer, att in enumerate(layers):
        src, dst = att.edge_index.numpy()
        for direction, mask in (("gene->drug", (src >= gene_off) & (dst < n_drugs)),
                                ("drug->gene", (src < n_drugs) & (dst >= gene_off))):
            if not mask.any():
                continue
            drug = np.where(direction == "gene->drug", dst, src)[mask]
            gene = np.where(direction == "gene->drug", src, dst)[mask] - gene_off
            alpha = att.alpha.numpy()[mask]
            for head in range(alpha.shape[1]):
                frames.append(pd.DataFrame({"drug_pos": drug, "gene_pos": gene,
                                            "layer": layer, "head": head,
                                            "direction": direction, "alpha": alpha[:, head]}))
    if not frames:
        return pd.DataFrame(columns=["drug_pos", "gene_pos", "layer", "head", "direction",
                                     "alpha"])
    out = pd.concat(frames, ignore_index=True)
    return out.loc[out["gene_pos"] < n_genes]


def _row_shares(flow: np.ndarray) -> np.ndarray:
    total = flow.sum(1, keepdims=True)
    return np.divide(flow, total, out=np.zeros_like(flow), where=total > 0)


def ranked(flow: np.ndarray, names: np.ndarray, genes: np.ndarray, column: str,
           specific: bool = False) -> pd.DataFrame:
    """Long table (column, gene, score, rank) of row-normalised flows; with
    ``specific``, each gene's share over its mean share across the rows (then
    row-normalised again)."""
    score = _row_shares(flow)
    if specific:
        mean = score.mean(0, keepdims=True)
        score = _row_shares(np.divide(score, mean, out=np.zeros_like(score), where=mean > 0))
    frame = pd.DataFrame({column: np.repeat(names, len(genes)),
                          "gene": np.tile(genes, len(names)), "score": score.ravel()})
    frame["rank"] = frame.groupby(column)["score"].rank(method="first", ascending=False)
    frame["rank"] = frame["rank"].astype(int)
    return frame


def gene_degrees(g, genes: np.ndarray) -> pd.DataFrame:
    """Each gene node's edges in graph ``g``: to cells, to drugs (targets), in all."""
    gene_off = g.n_drugs + g.n_cells
    src, kind = g.edge_index[0].numpy(), g.kind.numpy()
    counts = {}
    for code, column in ((2, "cell_edges"), (4, "dti_edges")):
        mine = src[kind == code] - gene_off
        counts[column] = np.bincount(mine, minlength=len(genes))[:len(genes)]
    frame = pd.DataFrame({"gene": genes, **counts})
    frame["degree"] = frame["cell_edges"] + frame["dti_edges"]
    return frame


def attention_artifacts(model: DrGT, data: DrugResponseData) -> dict[str, pd.DataFrame]:
    """The tables :meth:`DrGT.explain` stores (see the module docstring):
    ``drug_gene_scores``, ``cell_gene_scores``, ``drug_gene_attention``,
    ``gene_nodes`` (each gene's degree, for degree-matched baselines) and,
    when links were hidden, ``hidden_dti``."""
    _, g, layers = model.encode(data, attention=True)
    genes = np.asarray(model.state_.genes, dtype=str)
    if not model.config.use_genes or not layers:
        return {}
    n_d, n_c = g.n_drugs, g.n_cells
    gene_off = n_d + n_c
    flow = rollout(layers, g.n_nodes, torch.arange(n_d + n_c)).numpy()[:, gene_off:]
    top = model.config.explain_top
    specific = model.config.explain_reading == "specific"
    drugs = ranked(flow[:n_d], model.drugs_, genes, "drug", specific)
    known = {"dti": model.state_.dti, "hidden": model.state_.hidden}
    for flag, links in known.items():
        pairs = set(zip(links["drug"].astype(str), links["gene"].astype(str), strict=True))
        drugs[flag] = [(d, gn) in pairs for d, gn in zip(drugs["drug"], drugs["gene"],
                                                        strict=True)]
    direct = _direct(layers, n_d, gene_off, len(genes))
    direct["drug"] = model.drugs_[direct["drug_pos"].to_numpy(int)]
    direct["gene"] = genes[direct["gene_pos"].to_numpy(int)]
    mean = direct.pivot_table(index=["drug", "gene"], columns="direction", values="alpha",
                              aggfunc="mean")
    for direction, column in (("gene->drug", "gene_to_drug"), ("drug->gene", "drug_to_gene")):
        values = mean[direction] if direction in mean else pd.Series(dtype=float)
        drugs[column] = pd.MultiIndex.from_frame(drugs[["drug", "gene"]]).map(
            values.to_dict()).astype(float) if len(values) else np.nan
    drugs = drugs.loc[(drugs["rank"] <= top) | drugs["dti"] | drugs["hidden"]]
    cells = ranked(flow[n_d:], model.cells_, genes, "cell", specific)
    out = {"drug_gene_scores": drugs.sort_values(["drug", "rank"]).reset_index(drop=True),
           "cell_gene_scores": cells.loc[cells["rank"] <= top].sort_values(
               ["cell", "rank"]).reset_index(drop=True),
           "drug_gene_attention": direct[["drug", "gene", "layer", "head", "direction",
                                          "alpha"]].reset_index(drop=True)}
    out["gene_nodes"] = gene_degrees(g, genes)
    if len(model.state_.hidden):
        out["hidden_dti"] = model.state_.hidden[["drug", "gene"]].astype(str).reset_index(
            drop=True)
    return out
