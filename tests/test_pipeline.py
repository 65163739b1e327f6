"""One pipe for every model: declared views and resources, extra output columns
and artifacts travel from ``predict`` / ``explain`` to the run store, the
report and ``drpkit predict``; a model lacking a declared view fails early.

A small probe model, registered only while these tests run, declares the
``landmark-genes`` resource, predicts a ``value_sd`` column beside ``value``
and exports an artifact table.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.experiment.crossval import run_fold
from drpkit.models import MODELS, DRPModel, ModelConfig
from drpkit.models.requirements import check_requirements, data_for_model
from drpkit.splits import make_folds

pytestmark = pytest.mark.integration


class ProbeModel(DRPModel):
    """Per-drug mean plus a landmark-gene effect; reports what it was handed."""

    name = "probe"
    Config = ModelConfig
    cell_views = ("expression",)
    resources = ("landmark-genes",)
    outputs = ("value", "value_sd")
    seen: ClassVar[dict] = {}

    def fit(self, train: DrugResponseData, val: DrugResponseData | None = None):
        type(self).seen.update(cell_views=set(train.cell_views), smiles=len(train.smiles),
                               resources=set(train.resources))
        landmarks = set(train.resource("landmark-genes").load())
        expression = train.cell_view("expression")
        self.genes_ = [g for g in expression.columns if g in landmarks][:20]
        r = train.responses
        self.drug_mean_ = r.groupby("drug")["value"].mean()
        self.mean_ = float(r["value"].mean())
        return self

    def predict(self, data: DrugResponseData, pairs: pd.DataFrame) -> pd.DataFrame:
        x = data.cell_view("expression").loc[pairs["cell"], self.genes_].to_numpy()
        value = pairs["drug"].map(self.drug_mean_).fillna(self.mean_).to_numpy() \
            + 0.01 * x.mean(axis=1)
        return pd.DataFrame({"value": value, "value_sd": np.full(len(pairs), 0.5)},
                            index=pairs.index)

    def explain(self, data: DrugResponseData) -> dict[str, pd.DataFrame]:
        return {"landmark_weights": pd.DataFrame({"gene": self.genes_,
                                                  "weight": np.linspace(1, 0, len(self.genes_))})}

    def input_genes(self) -> dict[str, list[str]]:
        return {"expression": list(self.genes_)}

    def save_state(self, directory: Path) -> None:
        (directory / "probe.json").write_text(json.dumps(
            {"genes": self.genes_, "drug_mean": self.drug_mean_.to_dict(), "mean": self.mean_}))

    def load_state(self, directory: Path) -> None:
        state = json.loads((directory / "probe.json").read_text())
        self.genes_, self.mean_ = state["genes"], state["mean"]
        self.drug_mean_ = pd.Series(state["drug_mean"], dtype=float)


class NeedsCNV(ProbeModel):
    name = "probe-cnv"
    cell_views = ("expression", "cnv")
    drug_views = ("pubchem920|smiles",)
    resources = ("no-such-resource",)


@pytest.fixture
def probe():
    MODELS._items["probe"] = ProbeModel  # registered for this test only
    yield ProbeModel
    MODELS._items.pop("probe", None)


def test_model_gets_only_what_it_declared_and_extra_columns_travel(small, probe):
    fold = make_folds(small, "random", 5, seed=0)[0]
    result = run_fold(small, "probe", fold)
    assert ProbeModel.seen == {"cell_views": {"expression"}, "smiles": 0,
                               "resources": {"landmark-genes"}}
    assert {"cnv", "mutation"} <= set(small.cell_views)  # the dataset had more
    assert np.allclose(result.predictions["value_sd"], 0.5)
    assert list(result.artifacts) == ["landmark_weights"]
    with pytest.raises(DataError, match="resource 'ppi' was not handed"):
        data_for_model(ProbeModel, small).resource("ppi")


def test_missing_declared_view_or_resource_fails_before_fitting(small):
    expression_only = DrugResponseData(**{**small.__dict__,
                                          "cell_views": {"expression": small.cell_view(
                                              "expression")},
                                          "smiles": small.smiles.iloc[:0]})
    with pytest.raises(DataError) as error:
        check_requirements(NeedsCNV, expression_only)
    message = str(error.value)
    assert "model 'probe-cnv' needs cell view 'cnv'" in message
    assert "drug view 'pubchem920' or 'smiles'" in message
    assert "resource 'no-such-resource'" in message
    fold = make_folds(small, "random", 5, seed=0)[0]
    with pytest.raises(DataError, match="probe-cnv"):
        run_fold(expression_only, NeedsCNV(), fold)


def test_outputs_and_artifacts_reach_the_run_store_and_the_report(probe, tmp_path):
    from drpkit.experiment.grid import GridConfig
    from drpkit.experiment.store import RunStore
    from drpkit.experiment.worker import execute
    from drpkit.report import build_report

    grid = GridConfig.build({"name": "probe", "datasets": ["ccle"], "models": ["probe"],
                             "splits": ["random"], "folds": 3, "seeds": [0], "workers": 1})
    store = RunStore(tmp_path / "run")
    store.prepare()
    store.write_config({"grid": grid.model_dump(mode="json"), "versions": {}})
    for task in grid.tasks():  # in-process: the probe exists only in this process
        store.write_result(task, execute(task.model_dump(mode="json")))
    task_id = min(store.done())
    assert "value_sd" in store.predictions(task_id)
    table = store.artifacts(task_id)["landmark_weights"]
    assert list(table.columns) == ["gene", "weight"] and len(table) > 0
    html = build_report(tmp_path / "run").read_text()
    section = html.split('id="artifacts"')[1]
    assert "value_sd" in section and "landmark_weights (3 of 3 tasks)" in section


def test_extra_columns_reach_drpkit_predict(probe, tmp_path, monkeypatch, capsys):
    from drpkit.cli import main

    out = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["drpkit", "train", "--model", "probe", "--dataset", "ccle",
                                      "--split", "none", "--out", str(out)])
    main()
    monkeypatch.setattr(sys, "argv", ["drpkit", "predict", str(out), "--out",
                                      str(tmp_path / "pred.csv")])
    main()
    predictions = pd.read_csv(tmp_path / "pred.csv")
    assert {"cell", "drug", "value", "score", "value_sd"} <= set(predictions.columns)
    assert np.allclose(predictions["value_sd"], 0.5)
    capsys.readouterr()
