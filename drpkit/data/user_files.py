"""A user's own files as they come: spellings, label-only screens, gaps.

What :meth:`DrugResponseData.from_files` (and so ``--responses``) accepts:

* **Label-only responses.** A responses file with a ``label`` column (1
  sensitive, 0 resistant; ``true``/``false`` too) and no ``value`` column is a
  binary screen: labels are used as given (``--labels given``), ``value`` is
  NaN, classifiers train on it, and it can be a transfer target scored by
  AUROC / AUPRC / MCC. Regressors cannot train on it (they say so).
* **Ids as users spell them.** Cells are keyed by
  :func:`~drpkit.data.ids.normalise_cell_name` in the responses, every cell
  matrix and the cell-information table alike (``'22Rv1'``, ``' a673 '``,
  ``'23132/87'`` become ``22RV1``, ``A673``, ``2313287``, the keys of the
  built-in datasets); drugs of the responses and of the SMILES table are
  joined by :func:`~drpkit.data.ids.drug_key`. The first spelling of each id
  is kept (:class:`UserRecord`) and written back in outputs; what matched
  by which rule is reported (:class:`~drpkit.data.matching.MatchReport`).
* **Gaps.** A cell without a row in a cell matrix, a drug without a SMILES
  (when a drugs file is given), a missing value in a matrix (empty, NaN,
  ``inf`` or a magnitude above 1e30, which no measurement has) are errors by
  default (``on_missing="error"``). ``on_missing="drop"`` drops the pairs they
  affect and counts them; ``impute="median"`` keeps cells with missing
  values and fills each value, per fold, with the median of that gene over
  the fold's *training* cells (:func:`impute_for_training`), so a test cell's
  features never shape the value a training cell gets. A transfer target
  defers these checks (``defer_missing``) until its cells have had the chance
  to borrow the source dataset's features (:mod:`drpkit.experiment.transfer`).
* **Duplicate gene columns** (the same symbol twice, as after mapping probes
  to genes) are averaged, with a warning naming the genes.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from drpkit.data.ids import drug_key, name_list, normalise_cell_name
from drpkit.data.matching import MatchReport, match_ids
from drpkit.data.readers import read_table, require_columns
from drpkit.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from drpkit.data.container import DrugResponseData

OnMissing = Literal["error", "drop"]
Impute = Literal["none", "median"]
# a value of larger magnitude is a placeholder or an overflow, not a measurement
ABSURD = 1e30
CELL_VIEW_NAMES = ("expression", "cnv", "mutation")
_TRUE = {"1", "1.0", "true", "yes", "sensitive"}
_FALSE = {"0", "0.0", "false", "no", "resistant"}


@dataclass
class UserRecord:
    """What reading a user's files did, kept with the dataset (``data.record``).

    Attributes:
        on_missing: ``"error"`` or ``"drop"`` (see the module docstring).
        impute: ``"none"`` or ``"median"``.
        cells: cell id -> the spelling of the responses file.
        drugs: drug id -> the spelling of the responses file.
        reports: how the responses' ids were found in the other files.
        counts: pairs, cells and drugs dropped, missing values (imputed per fold).
        pending_cells: cells without a complete row in some given cell view,
            left for a transfer to resolve (``defer_missing``); else empty.
        pending_drugs: drugs without a SMILES (a drugs file was given), likewise.
        drugs_file: whether a drugs (SMILES) file was given.
    """

    on_missing: str = "error"
    impute: str = "none"
    cells: dict[str, str] = field(default_factory=dict)
    drugs: dict[str, str] = field(default_factory=dict)
    reports: list[MatchReport] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    pending_cells: list[str] = field(default_factory=list)
    pending_drugs: list[str] = field(default_factory=list)
    drugs_file: bool = False

    def lines(self) -> list[str]:
        """The matching report and the counts, for a terminal."""
        out = [line for report in self.reports for line in report.lines()]
        counts = {k: v for k, v in self.counts.items() if v}
        if counts:
            out.append("missing data: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                                     for k, v in counts.items())
                       + f" (on_missing={self.on_missing}, impute={self.impute})")
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary (a run's ``config.json``, a transfer task's result)."""
        return {"on_missing": self.on_missing, "impute": self.impute, "counts": dict(self.counts),
                "matching": [r.as_dict() for r in self.reports]}


def check_policy(on_missing: str, impute: str) -> None:
    """Raise :class:`DataError` for an unknown missing-data policy."""
    if on_missing not in ("error", "drop"):
        raise DataError(f"on_missing must be 'error' or 'drop', got {on_missing!r}")
    if impute not in ("none", "median"):
        raise DataError(f"impute must be 'none' or 'median', got {impute!r}")


