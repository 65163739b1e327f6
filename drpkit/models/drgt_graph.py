"""The drug-cell-gene graph of drGT: gene nodes, node features and edges, fitted
on a fold's training part and extended with held-out cells and drugs.

**Genes**: the most variable genes of the expression view among the training
cells (the top ``variable_share``, 10% as upstream, or ``n_genes``) plus every
gene of the expression view that is a known target (resource ``dti``) of a
drug node.

**Node features** are rows of RBF similarity matrices, as upstream: a drug's
similarity to the reference drugs (Morgan fingerprints), a cell's to the
reference cells (expression z-scored with training statistics on the graph's
genes) and a gene's to every gene (its z-scored profile across the reference
cells). The reference rows are the node sets of the fitted graph (training
cells and drugs in the inductive mode); bandwidths are 1 / mean squared
distance of the reference rows and each matrix is min-max scaled with the
reference block's extremes (upstream: sklearn's ``gamma = 1 / features`` and
the same min-max scaling).

**Edges** (both directions, weight as the edge attribute):

* drug - cell: the training sensitive pairs, weight 1;
* cell - gene: the positive part of the cell's z-scored expression (weight z),
  at most ``genes_per_cell`` genes per cell (its largest z; None = every
  gene with z > 0, as upstream);
* drug - gene: known drug-target interactions, weight 1.

**Held-out nodes** (inductive mode) join a fitted graph with edges *into*
them only (gene -> cell for a new cell, gene -> drug for a new drug): they
read the fitted graph and change no fitted node's embedding, as a user's new
cell line does after training. Drug-target links are prior knowledge of a
drug (like its structure), not responses, so a new drug brings its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from drpkit.data.container import DrugResponseData
from drpkit.data.ids import require_ids
from drpkit.features.expression import fit_expression_scaling, scale_expression
from drpkit.features.kernels import gaussian_gamma, squared_distances

RELATIONS = ("drug-cell", "cell-gene", "drug-gene")
"""Undirected relation types; ``relation_features`` adds their one-hot to the edge weight."""
DIRECTED = ("cell->drug", "drug->cell", "gene->cell", "cell->gene", "gene->drug", "drug->gene")
"""Directed edge types (source -> destination), the codes of :attr:`HeteroGraph.kind`."""


@dataclass
class Kernel:
    """RBF similarity of rows to fixed reference rows, min-max scaled with the
    extremes of the reference block (so new rows are scaled as the fitted ones)."""

    reference: np.ndarray
    gamma: float
    low: float
    high: float

    @classmethod
    def fit(cls, reference: np.ndarray) -> Kernel:
        ref = np.asarray(reference, dtype=np.float64)
        gamma = gaussian_gamma(ref)
        block = np.exp(-gamma * squared_distances(ref))
        low, high = float(block.min()), float(block.max())
        return cls(ref.astype(np.float32), gamma, low, high if high > low else low + 1.0)

    def rows(self, x: np.ndarray | Tensor) -> Tensor:
        """(n, n_ref) scaled similarities of the rows of ``x`` (differentiable in a tensor)."""
        x_t = x if isinstance(x, Tensor) else torch.from_numpy(np.asarray(x, np.float32))
        ref = torch.from_numpy(self.reference).to(x_t)
        k = torch.exp(-self.gamma * squared_distances(x_t, ref))
        return ((k - self.low) / (self.high - self.low)).float()

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}reference": self.reference,
                f"{prefix}params": np.asarray([self.gamma, self.low, self.high])}

    @classmethod
    def from_arrays(cls, state, prefix: str) -> Kernel:
        gamma, low, high = (float(v) for v in state[f"{prefix}params"])
        return cls(state[f"{prefix}reference"], gamma, low, high)


@dataclass
class GraphState:
    """Everything fitted on the training part that builds drGT graphs.

    Attributes:
        genes, gene_mean, gene_scale: gene nodes and their z-score statistics
            (training cells).
        cell_kernel, drug_kernel: similarity to the reference cells / drugs.
        gene_features: (genes, genes) similarity rows of the gene nodes.
        fp_columns: fingerprint bits the drug kernel reads.
        dti: (drug, gene) target links in the graph.
        hidden: (drug, gene) known links left out on purpose (``hide_dti``).
    """

    genes: np.ndarray
    gene_mean: np.ndarray
    gene_scale: np.ndarray
    cell_kernel: Kernel
    drug_kernel: Kernel
    gene_features: np.ndarray
    fp_columns: np.ndarray
    dti: pd.DataFrame
    hidden: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["drug", "gene"]))

    def cell_z(self, data: DrugResponseData, cells) -> np.ndarray:
        """(n, genes) z-scored expression of ``cells`` (float32)."""
        return scale_expression(data.cell_view("expression"), cells, self.genes,
                                self.gene_mean, self.gene_scale).astype(np.float32)

    def drug_bits(self, data: DrugResponseData, view: str, drugs) -> np.ndarray:
        frame = data.drug_view(view)
        require_ids(drugs, frame.index, "drug", f"fingerprint view {view!r}")
        columns = pd.Index(frame.columns.astype(str))
        return frame.loc[list(drugs)].to_numpy(np.float32)[:, columns.get_indexer(self.fp_columns)]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"genes": self.genes, "gene_mean": self.gene_mean, "gene_scale": self.gene_scale,
                "gene_features": self.gene_features, "fp_columns": self.fp_columns,
                "dti": self.dti[["drug", "gene"]].to_numpy(str).reshape(-1, 2),
                "hidden": self.hidden[["drug", "gene"]].to_numpy(str).reshape(-1, 2),
                **self.cell_kernel.to_arrays("cellk_"), **self.drug_kernel.to_arrays("drugk_")}

    @classmethod
    def from_arrays(cls, state) -> GraphState:
        return cls(state["genes"], state["gene_mean"], state["gene_scale"],
                   Kernel.from_arrays(state, "cellk_"), Kernel.from_arrays(state, "drugk_"),
                   state["gene_features"], state["fp_columns"],
                   pd.DataFrame(state["dti"], columns=["drug", "gene"]),
                   pd.DataFrame(state["hidden"], columns=["drug", "gene"]))


def select_genes(expression: pd.DataFrame, train_cells, n_genes: int | None,
                 share: float, targets: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Graph genes (most variable among training cells + measured targets, sorted)
    with their training-cell z-score statistics."""
    n_var = n_genes or max(1, round(share * expression.shape[1]))
    variable, _, _ = fit_expression_scaling(expression, train_cells, n_var)
    wanted = pd.Index(variable).union(pd.Index(targets.astype(str).unique()))
    genes = wanted.intersection(expression.columns).sort_values()
    return fit_expression_scaling(expression[genes], train_cells, None)


