"""Cross-dataset transfer: train on one dataset, predict the responses of another.

The question a user asks before trusting a model on their own screen: does
what it learned on GDSC carry over to measurements made elsewhere (CCLE, or
any dataset with expression)? :func:`run_transfer` answers it in four steps:

1. **Identities.** Cells are already keyed by normalised names in every
   dataset (user files too, :mod:`drpkit.data.user_files`). A target drug
   takes the name of the source drug with the same structure (first block of
   the InChIKey, i.e. the same connectivity whatever the stereo notation or
   salt-free name), else of the source drug with the same normalised name;
   GDSC2 and CCLE share 13 of CCLE's 24 drugs this way (7 by name alone).
   Several target drugs may match one source drug (salts, duplicates): each
   keeps its own name and is scored on its own, predicted as that source drug.
   A target drug without a SMILES that matches by name uses the source's.
2. **Genes and scale.** Each cell view is cut to the genes both datasets
   have; expression is z-scored per gene *within each dataset* over its own
   cells, which removes a batch shift between platforms and reads features
   only, never a response of either dataset. A target cell without a row
   of its own (no expression file, or none for that cell) that is a source
   cell borrows the source's (standardised) row; the rest are missing and
   follow the target's ``on_missing`` policy (error, or drop their pairs).
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
differ between datasets, so RMSE is shown but not comparable; none for a
label-only target), AUROC / AUPRC / MCC against the target's own labels,
overall, per drug and per cell (a regressor's value is scored through its
per-drug z-score under the source's training statistics), and the same
split by what the model had seen: pairs whose cell and drug were both in the
source training data, a new cell, a new drug, or both new. The predictions
keep the target's own spellings in ``cell_given`` and ``drug_given``.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from drpkit.data.container import DrugResponseData
from drpkit.data.drug_matching import match_drug_names
from drpkit.data.matching import MatchReport
from drpkit.data.user_files import (
    UserRecord,
    drop_missing,
    fill_missing_values,
    impute_for_training,
    view_medians,
)
from drpkit.errors import DataError
from drpkit.evaluate.calibration import interval_metrics
from drpkit.evaluate.metrics import auroc, evaluate_predictions, pcc
from drpkit.experiment.crossval import (
    PAIR,
    additive_baseline,
    fold_metrics,
    require_values,
    scored_frame,
)
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
    """Each column z-scored over the rows (missing values ignored and kept)."""
    values = frame.to_numpy(np.float64)
    sd = np.nanstd(values, axis=0) if len(values) else np.ones(values.shape[1])
    sd[~(sd > 0)] = 1.0
    mean = np.nanmean(values, axis=0) if len(values) else 0.0
    return pd.DataFrame(((values - mean) / sd).astype(np.float32),
                        index=frame.index, columns=frame.columns)


def align_datasets(source: DrugResponseData, target: DrugResponseData
                   ) -> tuple[DrugResponseData, DrugResponseData, dict[str, Any]]:
    """Source and target on shared genes, expression z-scored within each dataset,
    target drugs renamed to their source matches and target cells without
    features of their own given the source's (see the module docstring).

    ``info`` holds the counts, the matching reports (``matching``) and
    ``drugs_shared``: target drug -> the source drug it is predicted as, for
    target drugs that share a source drug and so keep their own names.
    """
    if "expression" not in source.cell_views:
        raise DataError(f"transfer {source.name!r} -> {target.name!r}: the source has no "
                        "expression")
    record = UserRecord() if target.record is None else replace(
        target.record, counts=dict(target.record.counts), reports=list(target.record.reports))
    drugs = _align_drugs(source, target)
    responses, renamed, drug_report = drugs["responses"], drugs["renamed"], drugs["report"]
    src_views, tgt_views, genes, borrowed = _align_cells(source, target)
    if "expression" not in genes:
        raise DataError(f"{source.name!r} and {target.name!r} share no expression genes")
    cell_report = MatchReport(f"cells: {target.name} -> {source.name}")
    own = target.cell_views.get("expression", pd.DataFrame()).index
    missing_cells = set()
    for cell in target.cells:
        given = record.cells.get(cell, cell)
        if cell in own:
            cell_report.add("its own expression", given, cell)
        elif cell in borrowed:
            cell_report.add(f"borrowing {source.name!r} expression", given, cell)
        else:
            cell_report.miss(given)
            missing_cells.add(cell)
    if target.record is not None:  # a user's files: the policy decides (built-ins as before)
        responses = drop_missing(
            responses, missing_cells, drugs["missing"], record, source=f"target {target.name!r}",
            where={"cell": f"expression of its own or as a {source.name!r} cell",
                   "drug": f"SMILES and no match among the {source.name!r} drugs"})
    record.drugs = {renamed.get(d, d): record.drugs.get(d, d) for d in target.drugs}
    record.reports = [*record.reports, cell_report, drug_report]
    info = {"drugs_matched": drug_report.matched, "target_drugs": len(target.drugs),
            "target_cells": len(target.cells),
            "cells_in_source": int(np.isin(target.cells, source.cells).sum()),
            "cells_borrowed": len(borrowed), "drugs_shared": drugs["shared"],
            "drugs_smiles_borrowed": drugs["smiles_borrowed"],
            **{f"genes_{view}": n for view, n in genes.items()},
            **{k: v for k, v in record.counts.items() if v},
            "matching": [r.as_dict() for r in (cell_report, drug_report)],
            "matching_lines": record.lines()}
    return (replace(source, cell_views=src_views),
            replace(target, responses=responses, cell_views=tgt_views, smiles=drugs["smiles"],
                    drug_views={}, record=record), info)


def _align_drugs(source: DrugResponseData, target: DrugResponseData) -> dict[str, Any]:
    """Target ``responses`` and ``smiles`` with drugs renamed to their source
    matches (one target drug per source drug), the renaming (``renamed``),
    ``shared`` (target drugs that match one source drug together keep their
    names: -> the source drug), the matching ``report``, the drugs with
    neither a match nor a SMILES (``missing``) and ``smiles_borrowed``: matched
    drugs without a SMILES of their own (the source's is used)."""
    matches = match_drug_names(source.drugs, source.smiles, target.drugs, target.smiles)
    report = MatchReport(f"drugs: {target.name} -> {source.name}")
    spell = target.record.drugs if target.record is not None else {}
    by_source: dict[str, list[str]] = defaultdict(list)
    for drug in target.drugs:
        match = matches.get(str(drug))
        if match is None:
            report.miss(spell.get(drug, drug))
        else:
            report.add(match.rule, spell.get(drug, drug), match.reference)
        by_source[match.reference if match else str(drug)].append(str(drug))
    renamed, shared = {}, {}
    for reference, drugs in by_source.items():
        if len(drugs) == 1:
            if reference != drugs[0]:
                renamed[drugs[0]] = reference
            continue
        shared.update({d: reference for d in drugs if d in matches})
        report.notes.append(f"{len(drugs)} {target.name!r} drugs match {source.name!r} drug "
                            f"{reference!r} ({', '.join(map(repr, drugs))}): each is scored "
                            "on its own, predicted as that drug")
    missing = {d for d in target.drugs if d not in matches and d not in target.smiles.index}
    borrowed = sum(1 for d in matches if d not in target.smiles.index)
    if borrowed:
        report.notes.append(f"{borrowed} matched drug(s) without a SMILES of their own use "
                            f"the {source.name!r} one")
    smiles = target.smiles.rename(index=lambda d: renamed.get(d, d))
    lent = [m.reference for d, m in matches.items() if d not in target.smiles.index
            and m.reference in source.smiles.index]
    smiles = pd.concat([smiles, source.smiles.loc[lent]])
    return {"responses": target.responses.assign(drug=target.responses["drug"].replace(renamed)),
            "smiles": smiles[~smiles.index.duplicated()], "renamed": renamed, "shared": shared,
            "report": report, "missing": missing, "smiles_borrowed": borrowed}


def _align_cells(source: DrugResponseData, target: DrugResponseData):
    """Cell views of both datasets on shared features (expression z-scored
    within each), the target's extended by the source rows of its cells that
    have none of their own. Returns the views, features per view and the
    borrowed cells."""
    views = [v for v in source.cell_views if v in target.cell_views] or list(source.cell_views)
    src_views, tgt_views, genes = {}, {}, {}
    borrowed: set[str] = set()
    for view in views:
        src = source.cell_views[view]
        own = target.cell_views.get(view)
        shared = src.columns if own is None else src.columns.intersection(own.columns)
        if not len(shared):
            continue
        src = src[shared]
        own = pd.DataFrame(columns=shared, dtype=np.float32) if own is None else own[shared]
        if view == "expression":
            src, own = _zscore_per_gene(src), _zscore_per_gene(own)
        lacking = pd.Index(target.cells).difference(own.index).intersection(src.index)
        if view == "expression":
            borrowed = set(lacking)
        genes[view] = len(shared)
        src_views[view] = src
        tgt_views[view] = pd.concat([own, src.loc[lacking]]) if len(lacking) else own
    return src_views, tgt_views, genes, borrowed


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
    src = impute_for_training(src, train_rows)
    tgt = _impute_target(tgt, src, train_rows)
    src = data_for_model(estimator, src.with_fold_labels(train_rows, [val_rows]))
    tgt = data_for_model(estimator, tgt)
    train, val = src.subset(train_rows), src.subset(val_rows)
    require_values(estimator, train)
    start = time.perf_counter()
    estimator.fit(train, val)
    seconds = time.perf_counter() - start
    predict_on = prediction_data(train, tgt)
    shared = info["drugs_shared"]  # asked as their source drug, scored under their own name
    pairs = tgt.responses[PAIR].assign(drug=tgt.responses["drug"].map(lambda d: shared.get(d, d)))
    frame = scored_frame(tgt, estimator.predict(predict_on, pairs), train, pairs)
    val_frame = scored_frame(val, estimator.predict(train, val.responses[PAIR]), train)
    frame["baseline"] = additive_baseline(train, tgt, predict_on, pairs)
    record = tgt.record or UserRecord()
    frame.insert(2, "cell_given", frame["cell"].map(lambda c: record.cells.get(c, c)))
    frame.insert(3, "drug_given", frame["drug"].map(lambda d: record.drugs.get(d, d)))
    seen_cell = frame["cell"].isin(train.responses["cell"]).to_numpy()
    seen_drug = pairs["drug"].isin(train.responses["drug"]).to_numpy()
    frame["novelty"] = np.select([seen_cell & seen_drug, ~seen_cell & seen_drug,
                                  seen_cell & ~seen_drug], NOVELTY[:3], NOVELTY[3])
    metrics = {k: float(v) for k, v in fold_metrics(frame, val_frame).items()
               if isinstance(v, int | float | np.floating)}
    metrics.update(novelty_metrics(frame))
    return TransferOutcome(metrics, frame, seconds, estimator, info, estimator.explain(train))


def _impute_target(target: DrugResponseData, source: DrugResponseData,
                   train_rows: np.ndarray) -> DrugResponseData:
    """The target's missing values (``impute="median"``) filled with the median of
    the source's training cells, on the standardised scale both share."""
    if target.record is None or target.record.impute != "median":
        return target
    gaps = {v: source.cell_views[v] for v, frame in target.cell_views.items()
            if v in source.cell_views and frame.isna().to_numpy().any()}
    cells = source.responses["cell"].iloc[np.asarray(train_rows, dtype=int)].unique()
    return fill_missing_values(target, view_medians(gaps, cells, every_view=True))


def novelty_metrics(frame: pd.DataFrame) -> dict[str, float]:
    """Pairs, AUROC and PCC within each novelty group (``n[new drug]``, ...), and
    the intervals' coverage there when the model gives intervals."""
    out: dict[str, float] = {}
    for group in NOVELTY:
        part = frame[frame["novelty"] == group]
        out[f"n[{group}]"] = float(len(part))
        if {"value_lo", "value_hi"} <= set(part) and len(part) and part["y"].notna().all():
            out[f"interval_coverage[{group}]"] = interval_metrics(
                part["y"], part["value_lo"], part["value_hi"])["coverage"]
        labelled = part[part["label"].notna()]
        if labelled["label"].nunique() == 2:
            out[f"auroc[{group}]"] = auroc(labelled["label"].to_numpy(float),
                                           labelled["score"].to_numpy(float))
        if part["yhat"].notna().all() and part["y"].notna().all() and len(part) > 2:
            out[f"pcc[{group}]"] = pcc(part["y"].to_numpy(float), part["yhat"].to_numpy(float))
            if part["drug"].nunique() > 1:
                per_drug = evaluate_predictions(part, "regression").overall
                out[f"drug_pcc_mean[{group}]"] = float(per_drug.get("drug_pcc_mean", np.nan))
    return out


def group_tables(frame: pd.DataFrame, threshold: float | None = None,
                 min_group_size: int = 10) -> dict[str, pd.DataFrame]:
    """Per-drug and per-cell metrics of transfer predictions (``drug``, ``cell``).

    AUROC and AUPRC (and MCC, F1, ... at ``threshold``, the one chosen on the
    source's validation part) against the target's labels; PCC and friends
    against its values when it has them. Groups are named as the target spells
    them; groups with fewer than ``min_group_size`` pairs are left out.
    """
    labelled = frame[frame["label"].notna()]
    out = {}
    for col in ("drug", "cell"):
        tables = []
        if labelled["label"].nunique() == 2:
            tables.append(getattr(evaluate_predictions(
                labelled, "classification", threshold=threshold,
                min_group_size=min_group_size), f"per_{col}"))
        if len(frame) and frame["y"].notna().all() and frame["yhat"].notna().all():
            table = getattr(evaluate_predictions(frame, "regression",
                                                 min_group_size=min_group_size), f"per_{col}")
            tables.append(table.drop(columns="n") if tables else table)
        table = tables[0] if tables else pd.DataFrame(columns=["group", "n"])
        for extra in tables[1:]:
            table = table.merge(extra, on="group", how="outer")
        given = frame.drop_duplicates(col).set_index(col)[f"{col}_given"] \
            if f"{col}_given" in frame else None
        if given is not None:
            table.insert(1, "given", table["group"].map(given))
        out[col] = table.rename(columns={"group": col})
    return out
