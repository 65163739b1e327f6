"""Users' own files as they come (issue 18): label-only screens, names as users spell
them, cells borrowing a source's expression, missing-data policies, several drugs
matching one source drug, duplicate gene columns, and errors that are one line with
an exit code a script can trust. Every file is written here from real GDSC2 / CCLE
subsets; every model fit is a naive model or a small ridge."""
from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli as drpkit

from drpkit.data import DrugResponseData
from drpkit.data.ids import require_ids
from drpkit.data.user_files import impute_for_training
from drpkit.errors import DataError, UnknownNameError
from drpkit.experiment.crossval import run_fold
from drpkit.experiment.grid import GridConfig
from drpkit.experiment.transfer import align_datasets, group_tables, run_transfer
from drpkit.predict import predict_run
from drpkit.splits import make_folds

pytestmark = pytest.mark.integration
RIDGE = {"n_genes": 100, "cell_components": 8}
TINY_GCN = {"n_genes": 100, "hidden": 16, "layers": [16],
            "trainer": {"max_epochs": 5, "patience": 5, "device": "cpu"}}




@pytest.fixture(scope="module")
def ccle():
    from drpkit.data import load_dataset

    return load_dataset("ccle")


def spelt(cell: str, i: int) -> str:
    """How a user might write a cell: lower case with spaces, or a hyphen inside."""
    return f" {cell.lower()} " if i % 2 else f"{cell[:2]}-{cell[2:]}"


@pytest.fixture(scope="module")
def tiny(small):
    """40 cells x 6 drugs of real GDSC2 responses (about 240 pairs)."""
    cells, drugs = small.cells[:40], small.drugs[:6]
    rows = np.flatnonzero(small.responses["cell"].isin(cells) & small.responses["drug"].isin(drugs))
    return small.subset(rows)


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny):
    """User files of ``tiny``: responses with the user's spellings of cells, an
    expression file keyed by drpkit's names (200 genes), a drugs file, a
    label-only version of the responses, and the responses spelt as drpkit does."""
    folder = tmp_path_factory.mktemp("user_files")
    r = tiny.responses
    r[["cell", "drug", "value"]].to_csv(folder / "plain.csv", index=False)
    spelling = {c: spelt(c, i) for i, c in enumerate(tiny.cells)}
    r.assign(cell=r["cell"].map(spelling))[["cell", "drug", "value"]].to_csv(
        folder / "responses.csv", index=False)
    r.assign(cell=r["cell"].map(spelling), label=r["label"].astype(int))[
        ["cell", "drug", "label"]].to_csv(folder / "labels.csv", index=False)
    tiny.cell_view("expression").loc[tiny.cells].iloc[:, :200].to_csv(folder / "expression.csv")
    pd.DataFrame({"drug": tiny.drugs, "smiles": tiny.smiles.loc[tiny.drugs].to_numpy()}) \
        .to_csv(folder / "drugs.csv", index=False)
    return folder


def load(files, responses="plain.csv", **kwargs) -> DrugResponseData:
    return DrugResponseData.from_files(files / responses, kwargs.pop("expression",
                                       files / "expression.csv"),
                                       kwargs.pop("drugs", files / "drugs.csv"), **kwargs)


# ------------------------------------------------------- 1. label-only files
def test_label_only_file_is_a_dataset_with_given_labels(files, tiny):
    # old code: "missing column(s) ['value']; found columns ['cell', 'drug', 'label']"
    data = load(files, "labels.csv")
    assert data.label_only and data.label_rule == "given" and data.measure == "label"
    assert len(data) == len(tiny) and set(data.responses["label"]) == {0.0, 1.0}
    with pytest.raises(DataError, match="labels only.*--labels zscore"):
        load(files, "labels.csv", label_rule="zscore")
    bad = pd.read_csv(files / "labels.csv").astype({"label": object})
    bad.loc[4, "label"] = "maybe"
    bad.to_csv(files / "bad_labels.csv", index=False)
    with pytest.raises(DataError, match=r"bad_labels\.csv.*row 5 \('maybe'\)"):
        load(files, "bad_labels.csv")


