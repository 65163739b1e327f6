"""``DrugResponseData``: the one container every model receives.

It holds long-format responses (one row per cell-drug pair: ``cell``,
``drug``, ``value``, ``label``), cell views (``expression``, ``cnv``,
``mutation``: cells x gene symbols), cell information (``tissue``, ...),
drug SMILES and drug views (fingerprints given by a dataset, or derived from
SMILES on demand). Models never read files: they receive this object (with
only the responses of their training part) and ask for the views they declare.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drpkit.data.labels import apply_label_rule, fold_labels
from drpkit.data.readers import read_table, require_columns
from drpkit.data.user_files import UserRecord, load_user_files
from drpkit.data.user_files import read_cell_matrix as read_user_matrix
from drpkit.errors import DataError

RESPONSE_COLUMNS = ["cell", "drug", "value", "label"]
CELL_VIEWS = ("expression", "cnv", "mutation")


@dataclass
class DrugResponseData:
    """Responses plus the cell and drug views of one dataset.

    Attributes:
        name: dataset name (``gdsc2``, ``custom``...).
        measure: what ``value`` is (``ln_ic50``, ``auc``, ...).
        sensitive_if: ``"low"`` when low values mean sensitive (IC50, GDSC AUC),
            ``"high"`` otherwise (CCLE activity area).
        responses: long table with columns ``cell, drug, value, label``
            (``label`` is 1 sensitive, 0 resistant, NaN unlabelled), unique pairs.
        cell_views: view name -> DataFrame (cells x features, float32).
        drug_views: view name -> DataFrame (drugs x features).
        smiles: drug -> SMILES (may be empty when a dataset gives fingerprints only).
        cell_info: per-cell metadata indexed by cell (``tissue`` at least when known).
        thresholds: per-drug binarisation thresholds shipped with the dataset.
        notes: human-readable remarks about how the data was assembled.
        label_rule: the binarisation rule that made ``label`` (see ``labels``).
        resources: prior-knowledge resources handed to a model that declared
            them (``drpkit.models.requirements.data_for_model``), by name.
        record: for user files, the spellings of ids, the matching report and
            the missing-data policy and counts (:class:`~drpkit.data.user_files.UserRecord`).
    """

    name: str
    measure: str
    sensitive_if: str
    responses: pd.DataFrame
    cell_views: dict[str, pd.DataFrame] = field(default_factory=dict)
    drug_views: dict[str, pd.DataFrame] = field(default_factory=dict)
    smiles: pd.Series = field(default_factory=lambda: pd.Series(dtype=str))
    cell_info: pd.DataFrame = field(default_factory=pd.DataFrame)
    thresholds: pd.Series | None = None
    notes: list[str] = field(default_factory=list)
    label_rule: str = "none"
    resources: dict[str, Any] = field(default_factory=dict)
    record: UserRecord | None = None

    def __post_init__(self) -> None:
        self.responses = _clean_responses(self.responses, source=self.name)

    # ----------------------------------------------------------------- basics
    @property
    def cells(self) -> np.ndarray:
        """Cells that have at least one response, sorted."""
        return np.sort(self.responses["cell"].unique())

    @property
    def drugs(self) -> np.ndarray:
        """Drugs that have at least one response, sorted."""
        return np.sort(self.responses["drug"].unique())

    def __len__(self) -> int:
        return len(self.responses)

    @property
    def label_only(self) -> bool:
        """Whether the responses are labels without values (a binary screen)."""
        return bool(len(self.responses)) and bool(self.responses["value"].isna().all())

    def __repr__(self) -> str:
        views = ",".join(self.cell_views) or "-"
        dviews = ",".join(list(self.drug_views) + (["smiles"] if len(self.smiles) else [])) or "-"
        return (f"DrugResponseData({self.name!r}, {self.measure}, {len(self.cells)} cells x "
                f"{len(self.drugs)} drugs, {len(self)} pairs, cell views [{views}], "
                f"drug views [{dviews}])")

    def subset(self, rows: np.ndarray | pd.Index | list[int]) -> DrugResponseData:
        """Same views, only the response rows ``rows`` (positional indices)."""
        sub = self.responses.iloc[np.asarray(rows, dtype=int)].reset_index(drop=True)
        return replace(self, responses=sub, notes=list(self.notes))

    def combine(self, other: DrugResponseData) -> DrugResponseData:
        """Same views, the responses of ``self`` followed by those of ``other``
        (e.g. a fold's training and validation parts); pairs must not overlap."""
        both = pd.concat([self.responses, other.responses], ignore_index=True)
        overlap = both.duplicated(["cell", "drug"])
        if overlap.any():
            cell, drug = both.loc[overlap, ["cell", "drug"]].iloc[0]
            raise DataError(f"cannot combine {self.name!r} parts: {int(overlap.sum())} pair(s) "
                            f"are in both, e.g. {cell!r} x {drug!r}")
        return replace(self, responses=both, notes=list(self.notes))

    def with_labels(self, rule: str) -> DrugResponseData:
        """Copy with labels recomputed under a binarisation rule (see ``labels``)."""
        labels = apply_label_rule(self.responses, rule, self.sensitive_if, self.thresholds)
        responses = self.responses.assign(label=labels.to_numpy())
        return replace(self, responses=responses, notes=[*self.notes, f"labels: {rule}"],
                       label_rule=rule)

    def with_fold_labels(self, train_rows: np.ndarray,
                         parts: list[np.ndarray]) -> DrugResponseData:
        """Copy whose labels are refitted on ``train_rows`` (see ``labels.fold_labels``).

        Rules that need no fitting return ``self`` unchanged.
        """
        labels = fold_labels(self.responses, self.label_rule, self.sensitive_if, train_rows,
                             parts)
        if labels is None:
            return self
        return replace(self, responses=self.responses.assign(label=labels),
                       notes=[*self.notes, "labels fitted on the fold's training pairs"])

    def cell_view(self, name: str) -> pd.DataFrame:
        """Cells x features matrix of view ``name`` (raises listing available views)."""
        if name not in self.cell_views:
            raise DataError(f"dataset {self.name!r} has no cell view {name!r}; "
                            f"available: {sorted(self.cell_views)}")
        return self.cell_views[name]

    def drug_view(self, name: str, **params) -> pd.DataFrame:
        """Drugs x features matrix: a stored view, or fingerprints derived from SMILES.

        Derived fingerprints (``morgan``, ``pubchem``, ``maccs``) are computed once
        and memoised in ``drug_views`` under ``name`` (plus parameters).
        """
        key = name if not params else f"{name}:{sorted(params.items())}"
        if key in self.drug_views:
            return self.drug_views[key]
        if not len(self.smiles):
            raise DataError(f"dataset {self.name!r} has no drug view {name!r} and no SMILES "
                            f"to derive it from; available: {sorted(self.drug_views)}")
        view = _fingerprints(self.smiles, name, params)
        self.drug_views[key] = view
        return view

    def resource(self, name: str) -> Any:
        """A prior-knowledge resource the model declared (see ``requirements``)."""
        if name not in self.resources:
            raise DataError(f"resource {name!r} was not handed to this model: declare it in "
                            f"the model's ``resources`` (dataset {self.name!r} carries "
                            f"{sorted(self.resources) or 'none'})")
        return self.resources[name]

    def info(self) -> dict:
        """Counts a user wants before training: cells, drugs, pairs, missingness, balance."""
        r = self.responses
        n_cells, n_drugs = r["cell"].nunique(), r["drug"].nunique()
        labelled = r["label"].dropna()
        return {
            "dataset": self.name,
            "measure": self.measure,
            "sensitive_if": self.sensitive_if,
            "cells": n_cells,
            "drugs": n_drugs,
            "pairs": len(r),
            "missing_fraction": round(1.0 - len(r) / max(n_cells * n_drugs, 1), 4),
            "value_mean": round(float(r["value"].mean()), 4),
            "value_sd": round(float(r["value"].std()), 4),
            "labelled_pairs": len(labelled),
            "sensitive_fraction": round(float(labelled.mean()), 4) if len(labelled) else None,
            "cell_views": {k: list(v.shape) for k, v in self.cell_views.items()},
            "drug_views": {k: list(v.shape) for k, v in self.drug_views.items()},
            "drugs_with_smiles": int(r["drug"].drop_duplicates().isin(self.smiles.index).sum()),
            "tissues": int(self.cell_info["tissue"].nunique()) if "tissue" in self.cell_info else 0,
            "notes": list(self.notes),
        }

    # --------------------------------------------------------- bring your own
    @classmethod
    def from_files(cls, responses: str | Path, expression: str | Path | None = None,
                   drugs: str | Path | None = None, *, cnv: str | Path | None = None,
                   mutation: str | Path | None = None, cell_info: str | Path | None = None,
                   name: str = "custom", measure: str = "value", sensitive_if: str = "low",
                   label_rule: str | None = None, cell_col: str = "cell",
                   drug_col: str = "drug", value_col: str = "value", on_missing: str = "error",
                   impute: str = "none", defer_missing: bool = False) -> DrugResponseData:
        """Build a dataset from user files (CSV, TSV or Parquet).

        Args:
            responses: long table with columns ``cell``, ``drug``, ``value``
                (names configurable); an optional ``label`` column is kept when
                ``label_rule='given'``. Without ``value``, a ``label`` column
                (1 sensitive, 0 resistant) makes a label-only dataset.
            expression: cells x genes matrix, first column = cell id.
            drugs: table with columns ``drug`` and ``smiles``; every SMILES must parse.
            cnv, mutation: optional further cell views, same layout as expression.
            cell_info: optional table with a ``cell`` column and e.g. ``tissue``.
            label_rule: binarisation rule; default ``zscore`` (``given`` for label-only).
            on_missing: ``"error"`` (default) or ``"drop"``: what happens to pairs
                whose cell has no (complete) row in a cell file or whose drug
                has no SMILES.
            impute: ``"median"`` keeps missing cell-file values and fills them
                per fold from the training cells (see :mod:`drpkit.data.user_files`).
            defer_missing: keep pairs lacking features for a transfer to resolve.

        Cell ids are normalised (``'22Rv1'`` -> ``22RV1``) in every file, drugs
        joined by normalised name; ``record`` keeps the original spellings and
        the matching report (:mod:`drpkit.data.user_files`).

        Raises:
            DataError: naming the file and the offending row or id, for missing
                columns, NaN values, cells without expression, drugs without a
                SMILES or with an unparsable one. Duplicate pairs are averaged
                with a warning.
        """
        return load_user_files(
            responses, {"expression": expression, "cnv": cnv, "mutation": mutation}, drugs,
            cell_info, name=name, measure=measure, sensitive_if=sensitive_if,
            label_rule=label_rule, cell_col=cell_col, drug_col=drug_col, value_col=value_col,
            on_missing=on_missing, impute=impute, defer_missing=defer_missing)


_FINGERPRINT_CACHE: dict[tuple, pd.DataFrame] = {}


def _fingerprints(smiles: pd.Series, name: str, params: dict) -> pd.DataFrame:
    """Fingerprints of ``smiles``, memoised per process by content: folds and the
    per-model copies of a dataset (``data_for_model``) share one computation
    (PubChem keys take seconds for a few hundred drugs)."""
    from drpkit.features import drug_fingerprints

    key = (name, tuple(sorted(params.items())), tuple(smiles.index), tuple(smiles.to_numpy()))
    if key not in _FINGERPRINT_CACHE:
        if len(_FINGERPRINT_CACHE) >= 32:
            _FINGERPRINT_CACHE.pop(next(iter(_FINGERPRINT_CACHE)))
        _FINGERPRINT_CACHE[key] = drug_fingerprints(smiles, name, **params)
    return _FINGERPRINT_CACHE[key]


def _clean_responses(table: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Validate a long response table; average duplicate pairs with a warning."""
    require_columns(table, ["cell", "drug", "value"], path=source)
    table = table.copy()
    if "label" not in table:
        table["label"] = np.nan
    table["cell"] = table["cell"].astype(str)
    table["drug"] = table["drug"].astype(str)
    values = pd.to_numeric(table["value"], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float)))
    labels = pd.to_numeric(table["label"], errors="coerce")
    if len(bad) == len(table) and labels.isin([0.0, 1.0]).all():
        bad = bad[:0]  # a label-only screen: every pair labelled, none with a value
    if len(bad):
        first = bad[:5]
        where = "; ".join(f"row {i + 1} (cell {table['cell'].iat[i]!r}, drug "
                          f"{table['drug'].iat[i]!r}, value {_plain(table['value'].iat[i])!r})"
                          for i in first)
        raise DataError(f"{source}: {len(bad)} response value(s) are NaN or not numbers, "
                        f"e.g. {where}. Remove those rows or fill them in.")
    table["value"] = values.astype(float)
    table["label"] = pd.to_numeric(table["label"], errors="coerce").astype(float)
    duplicated = table.duplicated(["cell", "drug"], keep=False)
    if duplicated.any():
        example = table.loc[duplicated, ["cell", "drug"]].iloc[0]
        n_pairs = table.loc[duplicated, ["cell", "drug"]].drop_duplicates().shape[0]
        warnings.warn(f"{source}: {n_pairs} duplicated cell-drug pair(s) (e.g. "
                      f"{example['cell']!r} x {example['drug']!r}) were averaged",
                      stacklevel=3)
        table = (table.groupby(["cell", "drug"], as_index=False, sort=False)
                 .agg(value=("value", "mean"), label=("label", "mean")))
        table.loc[table["label"].notna(), "label"] = (table["label"] >= 0.5).astype(float)
    return table[RESPONSE_COLUMNS].reset_index(drop=True)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python one (``nan``, not ``np.float64(nan)``, in messages)."""
    return value.item() if isinstance(value, np.generic) else value


def read_cell_matrix(path: str | Path) -> pd.DataFrame:
    """Cells x features matrix (first column = cell id), numeric, one row per cell,
    normalised cell ids, no missing or non-finite value (see
    :func:`drpkit.data.user_files.read_cell_matrix`)."""
    return read_user_matrix(path)[0]


def read_smiles_table(path: str | Path) -> pd.Series:
    """drug -> SMILES from a table with columns drug, smiles; every SMILES must parse."""
    from drpkit.features import parse_smiles

    table = read_table(path)
    require_columns(table, ["drug", "smiles"], path=path)
    table["drug"] = table["drug"].astype(str).str.strip()
    for row, (drug, smi) in enumerate(zip(table["drug"], table["smiles"], strict=True)):
        if not isinstance(smi, str) or not smi.strip():
            raise DataError(f"{path}: row {row + 1}: drug {drug!r} has no SMILES")
        try:
            parse_smiles(smi, drug)
        except DataError as exc:
            raise DataError(f"{path}: row {row + 1}: {exc}") from None
    return table.drop_duplicates("drug").set_index("drug")["smiles"]
