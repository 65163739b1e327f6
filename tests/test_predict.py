"""``drpkit predict`` on a user's files: missing genes, scale, renamed drugs, bad outputs.

Each test targets a defect of the old ``predict``, which filled missing genes
with NaN, wrote all-NaN (or constant) predictions with exit code 0, never
looked at the file's scale and treated a known drug under another name as new.
The runs are trained here on real GDSC2 responses cut to a small subset.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli as drpkit

from drpkit.errors import DataError
from drpkit.predict import (
    REFERENCE_FILE,
    check_outputs,
    expression_reference,
    predict_run,
    scale_check,
)

pytestmark = pytest.mark.integration




@pytest.fixture(scope="module")
def files(tmp_path_factory, small):
    """User files cut from the real subset: training cells, and 12 other cells."""
    folder = tmp_path_factory.mktemp("predict")
    cells = small.cells
    train_cells, new_cells = cells[:-12], cells[-12:]
    rows = small.responses["cell"].isin(train_cells)
    small.responses.loc[rows, ["cell", "drug", "value"]].to_csv(folder / "responses.csv",
                                                                 index=False)
    expression = small.cell_view("expression")
    expression.loc[train_cells].to_csv(folder / "expression.csv")
    new = expression.loc[new_cells].copy()
    new.index = [f"NEW{i}" for i in range(len(new))]
    new.to_csv(folder / "new_cells.csv")
    pd.DataFrame({"drug": small.drugs, "smiles": small.smiles.loc[small.drugs].to_numpy()}) \
        .to_csv(folder / "drugs.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def ridge_run(files, tmp_path_factory):
    """A ridge model fitted on every pair (``--split none``) of the user files."""
    from drpkit.cli import app

    out = tmp_path_factory.mktemp("runs") / "ridge"
    app(["train", "--model", "ridge", "--responses", str(files / "responses.csv"),
         "--expression", str(files / "expression.csv"), "--drugs", str(files / "drugs.csv"),
         "--split", "none", "--out", str(out), "-p", "n_genes=500", "-p", "cell_components=16"],
        standalone_mode=False)
    return out


def test_train_split_none_keeps_a_model_and_reference(ridge_run):
    metrics = json.loads((ridge_run / "metrics.json").read_text())
    config = json.loads((ridge_run / "config.json").read_text())
    assert config["split"] == "none" and metrics["scored_on"] == "validation"
    assert metrics["pcc"] > 0.5
    reference = pd.read_parquet(ridge_run / REFERENCE_FILE)
    assert {"mean", "sd", "median"} <= set(reference.columns)


def test_one_fold_is_a_clear_error_not_an_empty_split(monkeypatch, capsys, files, tmp_path):
    code, _, err = drpkit(monkeypatch, capsys, "train", "--model", "ridge", "--responses",
                          files / "responses.csv", "--expression", files / "expression.csv",
                          "--drugs", files / "drugs.csv", "--folds", "1", "--out", tmp_path / "r")
    assert code == 2 and "at least 2 folds" in err and "split 'none'" in err
    assert not (tmp_path / "r").exists()


def test_missing_genes_are_imputed_and_counted(ridge_run, files, tmp_path):
    new = pd.read_csv(files / "new_cells.csv", index_col=0)
    model_genes = pd.read_parquet(ridge_run / REFERENCE_FILE).index
    from drpkit.models import load_model

    read = load_model(ridge_run / "model").input_genes()["expression"]
    dropped = read[:40]  # 8% of the 500 genes the model reads
    new.drop(columns=dropped).to_csv(tmp_path / "partial.csv")
    outcome = predict_run(ridge_run, tmp_path / "partial.csv")
    values = outcome.predictions["value"]
    assert np.isfinite(values).all() and np.isfinite(outcome.predictions["score"]).all()
    assert outcome.report["genes"]["genes_missing"] == 40
    assert outcome.report["genes"]["genes_read_by_model"] == 500
    assert len(model_genes) > 500
    # the prediction moves towards, but is not, the one with every gene
    full = predict_run(ridge_run, files / "new_cells.csv").predictions["value"]
    assert 0 < np.abs(values - full).max() and np.corrcoef(values, full)[0, 1] > 0.9
    with pytest.raises(DataError, match="lacks 40 of the 500 genes"):
        predict_run(ridge_run, tmp_path / "partial.csv", missing_genes="error")


def test_too_many_missing_genes_are_refused_with_exit_code(monkeypatch, capsys, ridge_run,
                                                            files, tmp_path):
    from drpkit.models import load_model

    read = load_model(ridge_run / "model").input_genes()["expression"]
    new = pd.read_csv(files / "new_cells.csv", index_col=0)
    new.drop(columns=read[:150]).to_csv(tmp_path / "sparse.csv")  # 30% missing
    out = tmp_path / "pred.csv"
    code, _, err = drpkit(monkeypatch, capsys, "predict", ridge_run, "--expression",
                          tmp_path / "sparse.csv", "--out", out)
    assert code == 2 and "lacks 150 of the 500 genes" in err and "30%" in err
    assert not out.exists()
    code, stdout, _ = drpkit(monkeypatch, capsys, "predict", ridge_run, "--expression",
                             tmp_path / "sparse.csv", "--out", out, "--max-missing", "0.5")
    assert code == 0 and "150 missing" in stdout and out.exists()


def test_non_finite_predictions_are_an_error_naming_the_cell(monkeypatch, capsys, ridge_run,
                                                             files, tmp_path):
    new = pd.read_csv(files / "new_cells.csv", index_col=0)
    new.iloc[3, :] = np.inf  # accepted by the reader, poisons every prediction of NEW3
    new.to_csv(tmp_path / "inf.csv")
    out = tmp_path / "pred.csv"
    code, _, err = drpkit(monkeypatch, capsys, "predict", ridge_run, "--expression",
                          tmp_path / "inf.csv", "--out", out)
    assert code == 2 and "not finite" in err and "NEW3" in err
    assert not out.exists()


def test_constant_predictions_per_drug_are_warned_about(ridge_run):
    from drpkit.models import load_model

    model = load_model(ridge_run / "model")
    frame = pd.DataFrame({"cell": ["A", "B", "A", "B"], "drug": ["x", "x", "y", "y"],
                          "value": [1.0, 1.0, 2.0, 3.0], "score": [0.1, 0.2, 0.3, 0.4]})
    warnings = check_outputs(frame, model)
    assert len(warnings) == 1 and "'x'" in warnings[0] and "value" in warnings[0]
    naive = load_model(ridge_run / "model")
    naive.input_genes = dict  # a model reading no cell features may be constant
    assert check_outputs(frame, naive) == []


def test_file_on_another_scale_is_flagged_and_standardised(monkeypatch, capsys, ridge_run,
                                                            files, tmp_path):
    new = pd.read_csv(files / "new_cells.csv", index_col=0)
    (2.0 ** (3 * new + 8)).to_csv(tmp_path / "linear.csv")  # un-logged, rescaled values
    out = tmp_path / "pred.csv"
    code, _, err = drpkit(monkeypatch, capsys, "predict", ridge_run, "--expression",
                          tmp_path / "linear.csv", "--out", out)
    assert code == 0 and "another scale" in err and "--standardise within" in err
    code, _, err = drpkit(monkeypatch, capsys, "predict", ridge_run, "--expression",
                          tmp_path / "linear.csv", "--out", out, "--standardise", "within")
    assert code == 0 and "another scale" not in err
    meta = json.loads(out.with_name("pred.meta.json").read_text())
    assert meta["standardise"] == "within" and meta["scale_check"]["flagged"]
    # the file on its own scale gives no warning
    ok = scale_check(new, pd.read_parquet(ridge_run / REFERENCE_FILE))
    assert not ok["flagged"] and ok["location_shift_sd"] < 1


def test_standardise_within_maps_onto_training_moments(small):
    expression = small.cell_view("expression").iloc[:, :50]
    reference = expression_reference(expression, small.cells[:100])
    from drpkit.predict import standardise_within

    shifted = 5 * expression.iloc[100:] + 3
    mapped = standardise_within(shifted, reference, "file")
    assert np.allclose(mapped.mean().to_numpy(), reference["mean"].to_numpy(), atol=1e-4)
    assert np.allclose(mapped.std().to_numpy(), reference["sd"].to_numpy(), rtol=1e-3)


def test_renamed_known_drug_is_matched_by_structure(ridge_run, files, tmp_path, small):
    drug = small.drugs[0]
    pd.DataFrame({"drug": ["MyCompound-7"], "smiles": [small.smiles[drug]]}) \
        .to_csv(tmp_path / "renamed.csv", index=False)
    renamed = predict_run(ridge_run, files / "new_cells.csv", tmp_path / "renamed.csv")
    assert set(renamed.predictions["drug"]) == {"MyCompound-7"}  # the user's spelling
    assert renamed.report["drugs"]["matches"] == {
        "MyCompound-7": {"training_drug": drug, "rule": "structure"}}
    original = predict_run(ridge_run, files / "new_cells.csv").predictions
    original = original[original["drug"] == drug].set_index("cell")["value"]
    mine = renamed.predictions.set_index("cell")["value"]
    assert np.allclose(mine.loc[original.index], original)


def test_new_cells_and_drugs_are_marked_by_what_the_run_trained_on(ridge_run, files, tmp_path,
                                                                    small):
    known = small.drugs[0]
    pd.DataFrame({"drug": ["MyCompound-7", "Aspirin"],
                  "smiles": [small.smiles[known], "CC(=O)OC1=CC=CC=C1C(=O)O"]}) \
        .to_csv(tmp_path / "mixed.csv", index=False)
    seen_cells = predict_run(ridge_run, drugs=tmp_path / "mixed.csv")
    pred = seen_cells.predictions
    assert not pred["new_cell"].any()  # the run's own cells
    assert pred.groupby("drug")["new_drug"].all().to_dict() == {"Aspirin": True,
                                                                 "MyCompound-7": False}
    assert seen_cells.report["novelty"] == {"new_cell_pairs": 0,
                                            "new_drug_pairs": int((pred["drug"] == "Aspirin").sum())}
    new_cells = predict_run(ridge_run, files / "new_cells.csv").predictions
    assert new_cells["new_cell"].all() and not new_cells["new_drug"].any()