def test_a_classifier_trains_and_is_scored_on_labels_only(files):
    # old code: the file could not be read (missing column 'value')
    data = load(files, "labels.csv")
    result = run_fold(data, "nihgcn", make_folds(data, "random", 3, 0)[0], TINY_GCN)
    assert {"auroc", "auprc", "mcc", "drug_auroc_mean"} <= set(result.metrics)
    assert "pcc" not in result.metrics and result.predictions["y"].isna().all()
    assert np.isfinite(result.predictions["score"]).all()


def test_a_regressor_on_labels_only_says_it_needs_values(monkeypatch, capsys, files, tmp_path):
    # old code: the file could not be read at all (missing column 'value')
    data = load(files, "labels.csv")
    with pytest.raises(DataError, match="'ridge' predicts response values and needs them"):
        run_fold(data, "ridge", make_folds(data, "random", 3, 0)[0], RIDGE)
    code, _, err = drpkit(monkeypatch, capsys, "train", "--model", "naive-drug", "--responses",
                          files / "labels.csv", "--expression", files / "expression.csv",
                          "--out", tmp_path / "run")
    assert code == 2 and err.startswith("error: model 'naive-drug' predicts response values")
    assert "nihgcn" in err and len(err.strip().splitlines()) == 1


def test_label_only_target_is_scored_by_auroc_per_drug_and_per_cell(files, tiny, small, ccle):
    # old code: the target could not be read (no 'value'), and would have needed expression
    names = ccle.cell_info["cell_name"]  # CCLE's own spellings: 'CAL-27', 'Detroit562', ...
    cells = [c for c in ccle.cells if c in names.index and c in small.cell_views["expression"]
             .index][:60]
    r = ccle.responses[ccle.responses["cell"].isin(cells)]
    pd.DataFrame({"cell": r["cell"].map(names), "drug": r["drug"],
                  "label": r["label"].astype(int)}).to_csv(files / "ccle.csv", index=False)
    pd.DataFrame({"drug": ccle.drugs, "smiles": ccle.smiles.loc[ccle.drugs].to_numpy()}) \
        .to_csv(files / "ccle_drugs.csv", index=False)
    target = DrugResponseData.from_files(files / "ccle.csv", drugs=files / "ccle_drugs.csv",
                                         defer_missing=True)
    outcome = run_transfer(small, target, "ridge", RIDGE, seed=0)
    metrics, frame = outcome.metrics, outcome.predictions
    assert len(frame) == len(r) and outcome.info["cells_borrowed"] == 60
    assert {"auroc", "auprc", "mcc", "drug_auroc_mean"} <= set(metrics)
    assert "pcc" not in metrics and np.isfinite(metrics["auroc"])
    assert set(frame["cell_given"]) == set(names.loc[cells])  # the user's spelling kept
    tables = group_tables(frame, metrics["threshold"])
    assert len(tables["drug"]) == r["drug"].nunique() and "auroc" in tables["drug"]
    assert len(tables["cell"]) > 0 and tables["cell"]["given"].isin(names.to_numpy()).all()


# ------------------------------------------------ 2. names as users spell them
def test_spellings_match_normalised_ids_and_are_kept(files, tiny):
    # old code: "40 cell(s) of the responses have no expression row"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load(files, "responses.csv")
    assert sorted(data.cells) == sorted(tiny.cells)
    report = data.record.reports[0]
    assert report.rules == {"normalised name": 40} and not report.unmatched
    given = pd.read_csv(files / "responses.csv")["cell"]
    assert set(data.record.cells.values()) == set(given)  # ' a673 ' kept as written
    for names in (["22Rv1", "22RV1"], [" a673 ", "A673"], ["23132/87", "2313287"]):
        frame = pd.DataFrame({"cell": names, "drug": "x", "value": [1.0, 2.0]})
        frame.to_csv(files / "same.csv", index=False)
        with pytest.warns(UserWarning, match="1 duplicated cell-drug pair"):
            assert len(DrugResponseData.from_files(files / "same.csv", label_rule="none")) == 1