def fit_state(train: DrugResponseData, cells: np.ndarray, drugs: np.ndarray, view: str,
              targets: pd.DataFrame, n_genes: int | None, share: float, hide: float,
              seed: int) -> GraphState:
    """Fit the graph state on ``train`` with ``cells`` / ``drugs`` as reference nodes.

    Args:
        train: the fold's training part (z-scores and gene variances use its cells).
        cells, drugs: the fitted node sets (reference rows of the kernels).
        view: the drug fingerprint view.
        targets: (drug, gene) known targets of ``drugs``.
        n_genes, share: how many variable genes (count, else share).
        hide: share of the target links (among graph genes) left out at random.
        seed: seeds the choice of hidden links.
    """
    train_cells = np.sort(train.responses["cell"].unique())
    expression = train.cell_view("expression")
    genes, mean, scale = select_genes(expression, train_cells, n_genes, share,
                                      targets["gene"])
    state = GraphState(genes, mean, scale, Kernel(np.zeros((1, 1), np.float32), 1.0, 0.0, 1.0),
                       Kernel(np.zeros((1, 1), np.float32), 1.0, 0.0, 1.0),
                       np.zeros((0, 0), np.float32),
                       np.asarray(train.drug_view(view).columns, dtype=str), targets)
    z_ref = state.cell_z(train, cells)
    state.cell_kernel = Kernel.fit(z_ref)
    state.drug_kernel = Kernel.fit(state.drug_bits(train, view, drugs))
    state.gene_features = Kernel.fit(z_ref.T).rows(z_ref.T).numpy()
    links = targets.loc[targets["gene"].isin(genes), ["drug", "gene"]].drop_duplicates()
    links = links.sort_values(["drug", "gene"]).reset_index(drop=True)
    n_hidden = round(hide * len(links))
    rng = np.random.default_rng(seed)
    hidden = np.zeros(len(links), dtype=bool)
    hidden[rng.choice(len(links), size=n_hidden, replace=False)] = True
    state.dti, state.hidden = links.loc[~hidden].reset_index(drop=True), \
        links.loc[hidden].reset_index(drop=True)
    return state


@dataclass
class HeteroGraph:
    """One drGT graph: node features, typed edges and the node counts.

    Node ids: drugs ``0..n_drugs-1``, then cells, then genes.
    ``kind`` holds each edge's code in :data:`DIRECTED`.
    """

    x_drug: Tensor
    x_cell: Tensor
    x_gene: Tensor
    edge_index: Tensor
    edge_attr: Tensor
    kind: Tensor

    @property
    def n_drugs(self) -> int:
        return self.x_drug.shape[0]

    @property
    def n_cells(self) -> int:
        return self.x_cell.shape[0]

    @property
    def n_genes(self) -> int:
        return self.x_gene.shape[0]

    @property
    def n_nodes(self) -> int:
        return self.n_drugs + self.n_cells + self.n_genes

    def last_mask(self) -> Tensor:
        """Edges into drugs and cells: the only ones the last layer needs."""
        return self.edge_index[1] < self.n_drugs + self.n_cells

    def inputs(self) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        return self.x_drug, self.x_cell, self.x_gene, self.edge_index, self.edge_attr

    def to(self, device) -> HeteroGraph:
        return HeteroGraph(*(t.to(device) for t in (self.x_drug, self.x_cell, self.x_gene,
                                                    self.edge_index, self.edge_attr,
                                                    self.kind)))


