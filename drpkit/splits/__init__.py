"""Leakage-free splits: random pairs, cell-blind, drug-blind, disjoint, tissue-blind."""
from drpkit.splits import paper as _paper  # noqa: F401, I001 - registration order
from drpkit.splits import drgt as _drgt  # noqa: F401
from drpkit.splits.folds import Fold, check_fold, holdout_fold, make_folds
from drpkit.splits.kinds import SPLITS

__all__ = ["SPLITS", "Fold", "check_fold", "holdout_fold", "make_folds"]