def test_train_prints_the_matching_report(monkeypatch, capsys, files, tmp_path):
    code, out, _ = drpkit(monkeypatch, capsys, "train", "--model", "naive-drug", "--responses",
                          files / "responses.csv", "--expression", files / "expression.csv",
                          "--drugs", files / "drugs.csv", "--split", "none",
                          "--out", tmp_path / "run")
    assert code == 0
    assert "cells: responses.csv -> expression.csv: 40 of 40 matched (40 by normalised name)" \
        in out
    assert "drugs: responses.csv -> drugs.csv: 6 of 6 matched (6 by same spelling)" in out


@pytest.fixture(scope="module")
def ridge_run(files, tmp_path_factory):
    from drpkit.cli import app

    out = tmp_path_factory.mktemp("runs") / "ridge"
    app(["train", "--model", "ridge", "--responses", str(files / "plain.csv"),
         "--expression", str(files / "expression.csv"), "--drugs", str(files / "drugs.csv"),
         "--split", "none", "--out", str(out), "-p", "n_genes=100", "-p", "cell_components=8"],
        standalone_mode=False)
    return out


def test_predict_reads_spellings_and_borrows_training_cells(ridge_run, tiny, files, tmp_path):
    # old code: "1 cell(s) have no expression in the file or the training data, e.g. [' a673 ']"
    cells = tiny.cells[:3]
    given = [f" {cells[0].lower()} ", cells[1][:2] + "-" + cells[1][2:], cells[2]]
    pd.DataFrame({"cell": given, "drug": [tiny.drugs[0]] * 2 + [f" {tiny.drugs[1].lower()}-"]}) \
        .to_csv(tmp_path / "pairs.csv", index=False)
    outcome = predict_run(ridge_run, pairs=tmp_path / "pairs.csv")
    assert list(outcome.predictions["cell"]) == given  # written as the user spelt them
    assert np.isfinite(outcome.predictions["value"]).all()
    cells_report, drugs_report = outcome.report["matching"]
    assert cells_report["rules"] == {"borrowing the training data's expression": 3}
    assert drugs_report["rules"] == {"same name or --drugs": 1, "normalised name": 1}
    # the same cell, spelt as drpkit does, gets the same prediction
    pd.DataFrame({"cell": list(cells), "drug": [tiny.drugs[0]] * 2 + [tiny.drugs[1]]}) \
        .to_csv(tmp_path / "plain.csv", index=False)
    plain = predict_run(ridge_run, pairs=tmp_path / "plain.csv").predictions
    np.testing.assert_allclose(outcome.predictions["value"], plain["value"])


# ------------------------------------------- 3. known cells without expression
def test_target_without_expression_borrows_source_cells_and_smiles(files, small):
    # old code: "transfer 'small' -> 'labels' needs expression in both datasets"
    target = DrugResponseData.from_files(files / "labels.csv", defer_missing=True)
    src, tgt, info = align_datasets(small, target)
    assert info["cells_borrowed"] == 40 and info["drugs_matched"] == 6
    assert info["drugs_smiles_borrowed"] == 6 and set(tgt.drugs) <= set(tgt.smiles.index)
    np.testing.assert_allclose(tgt.cell_view("expression").loc[tgt.cells].to_numpy(),
                               src.cell_view("expression").loc[tgt.cells].to_numpy())
    assert "40 by borrowing 'gdsc2' expression" in " ".join(info["matching_lines"])
    # a cell the source does not know is an error by default, dropped on request
    pd.concat([pd.read_csv(files / "labels.csv"),
               pd.DataFrame({"cell": ["NOT-A-CELL"], "drug": [small.drugs[0]], "label": [1]})]) \
        .to_csv(files / "labels_unknown.csv", index=False)
    unknown = DrugResponseData.from_files(files / "labels_unknown.csv", defer_missing=True)
    with pytest.raises(DataError, match="1 cell\\(s\\) have no expression.*'NOT-A-CELL'"):
        align_datasets(small, unknown)
    dropping = DrugResponseData.from_files(files / "labels_unknown.csv", defer_missing=True,
                                           on_missing="drop")
    _, tgt, info = align_datasets(small, dropping)
    assert info["pairs_dropped"] == 1 and "NOTACELL" not in set(tgt.cells)


