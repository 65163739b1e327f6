"""Reusable neural network layers shared by drpkit's graph models, and the
composable drug and cell encoder parts (:mod:`drpkit.nn.encoders`)."""
from drpkit.nn.encoders import (
    CELL_ENCODERS,
    DRUG_ENCODERS,
    CellEncoder,
    CellEncoderSpec,
    DrugEncoder,
    DrugEncoderSpec,
    build_cell_encoder,
    build_drug_encoder,
    requirements,
)
from drpkit.nn.hetero import (
    GCNEncoder,
    NodeAttention,
    ViewFusion,
    add_feature_noise,
    drop_edges,
    fuse_kernels,
    heterogeneous_adjacency,
    info_nce,
    reliable_neighbours,
)
from drpkit.nn.layers import (
    BipartiteAdjacency,
    NeighborhoodInteractionConv,
    PearsonDecoder,
    bipartite_adjacency,
    pearson_correlation,
    pearson_decoder,
)

__all__ = [
    "CELL_ENCODERS",
    "DRUG_ENCODERS",
    "BipartiteAdjacency",
    "CellEncoder",
    "CellEncoderSpec",
    "DrugEncoder",
    "DrugEncoderSpec",
    "GCNEncoder",
    "NeighborhoodInteractionConv",
    "NodeAttention",
    "PearsonDecoder",
    "ViewFusion",
    "add_feature_noise",
    "bipartite_adjacency",
    "build_cell_encoder",
    "build_drug_encoder",
    "drop_edges",
    "fuse_kernels",
    "heterogeneous_adjacency",
    "info_nce",
    "pearson_correlation",
    "pearson_decoder",
    "reliable_neighbours",
    "requirements",
]
