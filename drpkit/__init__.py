"""drpkit: cancer drug response prediction with graph models, honestly evaluated.

Entry points: ``drpkit.data.load_dataset`` / ``DrugResponseData.from_files``
(data), ``drpkit.splits.make_folds`` (leakage-free folds),
``drpkit.models.create_model`` (registered models), ``drpkit.experiment``
(one fold, cross-validation, summaries) and the ``drpkit`` command.
"""
__version__ = "0.1.0"