# ------------------------------------------------------ 4. missing-data policies
def test_non_finite_expression_is_missing_like_nan(files, tmp_path):
    # old code: inf and 1e308 were read silently (only NaN was an error)
    matrix = pd.read_csv(files / "expression.csv", index_col=0)
    for bad in (np.inf, 1e308, np.nan):
        matrix.iloc[2, 5] = bad
        matrix.to_csv(tmp_path / "expr.csv")
        with pytest.raises(DataError, match=r"expr\.csv: 1 missing or not finite value"):
            load(files, expression=tmp_path / "expr.csv")


def test_on_missing_drop_drops_and_counts(monkeypatch, capsys, files, tiny, tmp_path):
    # old code: a hard error for the cell without expression and the drug without SMILES
    matrix = pd.read_csv(files / "expression.csv", index_col=0)
    matrix = matrix.drop(index=matrix.index[1])  # the second cell has no row
    matrix.to_csv(tmp_path / "whole.csv")
    pd.read_csv(files / "drugs.csv").iloc[1:].to_csv(tmp_path / "drugs.csv", index=False)
    with pytest.raises(DataError, match=r"1 cell\(s\) have no complete row in whole\.csv.*"
                                        r"1 drug\(s\) have no SMILES in drugs\.csv.*"
                                        "--on-missing drop"):
        load(files, expression=tmp_path / "whole.csv", drugs=tmp_path / "drugs.csv")
    matrix.iloc[0, 3] = np.nan  # and the first cell's row is incomplete
    matrix.to_csv(tmp_path / "expr.csv")
    data = load(files, expression=tmp_path / "expr.csv", drugs=tmp_path / "drugs.csv",
                on_missing="drop")
    r = tiny.responses
    lost = r["cell"].isin(tiny.cells[:2]) | (r["drug"] == tiny.drugs[0])
    assert len(data) == int((~lost).sum())
    assert data.record.counts["pairs_dropped"] == int(lost.sum())
    assert (data.record.counts["cells_dropped"], data.record.counts["drugs_dropped"]) == (2, 1)
    code, out, _ = drpkit(monkeypatch, capsys, "train", "--model", "naive-drug", "--responses",
                          files / "plain.csv", "--expression", tmp_path / "expr.csv",
                          "--drugs", tmp_path / "drugs.csv", "--on-missing", "drop",
                          "--split", "none", "--out", tmp_path / "run")
    assert code == 0 and f"pairs dropped {int(lost.sum())}" in out
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["on_missing"] == "drop"
    assert config["user_files"]["counts"]["pairs_dropped"] == int(lost.sum())


def test_impute_median_fills_from_training_cells_only(files, tiny, tmp_path):
    # old code: "non-numeric or missing value at cell ..."
    matrix = pd.read_csv(files / "expression.csv", index_col=0)
    matrix.iloc[:3, 7] = np.nan
    matrix.to_csv(tmp_path / "expr.csv")
    data = load(files, expression=tmp_path / "expr.csv", impute="median")
    assert data.record.counts["expression_values_missing"] == 3
    assert data.cell_view("expression").isna().to_numpy().sum() == 3  # kept until a fold
    fold = make_folds(data, "cell-blind", 3, 0)[0]
    filled = impute_for_training(data, fold.train).cell_view("expression")
    train_cells = data.responses["cell"].iloc[fold.train].unique()
    gene = filled.columns[7]
    expected = np.nanmedian(data.cell_view("expression").loc[train_cells, gene])
    assert filled.loc[filled.index[:3], gene].tolist() == pytest.approx([expected] * 3)
    result = run_fold(data, "ridge", fold, RIDGE)
    assert np.isfinite(result.predictions["yhat"]).all()


