"""Every registered model: fits a small real subset, beats the global mean on
held-out pairs, and survives a save/load round trip unchanged."""
from __future__ import annotations

import numpy as np
import pytest

from drpkit.errors import DataError, UnknownNameError
from drpkit.evaluate.metrics import pcc, rmse
from drpkit.experiment import run_fold
from drpkit.models import MODELS, create_model, load_model
from drpkit.models.base import EarlyStoppingModel
from drpkit.models.requirements import data_for_model
from drpkit.splits import make_folds

FAST = {"n_genes": 500, "cell_components": 16, "drug_components": 8}


def _params(name):
    """The small settings the model declares for runs like these (``smoke_config``)."""
    return MODELS.get(name).smoke_config


@pytest.fixture(scope="module")
def random_fold(small):
    return make_folds(small, "random", 5, seed=0)[0]


@pytest.mark.parametrize("name", MODELS.names())
def test_beats_global_mean_on_held_out_pairs(small, random_fold, name):
    result = run_fold(small, name, random_fold, _params(name))
    floor = run_fold(small, "naive-global", random_fold)
    test = result.predictions
    assert len(test) == len(random_fold.test)
    outputs = MODELS.get(name).outputs
    if "score" in outputs:  # classifiers must rank sensitive pairs well above chance
        assert result.metrics["auroc"] > floor.metrics["auroc"] + 0.15
    if "value" not in outputs:
        assert "rmse" not in result.metrics
    else:  # the model's own declared bar (DRPModel.smoke_bar), no per-name branches here
        min_pcc, max_rmse_share = MODELS.get(name).smoke_bar
        assert result.metrics["rmse"] <= floor.metrics["rmse"] * max_rmse_share
        assert result.metrics["pcc"] >= min_pcc


@pytest.mark.parametrize("name", ["ridge", "gbm", "mlp"])
def test_learned_models_rank_cells_within_drugs(small, random_fold, name):
    """Within drugs, a model that reads expression must beat the per-drug mean (0)."""
    result = run_fold(small, name, random_fold, _params(name))
    assert result.metrics["drug_pcc_mean"] > 0.2
    assert result.metrics["pcc"] > run_fold(small, "naive-drug", random_fold).metrics["pcc"]


@pytest.mark.parametrize("name", MODELS.names())
def test_save_load_round_trip(small, random_fold, tmp_path, name):
    model = create_model(name, _params(name))
    data = data_for_model(model, small)  # as the runners hand it: declared views and resources
    train = data.subset(random_fold.train)
    model.fit(train, data.subset(random_fold.val))
    pairs = small.responses.iloc[random_fold.test][["cell", "drug"]]
    outputs = list(model.outputs)
    before = model.predict(train, pairs)[outputs].to_numpy()
    model.save(tmp_path / name)
    assert not list((tmp_path / name).glob("*.pkl"))
    again = load_model(tmp_path / name).predict(train, pairs)[outputs].to_numpy()
    np.testing.assert_allclose(before, again, rtol=1e-5, atol=1e-5)


def test_unseen_entities_fall_back_to_means(small):
    fold = make_folds(small, "drug-blind", 5, seed=0)[0]
    result = run_fold(small, "naive-drug", fold)
    assert np.allclose(result.predictions["yhat"], small.subset(fold.train).responses["value"].mean())


def test_threshold_metrics_are_reported(small, random_fold):
    """(That the threshold is the validation-optimal one: tests/test_honesty.py.)"""
    result = run_fold(small, "ridge", random_fold, _params("ridge"))
    assert 0.5 < result.metrics["auroc"] <= 1.0
    assert np.isfinite(result.metrics["threshold"])
    assert {"acc", "f1", "mcc", "precision", "recall", "auprc"} <= set(result.metrics)


def test_metrics_of_run_fold_agree_with_direct_computation(small, random_fold):
    result = run_fold(small, "ridge", random_fold, FAST)
    p = result.predictions
    assert result.metrics["rmse"] == pytest.approx(rmse(p["y"], p["yhat"]))
    assert result.metrics["pcc"] == pytest.approx(pcc(p["y"], p["yhat"]))


def test_bad_config_and_unknown_model():
    with pytest.raises(DataError, match="ridge"):
        create_model("ridge", {"n_genes": "many"})
    with pytest.raises(DataError, match="extra"):
        create_model("ridge", {"no_such_option": 1})
    with pytest.raises(UnknownNameError, match="naive-drug"):
        create_model("resnet")


def test_summary_reports_paired_test_against_best_naive(small):
    from drpkit.experiment import cross_validate, summarise

    results = cross_validate(small, ["naive-drug", "naive-additive", "ridge"], ["random"],
                             n_folds=3, params={"ridge": _params("ridge")}, progress=False)
    table = summarise(results).set_index("model")
    reference = results.groupby("model")["pcc"].mean().idxmax()  # all three are baselines
    assert table.loc[reference, "vs best baseline"] == ""
    others = [m for m in ("naive-drug", "naive-additive", "ridge") if m != reference]
    assert (table.loc[others, "vs best baseline"] == reference).all()
    assert float(table.loc["naive-drug", "ΔPCC"]) < 0  # additive beats per-drug mean
    assert 0.0 <= float(table.loc["naive-drug", "p (paired t)"]) <= 1.0


def test_partial_nested_settings_keep_the_model_defaults():
    model = create_model("mlp", {"trainer": {"lr": 0.01}})
    default = create_model("mlp").config.trainer
    assert model.config.trainer.lr == 0.01
    assert model.config.trainer.max_epochs == default.max_epochs
    assert model.config.trainer.patience == default.patience


TORCH_MODELS = [n for n in MODELS.names() if issubclass(MODELS.get(n), EarlyStoppingModel)]


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_refit_trains_on_train_and_validation_for_the_selected_epochs(small, random_fold, name):
    params = _params(name)
    trainer = {**params.get("trainer", {}), "max_epochs": 6, "patience": 2, "refit": True}
    model = create_model(name, {**params, "trainer": trainer})
    data = data_for_model(model, small)
    train, val = data.subset(random_fold.train), data.subset(random_fold.val)
    model.fit(train, val)
    history = model.history_
    assert history.refit is not None and not history.refit.val
    assert history.refit.epochs_run == history.best_epoch + 1
    if hasattr(model, "edges"):  # graph models: validation positives are now edges too
        v = val.responses[val.responses["label"] == 1]
        edges = set(zip(model.edges["cell"], model.edges["drug"], strict=True))
        assert set(zip(v["cell"], v["drug"], strict=True)) <= edges
    pairs = small.responses.iloc[random_fold.test][["cell", "drug"]]
    assert np.isfinite(model.predict(train, pairs)[list(model.outputs)].to_numpy()).all()
