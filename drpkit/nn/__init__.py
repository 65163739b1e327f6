"""Reusable neural network layers shared by drpkit's graph models."""
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
    "BipartiteAdjacency",
    "GCNEncoder",
    "NeighborhoodInteractionConv",
    "NodeAttention",
    "PearsonDecoder",
    "ViewFusion",
    "add_feature_noise",
    "bipartite_adjacency",
    "drop_edges",
    "fuse_kernels",
    "heterogeneous_adjacency",
    "info_nce",
    "pearson_correlation",
    "pearson_decoder",
    "reliable_neighbours",
]