def test_predict_imputes_missing_values_with_the_training_median(ridge_run, tiny, tmp_path):
    from drpkit.predict import REFERENCE_FILE

    new = tiny.cell_view("expression").loc[tiny.cells[:4]].iloc[:, :200].copy()
    new.index = [f"NEW{i}" for i in range(4)]
    new.iloc[1, :5] = np.nan
    new.to_csv(tmp_path / "new.csv")
    with pytest.raises(DataError, match="5 missing or not finite value.*--impute median"):
        predict_run(ridge_run, tmp_path / "new.csv")
    outcome = predict_run(ridge_run, tmp_path / "new.csv", impute="median")
    assert outcome.report["genes"]["values_imputed"] == 5
    assert np.isfinite(outcome.predictions["value"]).all()
    reference = pd.read_parquet(ridge_run / REFERENCE_FILE)
    assert reference["median"].notna().all()


# -------------------------------------- 5. several target drugs, one source drug
def test_two_target_drugs_matching_one_source_drug_are_both_scored(files, small, tiny):
    # old code: "two 'twins' drugs match the same 'small' drug (...); give them distinct ..."
    drug = tiny.drugs[0]
    r = tiny.responses[tiny.responses["drug"] == drug]
    table = pd.concat([r.assign(drug=f"{drug} salt"), r.assign(drug=f"{drug} (batch 2)")])
    table[["cell", "drug", "value"]].to_csv(files / "twins.csv", index=False)
    pd.DataFrame({"drug": [f"{drug} salt", f"{drug} (batch 2)"],
                  "smiles": [tiny.smiles[drug]] * 2}).to_csv(files / "twins_drugs.csv",
                                                            index=False)
    target = DrugResponseData.from_files(files / "twins.csv", drugs=files / "twins_drugs.csv",
                                         defer_missing=True, name="twins")
    outcome = run_transfer(small, target, "naive-drug", seed=0)
    assert outcome.info["drugs_shared"] == {f"{drug} salt": drug, f"{drug} (batch 2)": drug}
    assert "2 'twins' drugs match" in " ".join(outcome.info["matching_lines"])
    frame = outcome.predictions
    assert len(frame) == 2 * len(r) and set(frame["novelty"]) == {"seen"}
    by_drug = frame.groupby("drug")["yhat"].first()
    assert by_drug.nunique() == 1 and len(by_drug) == 2  # both predicted as the source drug


# -------------------------------------------------------- 6. duplicate genes
def test_duplicate_gene_columns_are_averaged_with_a_warning(files, tmp_path):
    # old code: pandas renamed the second column to 'GENE.1' and both were used silently
    matrix = pd.read_csv(files / "expression.csv", index_col=0)
    genes = list(matrix.columns)
    doubled = pd.concat([matrix, matrix.iloc[:, :2] + 1.0], axis=1)
    doubled.to_csv(tmp_path / "dup.csv")
    with pytest.warns(UserWarning, match=f"2 gene column.*averaged.*'{genes[0]}', '{genes[1]}'"):
        data = load(files, expression=tmp_path / "dup.csv")
    expression = data.cell_view("expression")
    assert list(expression.columns) == genes
    np.testing.assert_allclose(expression[genes[0]].to_numpy(),
                               matrix[genes[0]].loc[expression.index].to_numpy() + 0.5,
                               rtol=1e-5)


