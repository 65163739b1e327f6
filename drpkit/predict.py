"""Predicting with a trained run for a user's cells and drugs (``drpkit predict``).

A user's expression file rarely matches the training data exactly: another
platform lacks some genes, another pipeline leaves values on another scale,
a known drug arrives under another name. Each of these used to give silent
garbage (NaN or constant predictions written with exit code 0). Here each is
handled by a documented rule, counted and reported:

* **Missing genes.** The genes the fitted model reads (``model.input_genes()``)
  that the file lacks are imputed with the training cells' mean of that gene
  (so the model sees an average value, a z-score of 0) when at most
  ``max_missing`` (default 20%) of them are missing; above that, or with
  ``missing_genes="error"``, prediction is refused.
* **Scale.** The file's per-gene medians and spreads are compared with the
  training cells' (:func:`scale_check`); a file far off (e.g. log2 values
  against an already normalised training matrix) gets a warning, and
  ``standardise="within"`` z-scores each gene within the file and maps it
  onto the training cells' mean and sd (the moment matching the transfer
  runner does per dataset).
* **Drugs.** A drug of the user's file that is a training drug by structure
  (InChIKey connectivity) or normalised name is predicted as that training
  drug (:mod:`drpkit.data.drug_matching`); the output keeps the user's name.
* **Names.** Cell names are normalised (``' a673 '`` is ``A673``) in the
  expression file and in ``pairs``; a cell of ``pairs`` that the file lacks
  but the run's dataset has uses the dataset's expression (counted as
  borrowed). Drugs of ``pairs`` are matched to the drugs file, else to known
  drugs by normalised name. Outputs keep the user's spelling; the matching is
  reported (``report["matching"]``).
* **Gaps.** Missing values in the expression file (empty, NaN, inf, |x| >
  1e30) are an error, or with ``impute="median"`` filled with the training
  cells' median of the gene (counted). Pairs whose cell has no expression or
  whose drug is unknown are an error, or with ``on_missing="drop"`` dropped
  (counted).
* **Outputs.** A non-finite prediction is an error naming the cells and
  drugs affected, and nothing is written; predictions that are constant
  across a drug's cells, from a model that reads cell features, are warned about.
* **Uncertainty.** A model trained with ``-p uncertainty.method=...`` adds
  its columns (``value_lo``, ``value_hi``, ``value_sd``, ...) and
  ``flag_uncertain``: uncertainty above the validation pairs' 90th percentile
  (:mod:`drpkit.uncertainty.wrap`); the rule and count are in the report.
* **Novelty.** ``new_cell`` / ``new_drug``: the pair's cell (by id) or drug (after
  matching) is not among the run's training pairs. Kept apart from the flag because
  the intervals were calibrated on seen drugs: they do not widen for a new drug (on
  drug-blind folds and on CCLE's new drugs they cover far below nominal;
  BENCHMARKS.md, "Uncertainty"), so a ``new_drug`` row deserves the same caution as a
  flagged one.

The statistics used (training cells' per-gene mean, sd, median) come from the
run's training part only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from drpkit.data.container import DrugResponseData, read_smiles_table
from drpkit.data.drug_matching import match_drug_names
from drpkit.data.ids import name_list
from drpkit.data.matching import match_pairs
from drpkit.data.readers import read_table, require_columns
from drpkit.data.reference import (
    MissingGenes,
    align_expression,
    expression_reference,
    scale_check,
    standardise_within,
)
from drpkit.data.user_files import check_policy, impute_for_training, read_cell_matrix
from drpkit.errors import DataError
from drpkit.models import DRPModel, load_model

REFERENCE_FILE = "expression_reference.parquet"
Standardise = Literal["none", "within"]


@dataclass
class PredictionOutcome:
    """Predictions in the user's spelling, with what was done to get them.

    Attributes:
        predictions: columns ``cell, drug`` (as the user gave them), ``value``
            (when the model predicts one) and ``score`` (higher = more sensitive).
        report: JSON-able record of gene imputation, scale check, drug matching
            and settings (written next to the CSV by the CLI).
        warnings: human-readable warnings (also inside ``report``).
    """

    predictions: pd.DataFrame
    report: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


# ------------------------------------------------------------- run directory
def load_run(run: str | Path) -> tuple[dict, DRPModel, DrugResponseData]:
    """The config, fitted model and training dataset of a ``drpkit train`` run."""
    from drpkit.data import DataSpec

    run = Path(run)
    config_path = run / "config.json"
    if not config_path.exists():
        raise DataError(f"{run}: no config.json; not a drpkit run directory")
    config = json.loads(config_path.read_text())
    model = load_model(run / "model")
    return config, model, DataSpec(**config["data"]).load()


def training_rows(config: dict, data: DrugResponseData) -> np.ndarray:
    """Response rows the run's model was trained on (its fold's training part)."""
    from drpkit.splits import holdout_fold, make_folds

    if config["split"] == "none":
        return holdout_fold(data, config["seed"]).train
    return make_folds(data, config["split"], config["folds"], config["seed"])[config["fold"]].train


def run_reference(run: Path, config: dict, data: DrugResponseData) -> pd.DataFrame:
    """The training cells' expression statistics: stored with the run by
    ``drpkit train``, else recomputed from the run's fold (older runs)."""
    path = Path(run) / REFERENCE_FILE
    if path.exists():
        return pd.read_parquet(path)
    cells = data.responses["cell"].iloc[training_rows(config, data)].unique()
    return expression_reference(data.cell_view("expression"), cells)