def cell_gene_links(z: np.ndarray, per_cell: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(cell row, gene column) of each cell's positive z-scores, at most ``per_cell``
    per cell (the largest)."""
    if per_cell is not None and per_cell < z.shape[1]:
        top = np.argpartition(-z, per_cell - 1, axis=1)[:, :per_cell]
        rows = np.repeat(np.arange(z.shape[0]), per_cell)
        cols = top.ravel()
        keep = z[rows, cols] > 0
        return rows[keep], cols[keep]
    rows, cols = np.nonzero(z > 0)
    return rows, cols


def assemble(x_drug: Tensor, x_cell: Tensor, x_gene: Tensor, parts: list[tuple],
             relation_features: bool) -> HeteroGraph:
    """A :class:`HeteroGraph` from directed edge parts ``(src, dst, weight, code)``
    given in node ids."""
    src = np.concatenate([p[0] for p in parts]).astype(np.int64)
    dst = np.concatenate([p[1] for p in parts]).astype(np.int64)
    weight = np.concatenate([np.asarray(p[2], np.float32) for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[3], dtype=np.int64) for p in parts])
    attr = weight[:, None]
    if relation_features:
        attr = np.hstack([attr, np.eye(len(RELATIONS), dtype=np.float32)[kind // 2]])
    return HeteroGraph(x_drug, x_cell, x_gene, torch.from_numpy(np.stack([src, dst])),
                       torch.from_numpy(np.ascontiguousarray(attr)), torch.from_numpy(kind))


def build_graph(state: GraphState, data: DrugResponseData, view: str, cells: np.ndarray,
                drugs: np.ndarray, n_fit_cells: int, n_fit_drugs: int,
                response_index: np.ndarray, extra_targets: pd.DataFrame,
                per_cell: int | None, relation_features: bool) -> HeteroGraph:
    """The graph over ``drugs`` and ``cells`` (the fitted nodes first) and the genes.

    Args:
        state: the fitted :class:`GraphState`.
        data: where expression and fingerprints are read.
        view: the drug fingerprint view.
        cells, drugs: node ids; the first ``n_fit_cells`` / ``n_fit_drugs`` are
            the fitted nodes, the rest join with edges into them only.
        response_index: (2, E) [cell, drug] indices of the response edges
            (fitted nodes only).
        extra_targets: (drug, gene) links of the joining drugs.
        per_cell: cap on cell-gene edges per cell (None: every positive z).
        relation_features: append relation one-hots to the edge weights.
    """
    n_d, n_c = len(drugs), len(cells)
    gene_of = pd.Index(state.genes)
    cell_off, gene_off = n_d, n_d + n_c
    z = state.cell_z(data, cells)
    x_cell = state.cell_kernel.rows(z)
    x_drug = state.drug_kernel.rows(state.drug_bits(data, view, drugs))
    x_gene = torch.from_numpy(state.gene_features)
    parts: list[tuple] = []
    c_idx, d_idx = response_index
    ones = np.ones(len(c_idx), np.float32)
    parts += [(cell_off + c_idx, d_idx, ones, 0), (d_idx, cell_off + c_idx, ones, 1)]
    rows, cols = cell_gene_links(z, per_cell)
    weight = z[rows, cols]
    parts.append((gene_off + cols, cell_off + rows, weight, 2))
    fitted = rows < n_fit_cells
    parts.append((cell_off + rows[fitted], gene_off + cols[fitted], weight[fitted], 3))
    links = pd.concat([state.dti, extra_targets[["drug", "gene"]]], ignore_index=True)
    drug_pos = pd.Index(drugs).get_indexer(links["drug"].astype(str))
    gene_pos = gene_of.get_indexer(links["gene"].astype(str))
    ok = (drug_pos >= 0) & (gene_pos >= 0)
    drug_pos, gene_pos = drug_pos[ok], gene_pos[ok]
    ones = np.ones(len(drug_pos), np.float32)
    parts.append((gene_off + gene_pos, drug_pos, ones, 4))
    fitted = drug_pos < n_fit_drugs
    parts.append((drug_pos[fitted], gene_off + gene_pos[fitted], ones[fitted], 5))
    return assemble(x_drug, x_cell, x_gene, parts, relation_features)
