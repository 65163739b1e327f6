"""Figures of drug-gene rankings: a heatmap of top scores and a small network.

Both read a ranking table (``drug, gene, score, rank`` and, when known, a
boolean ``known`` column marking known drug-target links) and return a bare
matplotlib :class:`~matplotlib.figure.Figure` (no pyplot state, as the
report's figures), which :func:`save` writes or the report embeds.

* :func:`heatmap`: drugs x the union of their top-K genes; each cell is the
  gene's score divided by the drug's largest, so drugs with flat and peaked
  rankings are comparable; known targets are outlined.
* :func:`network`: a bipartite drawing, drugs left and genes right, one line
  per top-K link, its width proportional to the score, known targets in a
  second colour.
* :func:`molecule_attention`: one drug's per-atom attention on gene sets
  (mmgnn): the molecule drawn by RDKit with each atom coloured by its weight on
  one gene set, beside the drug's top gene sets.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from drpkit.errors import DataError

KNOWN = "#c0392b"
OTHER = "#7f8c8d"


def _top(table: pd.DataFrame, k: int) -> pd.DataFrame:
    top = table.loc[table["rank"] <= k].copy()
    if "known" not in top:
        top["known"] = False
    return top


def heatmap(table: pd.DataFrame, k: int = 10, title: str = "") -> Figure:
    """Heatmap of each drug's top-``k`` genes (scores relative to the drug's best)."""
    top = _top(table, k)
    drugs = list(dict.fromkeys(top["drug"]))
    genes = list(dict.fromkeys(top.sort_values(["rank", "gene"])["gene"]))
    grid = top.pivot_table(index="drug", columns="gene", values="score", aggfunc="max")
    grid = grid.reindex(index=drugs, columns=genes)
    relative = grid.div(grid.max(axis=1), axis=0).fillna(0.0)
    fig = Figure(figsize=(max(4.0, 0.28 * len(genes) + 2.5), max(2.5, 0.32 * len(drugs) + 1.5)))
    ax = fig.subplots()
    image = ax.imshow(relative.to_numpy(), aspect="auto", cmap="YlOrRd", vmin=0, vmax=1)
    ax.set_xticks(range(len(genes)), genes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(drugs)), drugs, fontsize=8)
    known = top.loc[top["known"].astype(bool), ["drug", "gene"]]
    for drug, gene in known.itertuples(index=False):
        ax.add_patch(Rectangle((genes.index(gene) - 0.5, drugs.index(drug) - 0.5), 1, 1,
                               fill=False, edgecolor="black", linewidth=1.2))
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, label="score / drug's best")
    ax.set_title(title or f"Top {k} genes per drug (outlined: known target)", fontsize=9)
    fig.tight_layout()
    return fig


def network(table: pd.DataFrame, k: int = 5, title: str = "") -> Figure:
    """Bipartite network of each drug's top-``k`` links (width ~ score)."""
    top = _top(table, k)
    drugs = list(dict.fromkeys(top["drug"]))
    genes = sorted(set(top["gene"]), key=lambda g: (top.loc[top["gene"] == g, "rank"].min(), g))
    y_drug = dict(zip(drugs, np.linspace(1, 0, len(drugs)) if len(drugs) > 1 else [0.5],
                      strict=True))
    y_gene = dict(zip(genes, np.linspace(1, 0, len(genes)) if len(genes) > 1 else [0.5],
                      strict=True))
    fig = Figure(figsize=(6.5, max(3.0, 0.22 * max(len(genes), len(drugs)) + 1)))
    ax = fig.subplots()
    peak = float(top["score"].max()) or 1.0
    for row in top.itertuples(index=False):
        colour = KNOWN if row.known else OTHER
        ax.plot([0, 1], [y_drug[row.drug], y_gene[row.gene]], color=colour, alpha=0.8,
                linewidth=0.5 + 3.5 * float(row.score) / peak)
    ax.scatter([0] * len(drugs), list(y_drug.values()), s=60, color="#2c3e50", zorder=3)
    ax.scatter([1] * len(genes), list(y_gene.values()), s=30, color="#27ae60", zorder=3)
    for drug, y in y_drug.items():
        ax.text(-0.03, y, drug, ha="right", va="center", fontsize=8)
    for gene, y in y_gene.items():
        ax.text(1.03, y, gene, ha="left", va="center", fontsize=7)
    ax.plot([], [], color=KNOWN, label="known target")
    ax.plot([], [], color=OTHER, label="other top link")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize=7,
              frameon=False)
    ax.set_xlim(-0.6, 1.6)
    ax.axis("off")
    ax.set_title(title or f"Top {k} links per drug (width ~ score)", fontsize=9)
    fig.tight_layout()
    return fig