# -------------------------------------------------------------------- outputs
def check_outputs(frame: pd.DataFrame, model: DRPModel) -> list[str]:
    """Raise on non-finite predictions; warnings for constant ones per drug."""
    columns = [c for c in ("value", "score") if c in frame]
    bad = ~np.isfinite(frame[columns].to_numpy(np.float64)).all(axis=1)
    if bad.any():
        rows = frame.loc[bad]
        raise DataError(
            f"{int(bad.sum())} of {len(frame)} predictions are not finite (NaN or inf), for "
            f"cell(s) {sorted(rows['cell'].unique())[:5]} and drug(s) "
            f"{sorted(rows['drug'].unique())[:5]}; nothing was written. Check those cells' "
            "expression for missing or non-numeric values")
    warnings: list[str] = []
    genes = model.input_genes()
    if genes == {} or not model.cell_views:
        return warnings  # a model that reads no cell features predicts one value per drug
    for column in columns:
        per_drug = frame.groupby("drug")[column].agg(["nunique", "size"])
        constant = per_drug.index[(per_drug["nunique"] == 1) & (per_drug["size"] > 1)]
        if len(constant):
            warnings.append(f"{column} is the same for every cell of {len(constant)} drug(s), "
                            f"e.g. {list(constant[:5])}: the cells' expression may not be "
                            "informative to this model (check genes and scale)")
    return warnings


# ---------------------------------------------------------------------- main
def predict_run(run: str | Path, expression: str | Path | None = None,
                drugs: str | Path | None = None, pairs: str | Path | None = None, *,
                missing_genes: MissingGenes = "impute", max_missing: float = 0.2,
                standardise: Standardise = "none", on_missing: str = "error",
                impute: str = "none") -> PredictionOutcome:
    """Predict with run ``run`` for new cells (``expression``) and/or drugs (``drugs``).

    Without ``pairs`` every given cell meets every given drug; cells or drugs
    not given are the training dataset's. See the module docstring for the
    rules applied to genes, scale, names, gaps and outputs.
    """
    from drpkit.experiment.crossval import extra_outputs, sensitivity_score
    from drpkit.models.requirements import data_for_model

    if not 0 <= max_missing <= 1:
        raise DataError(f"--max-missing must be between 0 and 1, got {max_missing}")
    check_policy(on_missing, impute)
    run = Path(run)
    config, model, data = load_run(run)
    trained_rows = training_rows(config, data)
    seen = data.responses.iloc[trained_rows]
    seen_cells, seen_drugs = set(seen["cell"]), set(seen["drug"])
    data = impute_for_training(data, trained_rows)  # run trained with --impute
    report: dict[str, Any] = {"run": str(run), "model": model.name,
                              "missing_genes": missing_genes, "max_missing": max_missing,
                              "standardise": standardise, "on_missing": on_missing,
                              "impute": impute}
    warnings: list[str] = []
    new_cells, new_drugs = list(data.cells), list(data.drugs)
    spelling: dict[str, str] = {}  # cell id -> as the expression file spells it
    if expression is not None:
        new_cells, spelling = _add_expression(
            data, run, config, model, expression, report, warnings, missing_genes=missing_genes,
            max_missing=max_missing, standardise=standardise, impute=impute)
    renamed: dict[str, str] = {}
    if drugs is not None:
        new_drugs, renamed = _add_drugs(data, drugs, report)
    if pairs is not None:
        table = read_table(pairs)
        require_columns(table, ["cell", "drug"], path=pairs)
        table = table[["cell", "drug"]].astype(str).reset_index(drop=True)
        query, reports = match_pairs(
            table, Path(pairs).name, file_cells=spelling, renamed=renamed,
            known_cells=data.cell_views.get("expression", pd.DataFrame()).index,
            known_drugs=[*data.drugs, *data.smiles.index])
        report["matching"] = [r.as_dict() for r in reports]
        report["matching_lines"] = [line for r in reports for line in r.lines()]
    else:
        query = pd.MultiIndex.from_product([new_cells, new_drugs],
                                           names=["cell", "drug"]).to_frame(index=False)
        trained = data.record.cells if data.record is not None else {}  # training spellings
        table = query.assign(cell=query["cell"].map(lambda c: spelling.get(c, trained.get(c, c))))
        query = query.assign(drug=query["drug"].map(lambda d: renamed.get(d, d)))
    keep = _require_known(query, data, pairs or expression or run, on_missing, report)
    table, query = table.loc[keep].reset_index(drop=True), query.loc[keep].reset_index(drop=True)
    prediction = model.predict(data_for_model(model, data), query)
    result = table.assign(score=sensitivity_score(data, query, prediction))
    if "value" in prediction:
        result.insert(2, "value", prediction["value"].to_numpy())
    for column in extra_outputs(prediction):  # interval bounds, sds, ... as the model gives
        result[column] = prediction[column].to_numpy()
    result["new_cell"] = ~query["cell"].isin(seen_cells).to_numpy()
    result["new_drug"] = ~query["drug"].isin(seen_drugs).to_numpy()
    report["novelty"] = {"new_cell_pairs": int(result["new_cell"].sum()),
                         "new_drug_pairs": int(result["new_drug"].sum())}
    if model.config.uncertainty.method != "none":
        _flag(model, prediction, result, report)
    warnings += check_outputs(result, model)
    report["pairs"] = len(result)
    report["warnings"] = warnings
    return PredictionOutcome(result, report, warnings)


