"""Cross-dataset transfer: train on one dataset, predict the responses of another.

The question a user asks before trusting a model on their own screen: does
what it learned on GDSC carry over to measurements made elsewhere (CCLE, or
any dataset with expression)? :func:`run_transfer` answers it in four steps:

1. **Identities.** Cells are already keyed by normalised names in every
   dataset. A target drug takes the name of the source drug with the same
   structure (first block of the InChIKey, i.e. the same connectivity whatever
   the stereo notation or salt-free name), else of the source drug with the
   same normalised name; GDSC2 and CCLE share 13 of CCLE's 24 drugs this way
   (7 by name alone).
2. **Genes and scale.** Each cell view is cut to the genes both datasets
   have; expression is z-scored per gene *within each dataset* over its own
   cells, which removes a batch shift between platforms and reads features
   only, never a response of either dataset.
3. **Fit** on the source: a random 10% of its pairs is the validation part
   (early stopping, classification threshold), the rest trains.
4. **Predict** every target pair from the source's training data, with
   target-only cells and drugs added as new entities (their features, no
   responses). Cells measured in both datasets keep their source features,
   so models that know them (graph nodes, per-cell means) use that knowledge.

Labels: the source's per-drug z-score labels are refitted on its training
part (as in every fold); the target's are made over the target's own pairs,
the evaluation set, and never reach training.

Metrics: PCC / SCC overall and per drug against the target's values (units
differ between datasets, so RMSE is shown but not comparable), AUROC / AUPRC
against the target's own labels, and the same split by what the model had
seen: pairs whose cell and drug were both in the source training data, a new
cell, a new drug, or both new.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from drpkit.data.container import DrugResponseData
from drpkit.data.drug_matching import match_drug_names
from drpkit.errors import DataError
from drpkit.evaluate.metrics import auroc, evaluate_predictions, pcc
from drpkit.experiment.crossval import PAIR, additive_baseline, fold_metrics, scored_frame
from drpkit.features.molecules import DRUG_FINGERPRINTS
from drpkit.models import DRPModel, create_model
from drpkit.models.requirements import data_for_model
from drpkit.splits import SPLITS

NOVELTY = ("seen", "new cell", "new drug", "new both")


@dataclass
class TransferOutcome:
    """Metrics and predictions of one source -> target transfer."""

    metrics: dict[str, float]
    predictions: pd.DataFrame
    seconds: float
    fitted: DRPModel
    info: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, pd.DataFrame] = field(default_factory=dict)


def match_drugs(source: DrugResponseData, target: DrugResponseData) -> dict[str, str]:
    """Target drug -> source drug name, by structure first, then by normalised name."""
    matches = match_drug_names(source.drugs, source.smiles, target.drugs, target.smiles)
    return {drug: match.reference for drug, match in matches.items()}


def _zscore_per_gene(frame: pd.DataFrame) -> pd.DataFrame:
    values = frame.to_numpy(np.float64)
    sd = values.std(axis=0)
    sd[sd == 0] = 1.0
    return pd.DataFrame(((values - values.mean(axis=0)) / sd).astype(np.float32),
                        index=frame.index, columns=frame.columns)


def align_datasets(source: DrugResponseData, target: DrugResponseData
                   ) -> tuple[DrugResponseData, DrugResponseData, dict[str, Any]]:
    """Source and target on shared genes, expression z-scored within each dataset,
    and target drugs renamed to their source matches (see the module docstring)."""
    if "expression" not in source.cell_views or "expression" not in target.cell_views:
        raise DataError(f"transfer {source.name!r} -> {target.name!r} needs expression in both "
                        "datasets")
    renamed = match_drugs(source, target)
    responses = target.responses.assign(drug=target.responses["drug"].replace(renamed))
    clash = responses.duplicated(PAIR)
    if clash.any():
        raise DataError(f"two {target.name!r} drugs match the same {source.name!r} drug "
                        f"({responses.loc[clash, 'drug'].iloc[0]!r}); give them distinct "
                        "structures or names")
    smiles = target.smiles.rename(index=lambda d: renamed.get(d, d))
    smiles = smiles[~smiles.index.duplicated()]
    src_views, tgt_views, genes = {}, {}, {}
    for view in set(source.cell_views) & set(target.cell_views):
        shared = source.cell_views[view].columns.intersection(target.cell_views[view].columns)
        if not len(shared):
            continue
        genes[view] = len(shared)
        src, tgt = source.cell_views[view][shared], target.cell_views[view][shared]
        if view == "expression":
            src, tgt = _zscore_per_gene(src), _zscore_per_gene(tgt)
        src_views[view], tgt_views[view] = src, tgt
    if "expression" not in genes:
        raise DataError(f"{source.name!r} and {target.name!r} share no expression genes")
    info = {"drugs_matched": len(renamed), "target_drugs": len(target.drugs),
            "target_cells": len(target.cells),
            "cells_in_source": int(np.isin(target.cells, source.cells).sum()),
            **{f"genes_{view}": n for view, n in genes.items()}}
    return (replace(source, cell_views=src_views),
            replace(target, responses=responses, cell_views=tgt_views, smiles=smiles,
                    drug_views={}), info)


def prediction_data(train: DrugResponseData, target: DrugResponseData) -> DrugResponseData:
    """The source's training data, extended with the target's cells and drugs
    that it lacks (their features only; no target response is included)."""
    views = {}
    for view, frame in train.cell_views.items():
        extra = target.cell_views.get(view)
        if extra is not None:
            frame = pd.concat([frame, extra.loc[~extra.index.isin(frame.index)]])
        views[view] = frame
    smiles = pd.concat([train.smiles, target.smiles[~target.smiles.index.isin(train.smiles.index)]])
    info = train.cell_info
    if len(target.cell_info):
        info = pd.concat([info, target.cell_info[~target.cell_info.index.isin(info.index)]])
    stored = {k: v for k, v in train.drug_views.items() if k.split(":")[0] not in DRUG_FINGERPRINTS}
    return replace(train, cell_views=views, smiles=smiles, cell_info=info, drug_views=stored,
                   notes=[*train.notes, f"+ features of {target.name!r} cells and drugs"])


def run_transfer(source: DrugResponseData, target: DrugResponseData, model: str,
                 params: dict[str, Any] | None = None, seed: int = 0,
                 val_parts: int = 10) -> TransferOutcome:
    """Fit ``model`` on ``source`` and score it on every pair of ``target``."""
    src, tgt, info = align_datasets(source, target)
    rng = np.random.default_rng(seed)
    train_rows, val_rows = SPLITS.get("random")(src.responses[PAIR], val_parts, rng)[0]
    estimator = create_model(model, {"seed": seed, **(params or {})})
    src = data_for_model(estimator, src.with_fold_labels(train_rows, [val_rows]))
    tgt = data_for_model(estimator, tgt)
    train, val = src.subset(train_rows), src.subset(val_rows)
    start = time.perf_counter()
    estimator.fit(train, val)
    seconds = time.perf_counter() - start
    predict_on = prediction_data(train, tgt)
    frame = scored_frame(tgt, estimator.predict(predict_on, tgt.responses[PAIR]), train)
    val_frame = scored_frame(val, estimator.predict(train, val.responses[PAIR]), train)
    frame["baseline"] = additive_baseline(train, tgt, predict_on)
    seen_cell = frame["cell"].isin(train.responses["cell"]).to_numpy()
    seen_drug = frame["drug"].isin(train.responses["drug"]).to_numpy()
    frame["novelty"] = np.select([seen_cell & seen_drug, ~seen_cell & seen_drug,
                                  seen_cell & ~seen_drug], NOVELTY[:3], NOVELTY[3])
    metrics = {k: float(v) for k, v in fold_metrics(frame, val_frame).items()
               if isinstance(v, int | float | np.floating)}
    metrics.update(novelty_metrics(frame))
    return TransferOutcome(metrics, frame, seconds, estimator, info, estimator.explain(train))


def novelty_metrics(frame: pd.DataFrame) -> dict[str, float]:
    """Pairs, AUROC and PCC within each novelty group (``n[new drug]``, ...)."""
    out: dict[str, float] = {}
    for group in NOVELTY:
        part = frame[frame["novelty"] == group]
        out[f"n[{group}]"] = float(len(part))
        labelled = part[part["label"].notna()]
        if labelled["label"].nunique() == 2:
            out[f"auroc[{group}]"] = auroc(labelled["label"].to_numpy(float),
                                           labelled["score"].to_numpy(float))
        if part["yhat"].notna().all() and len(part) > 2:
            out[f"pcc[{group}]"] = pcc(part["y"].to_numpy(float), part["yhat"].to_numpy(float))
            if part["drug"].nunique() > 1:
                per_drug = evaluate_predictions(part, "regression").overall
                out[f"drug_pcc_mean[{group}]"] = float(per_drug.get("drug_pcc_mean", np.nan))
    return out