def molecule_attention(mol, atom_weights: pd.DataFrame, drug: str, pathway: str | None = None,
                       top: int = 10) -> Figure:
    """One drug's atom -> gene-set attention (rows: atoms in ``mol``'s order; columns:
    gene sets; each row sums to 1). Weights are shown as multiples of the uniform
    weight 1 / (number of sets), so 1 means "no preference". Left: the molecule, each
    atom coloured by its weight on ``pathway`` (default the drug's top set, i.e. the
    largest mean over atoms); right: the drug's ``top`` sets, ``pathway`` in red."""
    from io import BytesIO

    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.image import imread
    from rdkit.Chem.Draw import rdMolDraw2D

    from drpkit.resources.gene_sets import pathway_label

    fold = atom_weights.astype(float) * atom_weights.shape[1]
    per_set = fold.mean(0).sort_values(ascending=False)
    pathway = pathway or str(per_set.index[0])
    if pathway not in fold:
        raise DataError(f"gene set {pathway!r} is not among the attention columns")
    values = fold[pathway].to_numpy()
    norm = Normalize(vmin=float(values.min()), vmax=float(max(values.max(), values.min() + 1e-9)))
    cmap = colormaps["YlOrRd"]
    colours = {i: tuple(float(c) for c in cmap(norm(v))[:3]) for i, v in enumerate(values)}
    drawer = rdMolDraw2D.MolDraw2DCairo(560, 440)
    drawer.DrawMolecule(mol, highlightAtoms=list(colours), highlightAtomColors=colours,
                        highlightBonds=[], highlightAtomRadii={i: 0.45 for i in colours})
    drawer.FinishDrawing()
    picture = imread(BytesIO(drawer.GetDrawingText()), format="png")

    fig = Figure(figsize=(12, 4.8))
    ax_mol, ax_bar = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    ax_mol.imshow(picture)
    ax_mol.axis("off")
    label = pathway_label(pathway)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax_mol, fraction=0.04, pad=0.01,
                 label="atom weight (x uniform)")
    ax_mol.set_title(f"{drug}: atoms coloured by attention on\n{label}", fontsize=9)
    # lollipops from the uniform weight (1): bars from 0 would hide differences of a
    # few percent, and an axis cut above 0 would exaggerate them
    shown = per_set.iloc[:top][::-1]
    colours_bar = [KNOWN if k == pathway else OTHER for k in shown.index]
    ax_bar.hlines(range(len(shown)), 1.0, shown.to_numpy(), color=colours_bar, linewidth=2)
    ax_bar.scatter(shown.to_numpy(), range(len(shown)), color=colours_bar, zorder=3)
    ax_bar.set_yticks(range(len(shown)), [pathway_label(k) for k in shown.index], fontsize=8)
    ax_bar.axvline(1.0, color="black", linewidth=0.8, linestyle=":")
    ax_bar.set_xlabel("mean attention over atoms (x uniform; dotted: uniform)", fontsize=8)
    ax_bar.set_title(f"{drug}: top {len(shown)} of {fold.shape[1]} gene sets", fontsize=9)
    fig.tight_layout()
    return fig


def save(fig: Figure, path) -> None:
    """Write ``fig`` as a PNG (150 dpi)."""
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=150, bbox_inches="tight")