def _flag(model: DRPModel, prediction: pd.DataFrame, result: pd.DataFrame,
          report: dict) -> None:
    """Add ``flag_uncertain`` to ``result`` and the rule to ``report``."""
    from drpkit.uncertainty.wrap import flag_rule, flag_uncertain

    flags = flag_uncertain(model, prediction)
    if flags is not None:
        result["flag_uncertain"] = flags.to_numpy()
        report["uncertainty"] = {**(flag_rule(model) or {}), "flagged": int(flags.sum())}


def _add_expression(data: DrugResponseData, run: Path, config: dict, model: DRPModel,
                    path: str | Path, report: dict, warnings: list[str], *,
                    missing_genes: MissingGenes, max_missing: float, standardise: Standardise,
                    impute: str) -> tuple[list[str], dict[str, str]]:
    """Put the file's cells into ``data``'s expression view; returns their ids
    and their spellings in the file."""
    matrix, spelling = read_cell_matrix(path, missing="keep" if impute == "median" else "error")
    reference = run_reference(run, config, data)
    declared = model.input_genes()
    needed = list(reference.index) if declared is None else list(declared.get("expression", []))
    scale = scale_check(matrix, reference)
    report["scale_check"] = scale
    if scale["flagged"] and standardise == "none":
        warnings.append(
            f"{path}: its values look like another scale than the training data (typical gene "
            f"{scale['location_shift_sd']} training sds from the training median, spread ratio "
            f"{scale['spread_ratio']}); consider --standardise within")
    if standardise == "within":
        matrix = standardise_within(matrix, reference, str(path))
    aligned, info = align_expression(matrix, reference, needed, policy=missing_genes,
                                     max_missing=max_missing, source=str(path))
    gaps = int(aligned.isna().to_numpy().sum())
    if gaps:  # only with impute="median": the reader refuses them otherwise
        aligned = aligned.fillna(reference["median"].astype(np.float32))
    info["values_imputed"] = gaps
    report["genes"] = info
    report["cells_given"] = len(aligned)
    base = data.cell_views.get("expression")
    data.cell_views["expression"] = aligned if base is None else pd.concat(
        [base.loc[~base.index.isin(aligned.index)], aligned.reindex(columns=base.columns)])
    return list(aligned.index), spelling


