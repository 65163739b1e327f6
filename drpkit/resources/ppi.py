"""``ppi``: a gene-gene graph from STRING, restricted to the genes a model uses.

Two STRING edge lists are available offline:

* ``string-mossn``: STRING links with combined score > 0.9 between gene
  symbols, shipped in the mossn 0.1.6 wheel (97,928 edges, 12,173 genes);
* ``csg2a``: the 57,260 STRING gene pairs CSG2A used (no scores), from the
  CSG2A repository (mirror ``csg2a/STRING_edges.csv``).

Both are undirected. :meth:`PPI.graph` returns each undirected edge once, with
``gene_a < gene_b``, so a model that wants both directions (message passing)
mirrors them itself, or uses :meth:`PPI.adjacency`, which is symmetric.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from drpkit.errors import DataError
from drpkit.resources.base import Resource, expression_genes, percent

PPI_SOURCES = ("string-mossn", "csg2a")
"""Names accepted by ``source=``; ``"union"`` combines them."""

EDGE_COLUMNS = ["gene_a", "gene_b", "score", "source"]


def _canonical(a: pd.Series, b: pd.Series, score, source: str) -> pd.DataFrame:
    """Undirected edges, one row each, ``gene_a < gene_b``; self-loops dropped."""
    a, b = a.astype(str).str.strip(), b.astype(str).str.strip()
    frame = pd.DataFrame({"gene_a": np.minimum(a, b), "gene_b": np.maximum(a, b),
                          "score": score, "source": source})
    frame = frame.loc[frame["gene_a"] != frame["gene_b"]]
    frame = frame.sort_values("score", ascending=False, na_position="last")
    return frame.drop_duplicates(["gene_a", "gene_b"]).reset_index(drop=True)


class PPI(Resource):
    """STRING protein-protein interactions as an undirected gene-symbol graph."""

    name = "ppi"
    description = ("STRING protein-protein interactions between gene symbols: high-confidence "
                   "links (mossn, score > 0.9) and CSG2A's STRING edges")
    licence = ("STRING: CC BY 4.0; mossn copy: MOSSN research-only (non-commercial) licence; "
               "CSG2A copy: CC BY-NC-SA 4.0")
    files = (("mossn", "string_links.csv"), ("csg2a", "STRING_edges.csv"))

    def _load(self) -> dict[str, pd.DataFrame]:
        links = pd.read_csv(self.path("mossn", "string_links.csv"))
        csg2a = pd.read_csv(self.path("csg2a", "STRING_edges.csv"))
        for frame, cols, origin in ((links, ["protein1", "protein2", "score"], "mossn"),
                                    (csg2a, ["source", "target"], "csg2a")):
            if any(c not in frame.columns for c in cols):
                raise DataError(f"{origin} STRING file lacks columns {cols}")
        return {
            "string-mossn": _canonical(links["protein1"], links["protein2"],
                                       links["score"].astype(float), "string-mossn"),
            "csg2a": _canonical(csg2a["source"], csg2a["target"], np.nan, "csg2a"),
        }

    def edges(self, source: str = "string-mossn") -> pd.DataFrame:
        """All edges of ``source`` (``string-mossn``, ``csg2a`` or ``union``).

        In the union an edge present in both lists appears once, with the
        mossn score and ``source == "string-mossn+csg2a"``.
        """
        tables = self.load()
        if source == "union" and source not in tables:
            both = pd.concat([tables[s] for s in PPI_SOURCES], ignore_index=True)
            in_both = both.duplicated(["gene_a", "gene_b"], keep=False).to_numpy()
            both.loc[in_both, "source"] = "+".join(PPI_SOURCES)
            union = both.drop_duplicates(["gene_a", "gene_b"])  # the scored mossn row first
            tables["union"] = union.sort_values(["gene_a", "gene_b"]).reset_index(drop=True)
        if source not in tables:
            raise DataError(f"unknown ppi source {source!r}; use one of "
                            f"{[*PPI_SOURCES, 'union']}")
        return tables[source]

    def graph(self, genes: Iterable[str] | None = None,
              source: str = "string-mossn") -> pd.DataFrame:
        """Edges among ``genes`` (all edges if None), one row per undirected pair.

        Args:
            genes: gene symbols to keep (e.g. the columns of an expression
                matrix); symbols are compared exactly.
            source: ``string-mossn`` (default, scored), ``csg2a`` or ``union``.

        Returns:
            DataFrame ``gene_a, gene_b, score, source`` with ``gene_a < gene_b``;
            ``score`` is STRING's combined score in (0.9, 1], NaN for csg2a-only edges.
        """
        frame = self.edges(source)
        if genes is not None:
            keep = set(map(str, genes))
            frame = frame.loc[frame["gene_a"].isin(keep) & frame["gene_b"].isin(keep)]
        return frame.reset_index(drop=True)

    def adjacency(self, genes: Iterable[str], source: str = "string-mossn",
                  weighted: bool = False) -> sp.csr_matrix:
        """Symmetric sparse adjacency over ``genes`` (in the given order).

        Entries are 1 (or the STRING score with ``weighted=True``, 1 where it
        is unknown); genes without edges have empty rows.
        """
        genes = [str(g) for g in genes]
        position = {g: i for i, g in enumerate(genes)}
        edges = self.graph(genes, source)
        rows = edges["gene_a"].map(position).to_numpy()
        cols = edges["gene_b"].map(position).to_numpy()
        values = edges["score"].fillna(1.0).to_numpy() if weighted else np.ones(len(edges))
        upper = sp.coo_matrix((values, (rows, cols)), shape=(len(genes), len(genes)))
        return (upper + upper.T).tocsr()

    def _info(self, dataset) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for source in (*PPI_SOURCES, "union"):
            edges = self.edges(source)
            genes = pd.unique(edges[["gene_a", "gene_b"]].to_numpy().ravel())
            out[f"{source}: edges"] = len(edges)
            out[f"{source}: genes"] = len(genes)
        if dataset is None:
            return out
        ds_genes = expression_genes(dataset)
        out["dataset"] = f"{dataset.name} ({len(ds_genes)} expression genes)"
        for source in (*PPI_SOURCES, "union"):
            sub = self.graph(ds_genes, source)
            in_graph = set(self.edges(source)[["gene_a", "gene_b"]].to_numpy().ravel())
            with_edge = set(sub[["gene_a", "gene_b"]].to_numpy().ravel())
            out[f"{source}: dataset genes in graph"] = percent(
                len(in_graph.intersection(ds_genes)), len(ds_genes))
            out[f"{source}: edges among them"] = len(sub)
            out[f"{source}: genes with >= 1 edge"] = percent(len(with_edge), len(ds_genes))
        return out