# ------------------------------------------------------------------ readers
def read_responses(path: str | Path, cell_col: str = "cell", drug_col: str = "drug",
                   value_col: str = "value"
                   ) -> tuple[pd.DataFrame, dict[str, str], dict[str, str], bool]:
    """A responses file with normalised ids: ``(table, cell spellings, drug spellings,
    label_only)``; ``table`` has ``cell, drug, value, label`` (value NaN when label-only)."""
    table = read_table(path)
    label_only = value_col not in table and "label" in table
    require_columns(table, [cell_col, drug_col] + ([] if label_only else [value_col]),
                    path=f"{path} (give a '{value_col}' column, or a 'label' column of 1 "
                         "sensitive / 0 resistant for a label-only screen)")
    labels: Any = np.nan
    if label_only:
        labels = _labels(table["label"], path)
    elif "label" in table:  # used by --labels given only
        labels = pd.to_numeric(table["label"], errors="coerce").to_numpy(float)
    out = pd.DataFrame({"value": np.nan if label_only else table[value_col].to_numpy(),
                        "label": labels}, index=table.index)
    cells, cell_spell = _ids(table[cell_col], normalise_cell_name, path, "cell")
    drugs, drug_spell = _ids(table[drug_col], drug_key, path, "drug")
    out.insert(0, "cell", cells)
    out.insert(1, "drug", drugs)
    return out.reset_index(drop=True), cell_spell, drug_spell, label_only


def _ids(column: pd.Series, key, path, kind: str) -> tuple[list[str], dict[str, str]]:
    """Ids of a column (cells: the normalised name; drugs: the first spelling, trimmed,
    of each :func:`drug_key`) and id -> the spelling first seen."""
    given = column.astype(str).where(column.notna(), "")
    ids: list[str] = []
    spelling: dict[str, str] = {}
    by_key: dict[str, str] = {}
    for row, name in enumerate(given):
        k = key(name)
        if not k:
            raise DataError(f"{path}: row {row + 1} has no {kind} name ({column.iat[row]!r})")
        ident = k if kind == "cell" else by_key.setdefault(k, name.strip())
        spelling.setdefault(ident, name)
        ids.append(ident)
    return ids, spelling


def _labels(column: pd.Series, path) -> np.ndarray:
    """0/1 floats from 1/0, true/false, yes/no, sensitive/resistant (a label-only
    file's every row needs one)."""
    text = column.astype(str).str.strip().str.lower()
    labels = np.where(text.isin(_TRUE), 1.0, np.where(text.isin(_FALSE), 0.0, np.nan))
    bad = np.flatnonzero(np.isnan(labels))
    if len(bad):
        rows = ", ".join(f"row {i + 1} ({column.iat[i]!r})" for i in bad[:5])
        raise DataError(f"{path}: {len(bad)} label(s) are missing or not 1 (sensitive) / 0 "
                        f"(resistant), e.g. {rows}")
    return labels


