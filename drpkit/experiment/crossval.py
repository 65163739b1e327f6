"""Train-and-score one fold, and k-fold cross-validation of several models.

The protocol of every number drpkit reports:

1. the model is fitted on the fold's training part, with its validation part
   for early stopping / hyperparameters (``model.fit(train, val)``);
2. labels made from responses (per-drug z-scores) are refitted on the
   fold's training pairs (``DrugResponseData.with_fold_labels``);
3. predictions are requested through an object that holds *training*
   responses only, so test labels cannot leak into ``predict``;
4. the classification threshold (sensitive if score >= t) is chosen on the
   validation predictions, then applied to the test predictions;
5. a drug+cell mean-effects baseline fitted on the same training part gives
   the reference for the normalised metrics.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from drpkit.data.container import DrugResponseData
from drpkit.data.labels import value_to_score
from drpkit.data.user_files import impute_for_training
from drpkit.errors import DataError
from drpkit.evaluate.calibration import uncertainty_metrics
from drpkit.evaluate.metrics import choose_threshold, evaluate_predictions
from drpkit.evaluate.stats import paired_ttest
from drpkit.models import DRPModel, create_model
from drpkit.models.base import is_baseline
from drpkit.models.requirements import data_for_model
from drpkit.splits import Fold, make_folds

PAIR = ["cell", "drug"]


@dataclass
class FoldResult:
    """Metrics and test predictions of one model on one fold."""

    model: str
    fold: Fold
    metrics: dict
    predictions: pd.DataFrame
    seconds: float
    fitted: DRPModel
    artifacts: dict[str, pd.DataFrame] = field(default_factory=dict)

    def row(self) -> dict:
        return {"model": self.model, "split": self.fold.kind, "seed": self.fold.seed,
                "fold": self.fold.fold, "seconds": round(self.seconds, 2), **self.metrics}


def sensitivity_score(train: DrugResponseData, pairs: pd.DataFrame,
                      predictions: pd.DataFrame) -> np.ndarray:
    """Higher = more likely sensitive: the model's probability when it gives one,
    else its predicted value mapped onto the dataset's label rule (training data only)."""
    if "score" in predictions:
        return predictions["score"].to_numpy(float)
    return value_to_score(train.responses, pairs, predictions["value"].to_numpy(float),
                          train.label_rule, train.sensitive_if, train.thresholds)


def scored_frame(part: DrugResponseData, predictions: pd.DataFrame, train: DrugResponseData,
                 pairs: pd.DataFrame | None = None):
    """Observed and predicted values of one part (``cell, drug, y, label, yhat,
    score``, then any further output columns of the model); ``yhat`` is NaN for
    pure classifiers. ``pairs``: the pairs as the model was asked them, when
    they differ from ``part``'s (a transfer target's drugs under their source
    names), for turning predicted values into scores."""
    r = part.responses
    yhat = predictions["value"].to_numpy(float) if "value" in predictions \
        else np.full(len(r), np.nan)
    frame = pd.DataFrame({"cell": r["cell"].to_numpy(), "drug": r["drug"].to_numpy(),
                          "y": r["value"].to_numpy(), "label": r["label"].to_numpy(),
                          "yhat": yhat,
                          "score": sensitivity_score(
                              train, r[["cell", "drug"]] if pairs is None else pairs,
                              predictions)})
    for column in extra_outputs(predictions):  # value_sd, value_lo, ... travel unchanged
        frame[column] = predictions[column].to_numpy()
    return frame


def extra_outputs(predictions: pd.DataFrame) -> list[str]:
    """Output columns of a model beyond ``value`` and ``score`` (interval bounds,
    standard deviations, ...), in the model's order."""
    return [c for c in predictions.columns if c not in ("value", "score")]


def _prepared(estimator: DRPModel, data: DrugResponseData, fold: Fold,
              parts: list[np.ndarray]) -> DrugResponseData:
    """``data`` as ``estimator`` trains on ``fold``: imputed and labelled from the
    training pairs only (``parts``: the other row sets that get those labels)."""
    data = impute_for_training(data, fold.train)
    return data_for_model(estimator, data.with_fold_labels(fold.train, parts))


