"""Model interface, registry and the shipped models.

Importing this package registers every built-in model; ``MODELS.names()``
lists them and drives the CLI's choices, the docs table and the test matrix.
"""
from drpkit.models import (  # noqa: F401
    classical,
    csg2a,
    drgt,
    hgacl,
    mlp,
    mmgnn,
    naive,
    nihgcn,
    perdrug,
    perdrug_forest,
    tissue,
)
from drpkit.models.base import (
    MODELS,
    DRPModel,
    ModelConfig,
    create_model,
    load_model,
    register_model,
)

__all__ = ["MODELS", "DRPModel", "ModelConfig", "create_model", "load_model", "register_model"]