# --------------------------------------------------- 7. errors and exit codes
def test_benchmark_exits_non_zero_when_a_task_failed(monkeypatch, capsys, files, tmp_path):
    # (already so before this issue: kept by this test)
    (tmp_path / "grid.toml").write_text(
        f'models = ["naive-drug", "ridge"]\nfolds = 2\nworkers = 1\n'
        f'[[datasets]]\nresponses = "{files / "plain.csv"}"\n'
        f'expression = "{files / "expression.csv"}"\ndrugs = "{files / "drugs.csv"}"\n'
        '[params.ridge]\ndrug_fingerprint = "no-such-fingerprint"\n')
    code, out, err = drpkit(monkeypatch, capsys, "benchmark", tmp_path / "grid.toml",
                            "--out", tmp_path / "run", "--no-report")
    assert code == 1 and "2 task(s) run" in out and "2 failed" in out
    assert "no-such-fingerprint" in err


def test_unknown_dataset_is_named_not_a_dead_worker(monkeypatch, capsys, tmp_path):
    # old code: every task failed with "WorkerDied: a worker process died ..." (the
    # worker's UnknownNameError could not be unpickled), and the grid started anyway
    error = UnknownNameError("dataset", "nosuch", ["gdsc2", "ccle"])
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    with pytest.raises(UnknownNameError, match="unknown dataset 'nosuch'"):
        GridConfig.build({"models": ["naive-drug"], "datasets": ["nosuch"]}).check()
    (tmp_path / "g.toml").write_text('models = ["naive-drug"]\ndatasets = ["nosuch"]\n')
    code, _, err = drpkit(monkeypatch, capsys, "benchmark", tmp_path / "g.toml",
                          "--out", tmp_path / "run")
    assert code == 2 and err.startswith("error: unknown dataset 'nosuch'")


def test_malformed_configs_and_wrong_out_paths_are_one_line(monkeypatch, capsys, ridge_run,
                                                            tmp_path):
    # old code: a Python error (YAML), NotADirectoryError (benchmark) and
    # IsADirectoryError (predict), each an "internal error" with exit code 1
    (tmp_path / "bad.yaml").write_text("models: [naive-drug\n  datasets: ]]\n")
    (tmp_path / "bad.toml").write_text('models = ["naive-drug"\n')
    (tmp_path / "ok.toml").write_text('models = ["naive-drug"]\ndatasets = ["ccle"]\n')
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    for args, expected in [
            (["benchmark", tmp_path / "bad.yaml"], "bad.yaml: not a valid YAML file"),
            (["benchmark", tmp_path / "bad.toml"], "bad.toml: not a valid config file"),
            (["benchmark", tmp_path / "ok.toml", "--out", tmp_path / "afile"],
             "afile: is an existing file, not a run directory"),
            (["predict", ridge_run, "--out", tmp_path / "adir"], "adir: is a directory")]:
        code, _, err = drpkit(monkeypatch, capsys, *args)
        assert code == 2 and err.startswith("error: ") and expected in err, (args, err)
        assert len(err.strip().splitlines()) == 1


def test_a_missing_fingerprint_names_the_drug_plainly(ridge_run, tiny):
    # old code: "no morgan fingerprint for drug(s) [np.str_('UNKNOWNDRUG')] in dataset ..."
    from drpkit.predict import load_run

    _, model, data = load_run(ridge_run)
    pairs = pd.DataFrame({"cell": [tiny.cells[0]], "drug": ["UNKNOWNDRUG"]})
    with pytest.raises(DataError, match=r"fingerprint for 1 drug\(s\) .*: 'UNKNOWNDRUG'$"):
        model.predict(data, pairs)
    with pytest.raises(DataError, match=r"e\.g\. 'UNKNOWNDRUG'$"):  # the graph models' check
        require_ids(np.array(["UNKNOWNDRUG", "A"]), pd.Index(["A"]), "drug",
                    "fingerprint view 'pubchem'")
