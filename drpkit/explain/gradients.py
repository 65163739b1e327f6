"""Integrated gradients on the input genes, for models without attention.

``drpkit explain`` ranks genes per drug for any model that maps a cell's
expression differentiably to its prediction, through captum's
:class:`~captum.attr.IntegratedGradients` (Sundararajan et al., ICML 2017; a
maintained library, not hand-written). For a (cell, drug) pair the input is
the cell's expression on the genes the model reads, z-scored with the
model's training statistics, and the baseline is z = 0 (the average training
cell): a gene's attribution is its share of the difference between the pair's
output and the output for an average cell (completeness; captum's
convergence delta is reported). Integrated gradients are unchanged by a
per-gene affine rescaling, so z-space attributions equal raw-expression ones.

The output explained is the sensitivity logit of models that give a score,
else the predicted response. Per drug, up to ``cells_per_drug`` training
cells screened with it are explained; a gene's ``score`` is its mean
absolute attribution divided by the drug's total (shares summing to 1, as
attention scores do), ``signed`` its mean attribution (positive: higher
expression raises the output) and ``rank`` 1 the largest score.

Cells are explained as *new* cell lines, the way ``drpkit predict`` scores a
user's cell: for graph models the cell joins the fitted graph as a node
without response edges, so its embedding is a function of its expression
alone (fitted nodes are unaffected). Supported: ``mlp`` and the NIHGCN family
(``nihgcn``, ``mtigcn``, ``mtigcn-a``, ``mtigcn-b``); HGACL-DRP's new nodes
are attached through a top-k neighbour choice and are not covered.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from drpkit.data.container import DrugResponseData
from drpkit.data.ids import extend_ids
from drpkit.errors import DataError
from drpkit.features.expression import scale_expression
from drpkit.models.base import DRPModel


@dataclass
class GradientProblem:
    """What integrated gradients need from a fitted model.

    Attributes:
        genes: the input genes, in input order.
        z: cells -> (n, genes) z-scored expression (float32).
        forward: (z (B, genes), drug position (B,)) -> output (B,).
        drugs: the drug ids the positions refer to.
        output: what ``forward`` returns (``logit`` or ``value``).
    """

    genes: np.ndarray
    z: Callable[[np.ndarray], np.ndarray]
    forward: Callable[[Tensor, Tensor], Tensor]
    drugs: np.ndarray
    output: str


def _mlp(model, data: DrugResponseData, drugs: np.ndarray) -> GradientProblem:
    f = model.featurizer_
    d_feat = torch.from_numpy(np.asarray(f.encode_drugs(data, drugs), np.float32))
    mean, axes = torch.from_numpy(f.cell_mean_), torch.from_numpy(f.cell_axes_)
    net = model.module_.eval()

    def forward(z: Tensor, pos: Tensor) -> Tensor:
        cell = (z - mean) @ axes.T
        return net(torch.cat([cell, d_feat[pos]], 1)).squeeze(-1)

    def z_of(cells: np.ndarray) -> np.ndarray:
        return scale_expression(data.cell_view("expression"), cells, f.genes_, f.gene_mean_,
                                f.gene_std_).astype(np.float32)

    return GradientProblem(np.asarray(f.genes_, str), z_of, forward, drugs, "value")


def _nihgcn(model, data: DrugResponseData, drugs: np.ndarray) -> GradientProblem:
    from drpkit.nn import bipartite_adjacency
    from drpkit.nn.layers import pearson_correlation

    net, cfg = model.module_.eval(), model.config
    all_drugs = extend_ids(model.drugs_, drugs)
    x_drug = torch.from_numpy(model._drug_features(data, all_drugs))
    with torch.no_grad():
        adj = model.graph(n_drugs=len(all_drugs))
        _, h_drug = net.encode(torch.from_numpy(model._cell_features(data, model.cells_)),
                               x_drug, adj)
    position = pd.Index(all_drugs).get_indexer(drugs)
    use_value = "score" not in model.outputs

    def forward(z: Tensor, pos: Tensor) -> Tensor:
        # an isolated cell's embedding depends on its own features only
        empty = bipartite_adjacency(torch.zeros(2, 0, dtype=torch.long), len(z), len(all_drugs))
        h_cell, _ = net.encode(z, x_drug, empty)
        drug_rows = torch.as_tensor(position)[pos]
        pairs = torch.stack([torch.arange(len(z)), drug_rows])
        if use_value:
            a, b = model.calibration_
            raw = cfg.regression_scale * pearson_correlation(
                net.reg_cell(h_cell), net.reg_drug(h_drug), pairs)
            return (a * raw + b) * model.y_std_ + model.y_mean_
        return cfg.gamma * pearson_correlation(h_cell, h_drug, pairs)

    def z_of(cells: np.ndarray) -> np.ndarray:
        return model._cell_features(data, cells)

    return GradientProblem(np.asarray(model.genes_, str), z_of, forward, drugs,
                           "value" if use_value else "logit")


ADAPTERS: dict[str, Callable[..., GradientProblem]] = {
    "mlp": _mlp, "nihgcn": _nihgcn, "mtigcn": _nihgcn, "mtigcn-a": _nihgcn,
    "mtigcn-b": _nihgcn,
}
"""Model name -> builder of its :class:`GradientProblem`."""


def supports_gradients(model: DRPModel) -> bool:
    return model.name in ADAPTERS


def gradient_scores(model: DRPModel, data: DrugResponseData, pairs: pd.DataFrame,
                    n_steps: int = 32, batch_size: int = 1024) -> pd.DataFrame:
    """Integrated-gradient attributions of ``pairs`` (cell, drug), aggregated per drug.

    Returns:
        ``drug, gene, score, rank, signed, n_cells, delta`` (see the module
        docstring), every gene of every drug of ``pairs``.
    """
    from captum.attr import IntegratedGradients

    if model.name not in ADAPTERS:
        raise DataError(f"model {model.name!r} exposes no attention and has no gradient "
                        f"explanation; supported: {', '.join(ADAPTERS)} and drgt (attention)")
    drugs = np.asarray(pd.unique(pairs["drug"].astype(str)), dtype=str)
    problem = ADAPTERS[model.name](model, data, drugs)
    cells = pairs["cell"].astype(str).to_numpy()
    z = torch.from_numpy(problem.z(cells))
    pos = torch.as_tensor(pd.Index(drugs).get_indexer(pairs["drug"].astype(str)))
    ig = IntegratedGradients(problem.forward)
    chunks, deltas = [], []
    step = max(1, batch_size // n_steps)  # pairs per chunk: ~batch_size rows per pass
    for start in range(0, len(z), step):
        part = slice(start, start + step)
        got, delta = ig.attribute(z[part], baselines=torch.zeros_like(z[:1]),
                                  additional_forward_args=(pos[part],), n_steps=n_steps,
                                  internal_batch_size=max(batch_size, len(z[part])),
                                  return_convergence_delta=True)
        chunks.append(got.detach())
        deltas.append(delta.detach())
    attr = torch.cat(chunks).numpy()
    delta = torch.cat(deltas)
    frames = []
    for i, drug in enumerate(drugs):
        rows = pos.numpy() == i
        magnitude = np.abs(attr[rows]).mean(0)
        total = magnitude.sum()
        frames.append(pd.DataFrame({
            "drug": drug, "gene": problem.genes,
            "score": magnitude / total if total > 0 else magnitude,
            "signed": attr[rows].mean(0), "n_cells": int(rows.sum()),
            "delta": float(np.abs(delta.numpy()[rows]).mean())}))
    out = pd.concat(frames, ignore_index=True)
    out["rank"] = out.groupby("drug")["score"].rank(method="first", ascending=False).astype(int)
    out["output"] = problem.output
    return out.sort_values(["drug", "rank"]).reset_index(drop=True)


def sample_pairs(train: DrugResponseData, drugs, cells_per_drug: int,
                 seed: int = 0) -> pd.DataFrame:
    """Up to ``cells_per_drug`` training pairs of each drug in ``drugs``, at random."""
    r = train.responses
    r = r.loc[r["drug"].isin(list(drugs)), ["cell", "drug"]]
    if r.empty:
        raise DataError("none of the requested drugs has training pairs in this run")
    rng = np.random.default_rng(seed)
    picked = [group.iloc[rng.permutation(len(group))[:cells_per_drug]]
              for _, group in r.groupby("drug", sort=True)]
    return pd.concat(picked, ignore_index=True)
