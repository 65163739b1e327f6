"""Reusable neural network layers shared by drpkit's graph models."""
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
    "NeighborhoodInteractionConv",
    "PearsonDecoder",
    "bipartite_adjacency",
    "pearson_correlation",
    "pearson_decoder",
]