def read_cell_matrix(path: str | Path, *, missing: str = "error"
                     ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Cells x features (first column = cell id): ``(matrix, id -> spelling)``.

    Cell ids are normalised; two rows naming one cell are an error; duplicate
    columns are averaged with a warning; text is an error. Missing values
    (empty, NaN, inf, |x| > 1e30) are an error naming the first one when
    ``missing="error"``, else kept as NaN.
    """
    frame = read_table(path, index_col=0)
    header = _raw_header(path)
    if header is not None and len(header) == frame.shape[1]:
        frame.columns = pd.Index(header)  # pandas renames a repeated 'TP53' to 'TP53.1'
    numeric = frame.apply(pd.to_numeric, errors="coerce").astype(np.float64)
    text = numeric.isna().to_numpy() & frame.notna().to_numpy()
    if text.any():
        row, col = np.argwhere(text)[0]
        raise DataError(f"{path}: non-numeric value {frame.iat[row, col]!r} at cell "
                        f"{str(frame.index[row])!r}, column {str(frame.columns[col])!r}")
    values = numeric.to_numpy(copy=True)
    values[~np.isfinite(values) | (np.abs(values) > ABSURD)] = np.nan
    numeric = pd.DataFrame(values, index=frame.index, columns=frame.columns.astype(str))
    duplicated = numeric.columns[numeric.columns.duplicated()].unique()
    if len(duplicated):
        warnings.warn(f"{path}: {len(duplicated)} gene column(s) appear more than once and were "
                      f"averaged: {name_list(duplicated, 10)}", stacklevel=3)
        numeric = numeric.T.groupby(level=0, sort=False).mean().T
    gaps = np.isnan(numeric.to_numpy())
    if gaps.any() and missing == "error":
        row, col = np.argwhere(gaps)[0]
        raise DataError(
            f"{path}: {int(gaps.sum())} missing or not finite value(s) (empty, NaN, inf or "
            f"|x| > 1e30) in {int(gaps.any(axis=1).sum())} cell(s), e.g. at cell "
            f"{str(frame.index[row])!r}, column {str(numeric.columns[col])!r}; fill them in, "
            "or use --impute median or --on-missing drop")
    spelling: dict[str, str] = {}
    ids = []
    for name in frame.index.astype(str):
        ident = normalise_cell_name(name)
        if ident in spelling:
            raise DataError(f"{path}: cells {spelling[ident]!r} and {name!r} are the same cell "
                            f"({ident!r} once normalised); keep one row per cell")
        spelling[ident] = name
        ids.append(ident)
    numeric.index = pd.Index(ids, name=frame.index.name)
    return numeric.astype(np.float32), spelling


def _raw_header(path: str | Path) -> list[str] | None:
    """The column names of a CSV/TSV as written (without the index column)."""
    name = str(path).lower()
    if not name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")):
        return None
    sep = "," if ".csv" in name else "\t"
    try:
        row = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str).iloc[0]
    except (ValueError, OSError, pd.errors.ParserError):
        return None
    return [str(v) for v in row.iloc[1:]]


# --------------------------------------------------------------------- load
def load_user_files(responses: str | Path, views: dict[str, str | Path | None],
                    drugs: str | Path | None = None, cell_info: str | Path | None = None, *,
                    name: str = "custom", measure: str = "value", sensitive_if: str = "low",
                    label_rule: str | None = None, cell_col: str = "cell",
                    drug_col: str = "drug", value_col: str = "value",
                    on_missing: str = "error", impute: str = "none",
                    defer_missing: bool = False) -> DrugResponseData:
    """The body of :meth:`DrugResponseData.from_files` (see the module docstring)."""
    from drpkit.data.container import DrugResponseData, _clean_responses, read_smiles_table

    check_policy(on_missing, impute)
    table, cell_spell, drug_spell, label_only = read_responses(responses, cell_col, drug_col,
                                                               value_col)
    table = _clean_responses(table, source=str(responses))  # errors name the file
    if label_only:
        if label_rule not in (None, "given"):
            raise DataError(f"{responses}: has labels only (no '{value_col}' column), so its "
                            f"labels are used as given; drop --labels {label_rule} (or pass "
                            "--labels given)")
        label_rule, measure = "given", "label"
    record = UserRecord(on_missing=on_missing, impute=impute, cells=cell_spell,
                        drugs=drug_spell, drugs_file=drugs is not None)
    given_cells = [cell_spell[c] for c in dict.fromkeys(table["cell"])]
    keep_gaps = impute == "median" or on_missing == "drop" or defer_missing
    cell_views, missing_cells = {}, set()
    for view, path in views.items():
        if path is None:
            continue
        matrix, spelling = read_cell_matrix(path, missing="keep" if keep_gaps else "error")
        gaps = matrix.isna().any(axis=1)
        if gaps.any():
            record.counts[f"{view}_values_missing"] = int(matrix.isna().to_numpy().sum())
            if impute != "median":  # an incomplete row is no row
                matrix = matrix.loc[~gaps]
        found, report = match_ids(f"cells: {Path(responses).name} -> {Path(path).name}",
                                  given_cells, matrix.index, normalise_cell_name, spelling)
        if gaps.any() and impute != "median":
            report.notes.append(f"{int(gaps.sum())} row(s) with missing values set aside "
                                "(--impute median keeps them)")
        record.reports.append(report)
        missing_cells |= {normalise_cell_name(c) for c in report.unmatched}
        cell_views[view] = matrix
    smiles = pd.Series(dtype=str)
    missing_drugs: set[str] = set()
    if drugs is not None:
        table_smiles = read_smiles_table(drugs)
        found, report = match_ids(f"drugs: {Path(responses).name} -> {Path(drugs).name}",
                                  list(dict.fromkeys(table["drug"])), table_smiles.index,
                                  drug_key)
        record.reports.append(report)
        missing_drugs = set(report.unmatched)
        matched = {table_smiles.index.get_loc(v) for v in found.values()}
        extra = table_smiles.iloc[[i for i in range(len(table_smiles)) if i not in matched]]
        smiles = pd.concat([pd.Series({d: table_smiles[m] for d, m in found.items()},
                                      dtype=object), extra]).astype(str)
        smiles = smiles[~smiles.index.duplicated()]
    if defer_missing:
        record.pending_cells, record.pending_drugs = sorted(missing_cells), sorted(missing_drugs)
    else:
        table = drop_missing(table, missing_cells, missing_drugs, record,
                             where={"cell": "complete row in " + ", ".join(
                                        Path(p).name for p in views.values() if p is not None),
                                    "drug": "SMILES in " + Path(drugs or "").name},
                             source=str(responses))
    info = pd.DataFrame()
    if cell_info is not None:
        info = read_table(cell_info)
        require_columns(info, ["cell"], path=cell_info)
        info = info.assign(cell=info["cell"].map(normalise_cell_name))
        info = info.drop_duplicates("cell").set_index("cell")
    data = DrugResponseData(name=name, measure=measure, sensitive_if=sensitive_if,
                            responses=table, cell_views=cell_views, smiles=smiles,
                            cell_info=info, notes=[f"responses from {responses}"], record=record)
    rule = label_rule or "zscore"
    return data.with_labels(rule) if rule != "none" else data


def drop_missing(table: pd.DataFrame, cells: set[str], drugs: set[str], record: UserRecord,
                 *, where: dict[str, str], source: str) -> pd.DataFrame:
    """``table`` without the pairs of ``cells`` / ``drugs`` (which lack features), or
    :class:`DataError` under ``on_missing="error"``; counts go to ``record``."""
    if not cells and not drugs:
        return table
    spell = {**record.cells, **record.drugs}
    if record.on_missing == "error":
        parts = [f"{len(ids)} {kind}(s) have no {where[kind]}, e.g. "
                 f"{name_list(sorted(spell.get(i, i) for i in ids))}"
                 for kind, ids in (("cell", cells), ("drug", drugs)) if ids]
        raise DataError(f"{source}: {'; '.join(parts)}; add them, or drop their pairs with "
                        "--on-missing drop (on_missing = \"drop\" in a config)")
    affected = table["cell"].isin(cells) | table["drug"].isin(drugs)
    record.counts.update({"pairs_dropped": record.counts.get("pairs_dropped", 0)
                          + int(affected.sum()),
                          "cells_dropped": record.counts.get("cells_dropped", 0) + len(cells),
                          "drugs_dropped": record.counts.get("drugs_dropped", 0) + len(drugs)})
    if affected.all():
        raise DataError(f"{source}: --on-missing drop would drop every pair")
    return table.loc[~affected].reset_index(drop=True)


# ---------------------------------------------------------------- imputation
def view_medians(views: dict[str, pd.DataFrame], cells,
                 every_view: bool = False) -> dict[str, pd.Series]:
    """Per-feature median of ``cells`` in each view that has missing values (or in
    every view); a feature missing in all of them gets the median of the view's
    other values."""
    out = {}
    for view, frame in views.items():
        if not every_view and not frame.isna().to_numpy().any():
            continue
        rows = frame.loc[frame.index.intersection(pd.Index(cells))].to_numpy(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            median = np.nanmedian(rows, axis=0) if len(rows) else np.full(frame.shape[1], np.nan)
            overall = np.nanmedian(rows) if len(rows) and np.isfinite(rows).any() else 0.0
        out[view] = pd.Series(np.where(np.isnan(median), overall, median), index=frame.columns)
    return out


def fill_missing_values(data: DrugResponseData, medians: dict[str, pd.Series]
                        ) -> DrugResponseData:
    """Copy of ``data`` whose cell views have their NaN replaced by ``medians``."""
    views = dict(data.cell_views)
    for view, median in medians.items():
        if view in views and views[view].isna().to_numpy().any():
            frame = views[view]
            views[view] = frame.fillna(median.reindex(frame.columns).astype(np.float32))
    return replace(data, cell_views=views, notes=list(data.notes))


def impute_for_training(data: DrugResponseData, train_rows) -> DrugResponseData:
    """``data`` with missing cell-view values filled by the median of each feature
    over the cells of ``train_rows`` (a no-op unless the data was read with
    ``impute="median"``): what every fold, trial and transfer does before fitting."""
    if data.record is None or data.record.impute != "median":
        return data
    cells = data.responses["cell"].iloc[np.asarray(train_rows, dtype=int)].unique()
    medians = view_medians(data.cell_views, cells)
    return fill_missing_values(data, medians) if medians else data
