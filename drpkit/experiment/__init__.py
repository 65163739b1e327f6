"""Running experiments: one fold, k-fold cross-validation, summaries."""
from drpkit.experiment.crossval import FoldResult, cross_validate, run_fold, summarise

__all__ = ["FoldResult", "cross_validate", "run_fold", "summarise"]
