"""The drpkit command through its entry point (subprocesses of the installed script)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.cli

DRPKIT = str(Path(sys.executable).with_name("drpkit"))


def run(*args, check=True):
    proc = subprocess.run([DRPKIT, *map(str, args)], capture_output=True, text=True, check=False,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    if check and proc.returncode != 0:
        raise AssertionError(f"drpkit {args} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def user_files(tmp_path_factory, small):
    folder = tmp_path_factory.mktemp("user")
    small.responses[["cell", "drug", "value"]].to_csv(folder / "responses.csv", index=False)
    small.cell_view("expression").loc[small.cells].iloc[:, :600].to_csv(folder / "expr.csv")
    pd.DataFrame({"drug": small.drugs, "smiles": small.smiles.loc[small.drugs].to_numpy()}) \
        .to_csv(folder / "drugs.csv", index=False)
    return folder


def test_help_and_listings():
    assert "evaluate" in run("--help").stdout
    assert "gdsc-nihgcn" in run("data", "list").stdout
    listing = run("models").stdout
    assert "naive-additive" in listing and "ridge" in listing


def test_data_info():
    out = run("data", "info", "ccle").stdout
    assert "cells: 368" in out.replace("  ", "") or "368" in out


def test_train_then_predict(user_files, tmp_path):
    out = tmp_path / "run"
    proc = run("train", "--model", "ridge", "--responses", user_files / "responses.csv",
               "--expression", user_files / "expr.csv", "--drugs", user_files / "drugs.csv",
               "--split", "cell-blind", "--out", out, "-p", "n_genes=300",
               "-p", "cell_components=8")
    assert "run written" in proc.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["params"]["n_genes"] == 300 and config["split"] == "cell-blind"
    assert config["threads"] >= 1 and "torch" in config["versions"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pcc"] > 0.5
    assert len(pd.read_csv(out / "predictions.csv")) > 0

    expr = pd.read_csv(user_files / "expr.csv", index_col=0).iloc[:3]
    expr.index = ["NEW1", "NEW2", "NEW3"]
    expr.to_csv(tmp_path / "new_cells.csv")
    pred = tmp_path / "pred.csv"
    run("predict", out, "--expression", tmp_path / "new_cells.csv", "--out", pred)
    table = pd.read_csv(pred)
    assert set(table["cell"]) == {"NEW1", "NEW2", "NEW3"}
    assert table["value"].notna().all() and len(table) == 3 * table["drug"].nunique()


def test_evaluate_writes_table(user_files, tmp_path):
    out = tmp_path / "cv"
    proc = run("evaluate", "--models", "naive-drug,naive-additive", "--splits",
               "random,drug-blind", "--folds", "3", "--responses", user_files / "responses.csv",
               "--expression", user_files / "expr.csv", "--drugs", user_files / "drugs.csv",
               "--out", out)
    assert "Leaderboard responses · drug-blind" in proc.stdout
    assert "report:" in proc.stdout and (out / "report.html").exists()
    results = pd.read_csv(out / "tasks.csv")  # the benchmark run store, as `drpkit report` reads
    assert len(results) == 2 * 2 * 3
    board = pd.read_csv(out / "leaderboard.csv")
    assert (board["model"] == "naive-additive").sum() == 2


def test_errors_are_one_line_and_leave_nothing(user_files, tmp_path):
    bad = tmp_path / "bad.csv"
    pd.read_csv(user_files / "responses.csv").drop(columns="value").to_csv(bad, index=False)
    out = tmp_path / "never"
    proc = run("train", "--model", "ridge", "--responses", bad, "--expression",
               user_files / "expr.csv", "--out", out, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "bad.csv" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".never*"))

    proc = run("train", "--model", "resnet", "--dataset", "gdsc2", "--out", out, check=False)
    assert proc.returncode == 2 and "valid models" in proc.stderr and "ridge" in proc.stderr
    proc = run("data", "info", "gdsc3", check=False)
    assert proc.returncode == 2 and "gdsc2" in proc.stderr


def test_failure_during_training_leaves_no_run_directory(user_files, tmp_path):
    out = tmp_path / "run"
    proc = run("train", "--model", "ridge", "--responses", user_files / "responses.csv",
               "--expression", user_files / "expr.csv", "--drugs", user_files / "drugs.csv",
               "--out", out, "-p", "n_genes=5000", "-p", "drug_fingerprint=\"ecfp99\"",
               check=False)
    assert proc.returncode == 2 and "ecfp99" in proc.stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]


def test_evaluate_takes_per_model_parameters(user_files, tmp_path):
    out = tmp_path / "cv"
    files = ["--responses", user_files / "responses.csv", "--expression",
             user_files / "expr.csv", "--drugs", user_files / "drugs.csv"]
    run("evaluate", "--models", "naive-drug,ridge", "--splits", "random", "--folds", "2",
        *files, "-p", "ridge:n_genes=300", "-p", "ridge:cell_components=8", "--out", out)
    config = json.loads((out / "config.json").read_text())
    assert config["grid"]["params"] == {"ridge": {"n_genes": 300, "cell_components": 8}}
    proc = run("evaluate", "--models", "naive-drug", *files, "-p", "ridge:n_genes=300",
               check=False)
    assert proc.returncode == 2 and "not among --models" in proc.stderr
    proc = run("evaluate", "--models", "ridge", *files, "-p", "ridge:no_such_setting=1",
               check=False)
    assert proc.returncode == 2 and "no_such_setting" in proc.stderr