def run_fold(data: DrugResponseData, model: str | DRPModel, fold: Fold,
             params: dict | None = None) -> FoldResult:
    """Fit ``model`` on ``fold``'s training part and score its test part."""
    estimator = _estimator(model, params)
    data = _prepared(estimator, data, fold, [fold.val, fold.test])
    train, val, seconds = _fit(estimator, data, fold)
    test = data.subset(fold.test)
    test_pred = estimator.predict(train, test.responses[PAIR])
    metrics, test_frame = _scored(train, val, test,
                                  estimator.predict(train, val.responses[PAIR]), test_pred)
    return FoldResult(estimator.name, fold, metrics, test_frame, seconds, estimator,
                      estimator.explain(train))


def _scored(train: DrugResponseData, val: DrugResponseData, test: DrugResponseData,
            val_pred: pd.DataFrame, test_pred: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """Test metrics (threshold chosen on the validation predictions) and the scored
    test frame with its mean-effects baseline column."""
    test_frame = scored_frame(test, test_pred, train)
    test_frame["baseline"] = additive_baseline(train, test)
    return fold_metrics(test_frame, scored_frame(val, val_pred, train)), test_frame


def run_trial(data: DrugResponseData, model: str | DRPModel, fold: Fold,
              params: dict | None = None) -> FoldResult:
    """Fit ``model`` on ``fold``'s training part and score its *validation* part.

    This is how a hyperparameter setting is judged: the test part is neither
    read nor predicted. The metrics are the threshold-free ones (AUROC, AUPRC;
    regression metrics for models that predict values).
    """
    estimator = _estimator(model, params)
    data = _prepared(estimator, data, fold, [fold.val])
    train, val, seconds = _fit(estimator, data, fold)
    val_frame = scored_frame(val, estimator.predict(train, val.responses[PAIR]), train)
    val_frame["baseline"] = additive_baseline(train, val)
    return FoldResult(estimator.name, fold, fold_metrics(val_frame, None), val_frame, seconds,
                      estimator)


def run_member(data: DrugResponseData, model: str, fold: Fold, params: dict,
               member: int) -> FoldResult:
    """Member ``member`` (0, 1, ...) of a deep ensemble, run as a grid task of its own:
    the model with seed ``seed + member`` and no uncertainty method (as
    :class:`~drpkit.uncertainty.methods.Ensemble` builds its members), fitted on
    ``fold``'s training part. Its predictions are its raw outputs for the
    validation and test pairs (column ``part``), which :func:`run_ensemble_fold`
    combines; its metrics are its own on the test part."""
    params = {**params, "seed": int(params.get("seed", 0)) + member, "uncertainty": {}}
    estimator = _estimator(model, params)
    data = _prepared(estimator, data, fold, [fold.val, fold.test])
    train, val, seconds = _fit(estimator, data, fold)
    test = data.subset(fold.test)
    raw = {name: estimator.predict(train, part.responses[PAIR]).reset_index(drop=True)
           for name, part in (("val", val), ("test", test))}
    metrics, _ = _scored(train, val, test, raw["val"], raw["test"])
    outputs = pd.concat([pd.concat([part.responses[PAIR].reset_index(drop=True), raw[name]],
                                   axis=1).assign(part=name)
                         for name, part in (("val", val), ("test", test))], ignore_index=True)
    return FoldResult(estimator.name, fold, metrics, outputs, seconds, estimator)


def run_ensemble_fold(data: DrugResponseData, model: str, fold: Fold, params: dict,
                      members: list[pd.DataFrame]) -> FoldResult:
    """Score a deep ensemble on ``fold`` from its members' outputs (``run_member``'s
    predictions, in member order): the numbers ``run_fold`` gives the same model
    fitted with its in-task ensemble, without fitting anything here. No explanation
    artifacts (those come from a fitted model); ``seconds`` is the combining time, the
    fitting time is in the member tasks."""
    from drpkit.uncertainty.wrap import combine_members

    estimator = _estimator(model, params)
    data = _prepared(estimator, data, fold, [fold.val, fold.test])
    train, val, test = (data.subset(rows) for rows in (fold.train, fold.val, fold.test))
    require_values(estimator, train)
    start = time.perf_counter()
    parts = {name: [_member_part(frame, name, part, k) for k, frame in enumerate(members)]
             for name, part in (("val", val), ("test", test))}
    val_pred, test_pred = combine_members(parts["val"], parts["test"], val, test.responses[PAIR],
                                          estimator.config.uncertainty,
                                          classifier="score" in estimator.outputs)
    metrics, test_frame = _scored(train, val, test, val_pred, test_pred)
    return FoldResult(estimator.name, fold, metrics, test_frame, time.perf_counter() - start,
                      estimator)


def _member_part(outputs: pd.DataFrame, name: str, part: DrugResponseData,
                 member: int) -> pd.DataFrame:
    """Member ``member``'s outputs for the ``name`` part, checked against its pairs."""
    rows = outputs[outputs["part"] == name].reset_index(drop=True)
    expected = part.responses[PAIR].reset_index(drop=True)
    if len(rows) != len(expected) or not rows[PAIR].astype(str).equals(expected.astype(str)):
        raise DataError(f"ensemble member {member}: its {name} predictions do not match the "
                        f"fold's {name} pairs ({len(rows)} rows against {len(expected)}); "
                        "was it run on another dataset version?")
    return rows[[c for c in rows.columns if c not in (*PAIR, "part", "tissue")]]


def _estimator(model: str | DRPModel, params: dict | None) -> DRPModel:
    return create_model(model, params) if isinstance(model, str) else model


def require_values(estimator: DRPModel, train: DrugResponseData) -> None:
    """A model that predicts response values trains on them: refuse label-only data."""
    if "value" in estimator.outputs and train.label_only:
        from drpkit.models import MODELS

        classifiers = [n for n in MODELS if MODELS.get(n).outputs == ("score",)]
        raise DataError(
            f"model {estimator.name!r} predicts response values and needs them to train, but "
            f"{train.name!r} has labels only (no 'value' column). Train a classifier "
            f"({', '.join(classifiers)}), or score a regressor on these labels as a transfer "
            "target of a dataset with values (through its per-drug z-scored prediction)")


def _fit(estimator: DRPModel, data: DrugResponseData, fold: Fold):
    train, val = data.subset(fold.train), data.subset(fold.val)
    require_values(estimator, train)
    start = time.perf_counter()
    estimator.fit(train, val)
    return train, val, time.perf_counter() - start


def additive_baseline(train: DrugResponseData, part: DrugResponseData,
                      views: DrugResponseData | None = None,
                      pairs: pd.DataFrame | None = None) -> np.ndarray:
    """Predictions for ``part``'s pairs (or ``pairs``) of the drug + cell
    mean-effects model fitted on ``train`` (the reference of the normalised
    metrics; NaN when ``train`` has labels only); ``views`` is the data
    predictions read (default ``train``)."""
    pairs = part.responses[PAIR] if pairs is None else pairs
    if train.label_only:
        return np.full(len(pairs), np.nan)
    baseline = create_model("naive-additive").fit(train)
    return baseline.predict(views or train, pairs)["value"].to_numpy()


def fold_metrics(frame: pd.DataFrame, val_frame: pd.DataFrame | None) -> dict:
    """Regression metrics (when every pair has a predicted value) and
    classification metrics of a scored frame; the decision threshold is chosen
    on ``val_frame`` (without one, only the threshold-free AUROC and AUPRC).
    With uncertainty columns (intervals, sds, sets), their calibration metrics
    (:func:`~drpkit.evaluate.calibration.uncertainty_metrics`) too."""
    metrics = {}
    if frame["yhat"].notna().all() and frame["y"].notna().all():  # not on label-only data
        metrics = evaluate_predictions(frame, "regression", baseline_col="baseline").overall
    metrics.update(uncertainty_metrics(frame))
    labelled = frame["label"].notna()
    if not labelled.any() or frame.loc[labelled, "label"].nunique() != 2:
        return metrics
    threshold = None
    if val_frame is not None and val_frame["label"].notna().any():
        val_labelled = val_frame["label"].notna()
        threshold = choose_threshold(val_frame.loc[val_labelled, "label"].to_numpy(float),
                                     val_frame.loc[val_labelled, "score"].to_numpy(float))
    cls = evaluate_predictions(frame.loc[labelled], "classification",
                               threshold=threshold).overall
    metrics.update({k: v for k, v in cls.items() if k != "n"})
    if threshold is not None:
        metrics["threshold"] = threshold
    return metrics


def cross_validate(data: DrugResponseData, models: list[str], splits: list[str],
                   n_folds: int = 5, seeds: list[int] | tuple[int, ...] = (0,),
                   params: dict[str, dict] | None = None, progress: bool = True,
                   on_result=None) -> pd.DataFrame:
    """k-fold CV of every model under every split kind and seed.

    Returns one row per (model, split, seed, fold) with all metrics.
    ``on_result(FoldResult)`` is called after each fold (e.g. to save predictions).
    """
    params = params or {}
    tasks = [(split, seed, fold) for split in splits for seed in seeds
             for fold in make_folds(data, split, n_folds, seed)]
    rows = []
    bar = tqdm(total=len(tasks) * len(models), desc="cross-validation", disable=not progress,
               dynamic_ncols=True)
    for split, seed, fold in tasks:
        for name in models:
            bar.set_postfix_str(f"{name} {split} seed {seed} fold {fold.fold}")
            result = run_fold(data, name, fold, params.get(name))
            rows.append(result.row())
            if on_result is not None:
                on_result(result)
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


SUMMARY_METRICS = {
    "pcc": "PCC", "rmse": "RMSE", "r2": "R2", "drug_pcc_mean": "PCC within drug",
    "cell_pcc_mean": "PCC within cell", "pcc_norm": "PCC normalised", "auroc": "AUROC",
    "auprc": "AUPRC",
}


def summarise(results: pd.DataFrame, metrics: dict[str, str] | None = None,
              test_metric: str = "pcc") -> pd.DataFrame:
    """Mean +- sd over folds and seeds, one row per (split, model), with a paired test.

    Within each split every model is compared with the best baseline of that
    split (the model flagged ``baseline`` with the highest mean ``test_metric``,
    the same reference as the report's) over the same folds: the mean
    difference and the two-sided paired t-test p-value (Wilcoxon's exact test
    cannot go below p = 0.0625 with 5 folds, so the t-test is shown; both are in
    :mod:`drpkit.evaluate.stats`). ``drpkit evaluate`` and ``drpkit report``
    print the report's leaderboards instead (``drpkit.report.tables``).
    """
    metrics = metrics or SUMMARY_METRICS
    rows = []
    for split, part in results.groupby("split", sort=False):
        reference = _best_baseline(part, test_metric)
        for model, group in part.groupby("model", sort=False):
            row = {"split": split, "model": model, "folds": len(group)}
            for key, label in metrics.items():
                if key in group:
                    values = group[key].astype(float)
                    row[label] = f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" \
                        if len(values) > 1 else f"{values.mean():.3f}"
            if reference is not None and model != reference:
                diff, p = _paired_vs(part, model, reference, test_metric)
                row["vs best baseline"] = reference
                row[f"Δ{test_metric.upper()}"] = f"{diff:+.3f}"
                row["p (paired t)"] = "n/a" if np.isnan(p) else f"{p:.2g}"
            rows.append(row)
    return pd.DataFrame(rows).fillna("")


def _best_baseline(part: pd.DataFrame, metric: str) -> str | None:
    baselines = part[part["model"].map(is_baseline)]
    if baselines.empty or metric not in baselines:
        return None
    return str(baselines.groupby("model")[metric].mean().idxmax())


def _paired_vs(part: pd.DataFrame, model: str, reference: str, metric: str):
    key = ["seed", "fold"]
    a = part[part["model"] == model].set_index(key)[metric]
    b = part[part["model"] == reference].set_index(key)[metric]
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1).dropna()
    _, p = paired_ttest(joined["a"], joined["b"])
    return float((joined["a"] - joined["b"]).mean()), p