def _add_drugs(data: DrugResponseData, path: str | Path,
               report: dict) -> tuple[list[str], dict[str, str]]:
    """Add the file's drugs to ``data``; those that are training drugs are
    renamed to them. Returns the user's drug names and the renaming."""
    smiles = read_smiles_table(path)
    matches = match_drug_names(data.drugs, data.smiles, list(smiles.index), smiles)
    renamed = {drug: match.reference for drug, match in matches.items()}
    new = smiles.loc[~smiles.index.isin(list(renamed))]
    data.smiles = pd.concat([data.smiles.loc[~data.smiles.index.isin(new.index)], new])
    data.drug_views = {}
    report["drugs"] = {
        "given": len(smiles),
        "matched_by_structure": sum(m.rule == "structure" for m in matches.values()),
        "matched_by_name": sum(m.rule == "name" for m in matches.values()),
        "new": len(new),
        "matches": {d: {"training_drug": m.reference, "rule": m.rule}
                    for d, m in matches.items() if d != m.reference},
    }
    return list(smiles.index), renamed


def _require_known(query: pd.DataFrame, data: DrugResponseData, source, on_missing: str,
                   report: dict) -> np.ndarray:
    """Rows of ``query`` whose cell has expression and whose drug is known: all of
    them, or an error naming the others (``on_missing="drop"``: they are dropped)."""
    expression = data.cell_views.get("expression")
    cells = set() if expression is None else set(query["cell"]) - set(expression.index)
    drugs = set(query["drug"]) - set(data.smiles.index) - set(data.drugs)
    if (cells or drugs) and on_missing == "error":
        parts = []
        if cells:
            parts.append(f"{len(cells)} cell(s) have no expression in the file or the training "
                         f"data, e.g. {name_list(sorted(cells))}")
        if drugs:
            parts.append(f"{len(drugs)} drug(s) are neither training drugs nor in --drugs, e.g. "
                         f"{name_list(sorted(drugs))}")
        raise DataError(f"{source}: {'; '.join(parts)} (--on-missing drop drops their pairs)")
    keep = ~(query["cell"].isin(cells) | query["drug"].isin(drugs)).to_numpy()
    report["dropped"] = {"pairs": int((~keep).sum()), "cells": len(cells), "drugs": len(drugs)}
    if not keep.any():
        raise DataError(f"{source}: every pair lacks expression or a known drug; nothing to "
                        "predict")
    return keep


def match_summary(report: dict) -> list[str]:
    """Lines for the terminal: genes imputed, scale check, drugs matched."""
    lines = list(report.get("matching_lines", []))
    dropped = report.get("dropped", {})
    if dropped.get("pairs"):
        lines.append(f"dropped (--on-missing drop): {dropped['pairs']} pair(s) of "
                     f"{dropped['cells']} cell(s) without expression and {dropped['drugs']} "
                     "unknown drug(s)")
    genes = report.get("genes")
    if genes:
        lines.append(f"genes: the model reads {genes['genes_read_by_model']}; "
                     f"{genes['genes_missing']} missing from the file and imputed with the "
                     f"training mean; {genes['extra_genes_ignored']} extra column(s) ignored"
                     + (f"; {genes['values_imputed']} missing value(s) imputed with the training "
                        "median" if genes.get("values_imputed") else ""))
    scale = report.get("scale_check")
    if scale:
        lines.append(f"scale: typical gene {scale['location_shift_sd']} training sds from the "
                     f"training median, spread ratio {scale['spread_ratio']} "
                     f"({'FLAGGED' if scale['flagged'] else 'ok'}); standardise="
                     f"{report['standardise']}")
    flags = report.get("uncertainty")
    if flags:
        lines.append(f"uncertainty ({flags['method']}, alpha {flags['alpha']}): "
                     f"{flags['flagged']} of {report['pairs']} prediction(s) flagged "
                     f"(flag_uncertain: {flags['rule']})")
    novelty = report.get("novelty")
    if novelty and (novelty["new_cell_pairs"] or novelty["new_drug_pairs"]):
        lines.append(f"novelty: {novelty['new_cell_pairs']} of {report['pairs']} pair(s) with a "
                     f"cell and {novelty['new_drug_pairs']} with a drug the run never trained on "
                     "(columns new_cell, new_drug; intervals are calibrated on seen drugs)")
    drugs = report.get("drugs")
    if drugs:
        lines.append(f"drugs: {drugs['given']} given; {drugs['matched_by_structure']} are "
                     f"training drugs by structure, {drugs['matched_by_name']} by name, "
                     f"{drugs['new']} new")
        for drug, match in drugs["matches"].items():
            lines.append(f"  {drug} -> {match['training_drug']} ({match['rule']})")
    return lines
