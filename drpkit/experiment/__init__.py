"""Running experiments: one fold, k-fold cross-validation, summaries."""
from drpkit.experiment.crossval import (
    FoldResult,
    cross_validate,
    fold_metrics,
    run_fold,
    run_trial,
    summarise,
)

__all__ = ["FoldResult", "cross_validate", "fold_metrics", "run_fold", "run_trial", "summarise"]
