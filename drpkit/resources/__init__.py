"""Prior-knowledge resources next to the datasets: graphs, targets, gene sets, encoders.

    from drpkit.resources import RESOURCES, landmark_genes

    ppi = RESOURCES.get("ppi")
    edges = ppi.graph(expression.columns)            # gene_a, gene_b, score, source
    targets = RESOURCES.get("dti").targets(data)     # drug, gene, source, match_rule, reference
    sets = RESOURCES.get("gene-sets").load(["kegg"]) # {"kegg:hsa00010": {"HK1", ...}, ...}
    vectors = RESOURCES.get("mol-encoder").encode(["CCO", "c1ccccc1"])  # (2, 512)

Every resource is built from registered, sha256-checked source files
(``drpkit.data.catalog``), is listed by ``drpkit data list`` and described, with
its coverage of a dataset, by ``drpkit data info NAME --dataset D``.
"""
from drpkit.data import catalog as _catalog  # noqa: F401  - registers the sources
from drpkit.resources.base import RESOURCES, Resource
from drpkit.resources.dti import DTI
from drpkit.resources.gene_sets import GeneSets, read_gene_sets, write_gene_sets
from drpkit.resources.landmarks import LandmarkGenes, landmark_genes
from drpkit.resources.mol_encoder import MolEncoder
from drpkit.resources.ppi import PPI

# One instance each; registration order is the order of `drpkit data list`.
for _resource in (PPI(), DTI(), GeneSets(), LandmarkGenes(), MolEncoder()):
    RESOURCES.add(_resource.name, _resource)

__all__ = ["DTI", "PPI", "RESOURCES", "GeneSets", "LandmarkGenes", "MolEncoder", "Resource",
           "landmark_genes", "read_gene_sets", "write_gene_sets"]
