"""Bring-your-own data: every bad input gets a clear error naming file and row/id."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from drpkit.data import DrugResponseData
from drpkit.errors import DataError


@pytest.fixture
def files(tmp_path, small):
    """A real small subset written as user files (CSV responses, TSV expression)."""
    r = small.responses[["cell", "drug", "value"]]
    responses = tmp_path / "responses.csv"
    r.to_csv(responses, index=False)
    expression = tmp_path / "expression.tsv"
    small.cell_view("expression").loc[small.cells].iloc[:, :200].to_csv(expression, sep="\t")
    drugs = tmp_path / "drugs.csv"
    pd.DataFrame({"drug": small.drugs,
                  "smiles": small.smiles.loc[small.drugs].to_numpy()}).to_csv(drugs, index=False)
    return {"responses": responses, "expression": expression, "drugs": drugs, "table": r}


def test_round_trip(files, small):
    data = DrugResponseData.from_files(files["responses"], files["expression"], files["drugs"])
    assert len(data) == len(small)
    assert data.cell_view("expression").shape == (len(small.cells), 200)
    assert data.responses["label"].notna().all()


def test_missing_column(files, tmp_path):
    bad = tmp_path / "bad.csv"
    files["table"].drop(columns="value").to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"bad\.csv.*missing column.*value"):
        DrugResponseData.from_files(bad, files["expression"], files["drugs"])


def test_nan_response_names_row(files, tmp_path):
    table = files["table"].copy()
    table.loc[7, "value"] = np.nan
    bad = tmp_path / "nan.csv"
    table.to_csv(bad, index=False)
    with pytest.raises(DataError, match=rf"nan\.csv.*row 8 \(cell '{table.loc[7, 'cell']}'"):
        DrugResponseData.from_files(bad, files["expression"], files["drugs"])


def test_cell_without_expression(files, tmp_path):
    table = files["table"].copy()
    table.loc[0, "cell"] = "NOSUCHCELL"
    bad = tmp_path / "cells.csv"
    table.to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"expression\.tsv.*NOSUCHCELL"):
        DrugResponseData.from_files(bad, files["expression"], files["drugs"])


def test_unparsable_smiles_names_drug_and_row(files, tmp_path):
    drugs = pd.read_csv(files["drugs"])
    drugs.loc[3, "smiles"] = "C1CC(N"
    bad = tmp_path / "drugs_bad.csv"
    drugs.to_csv(bad, index=False)
    with pytest.raises(DataError, match=rf"drugs_bad\.csv: row 4.*{drugs.loc[3, 'drug']}"):
        DrugResponseData.from_files(files["responses"], files["expression"], bad)


def test_duplicate_pairs_are_averaged_with_warning(files, tmp_path):
    table = files["table"]
    dup = pd.concat([table, table.iloc[[0]].assign(value=table["value"].iloc[0] + 2.0)])
    path = tmp_path / "dup.csv"
    dup.to_csv(path, index=False)
    with pytest.warns(UserWarning, match="1 duplicated cell-drug pair"):
        data = DrugResponseData.from_files(path, files["expression"], files["drugs"])
    first = data.responses.set_index(["cell", "drug"]).loc[
        (table["cell"].iloc[0], table["drug"].iloc[0]), "value"]
    assert first == pytest.approx(table["value"].iloc[0] + 1.0)
    assert len(data) == len(table)


def test_non_numeric_expression(files, tmp_path):
    matrix = pd.read_csv(files["expression"], sep="\t", index_col=0)
    matrix = matrix.astype(object)
    matrix.iloc[2, 5] = "high"
    bad = tmp_path / "expr_bad.csv"
    matrix.to_csv(bad)
    with pytest.raises(DataError, match=rf"expr_bad\.csv.*{matrix.index[2]}"):
        DrugResponseData.from_files(files["responses"], bad, files["drugs"])


def test_unknown_file_type(tmp_path):
    path = tmp_path / "responses.xlsx"
    path.write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        DrugResponseData.from_files(path)


def test_no_warning_for_clean_file(files):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DrugResponseData.from_files(files["responses"], files["expression"], files["drugs"])
