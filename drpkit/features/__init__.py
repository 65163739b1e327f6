"""Features of drugs and cell lines.

* :mod:`drpkit.features.molecules`: stateless drug featurisers from SMILES
  (molecular graphs, Morgan / PubChem / MACCS fingerprints).
* :mod:`drpkit.features.molgraph`: molecular graphs in canonical atom order
  with bond stereo, memoised (``mol_graphs``), for the ``mol-gnn`` encoder.
* :mod:`drpkit.features.omics`: expression transforms fitted on the training
  cells of a fold only (z-scoring, gene selection).
* :mod:`drpkit.features.kernels`: similarity kernels on numpy arrays or torch tensors.
"""
from drpkit.features.kernels import (
    cosine_similarity,
    frobenius_normalise,
    gaussian_gamma,
    gaussian_kernel,
    jaccard_similarity,
    polynomial_kernel,
    squared_distances,
    top_k_neighbours,
)
from drpkit.features.molecules import (
    ATOM_FEATURE_DIM,
    BOND_FEATURE_DIM,
    DRUG_FINGERPRINTS,
    drug_fingerprints,
    maccs_fingerprints,
    mol_to_graph,
    morgan_fingerprints,
    parse_smiles,
    pubchem_fingerprints,
)
from drpkit.features.molgraph import mol_graph, mol_graphs
from drpkit.features.omics import GeneSubset, OmicsPipeline, VarianceGeneSelector, ZScore

__all__ = [
    "ATOM_FEATURE_DIM",
    "BOND_FEATURE_DIM",
    "DRUG_FINGERPRINTS",
    "GeneSubset",
    "OmicsPipeline",
    "VarianceGeneSelector",
    "ZScore",
    "cosine_similarity",
    "drug_fingerprints",
    "frobenius_normalise",
    "gaussian_gamma",
    "gaussian_kernel",
    "jaccard_similarity",
    "maccs_fingerprints",
    "mol_graph",
    "mol_graphs",
    "mol_to_graph",
    "morgan_fingerprints",
    "parse_smiles",
    "polynomial_kernel",
    "pubchem_fingerprints",
    "squared_distances",
    "top_k_neighbours",
]
