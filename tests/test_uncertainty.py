"""Uncertainty for every model (issue 17): conformal intervals and sets,
ensembles, MC dropout, flags in ``drpkit predict`` and calibration metrics.

Each test names the defect it catches. Real-data tests use the ``small``
GDSC2 subset and the models' smoke settings (torch models with few epochs).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from drpkit.errors import DataError
from drpkit.evaluate.calibration import (
    aurc,
    expected_calibration_error,
    interval_metrics,
    reliability_table,
)
from drpkit.experiment.crossval import run_fold
from drpkit.models import MODELS, create_model, load_model
from drpkit.models.requirements import data_for_model
from drpkit.splits import make_folds
from drpkit.uncertainty import UncertaintyConfig
from drpkit.uncertainty.conformal import Calibration
from drpkit.uncertainty.wrap import own_methods

PAIR = ["cell", "drug"]
QUICK_MLP = {"trainer": {"max_epochs": 6, "patience": 3}}


def model(name: str, **uncertainty) -> object:
    """``name`` with its smoke settings (torch: few epochs) and ``uncertainty``."""
    config = {**MODELS.get(name).smoke_config, "uncertainty": uncertainty}
    if name == "mlp":
        config["trainer"] = {**config.get("trainer", {}), **QUICK_MLP["trainer"]}
    return create_model(name, config)


@pytest.fixture(scope="module")
def fold(small):
    return make_folds(small, "random", 5, 0)[0]


def parts(estimator, data, fold):
    """Training, validation and test parts of ``fold`` as the pipeline builds them."""
    data = data_for_model(estimator, data.with_fold_labels(fold.train, [fold.val, fold.test]))
    return data.subset(fold.train), data.subset(fold.val), data.subset(fold.test)


# ------------------------------------------------------ conformal, synthetic
def _synthetic(n: int, rng, scale: dict[str, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    drugs = rng.choice(list(scale), size=n)
    yhat = rng.normal(size=n)
    y = yhat + rng.normal(size=n) * np.array([scale[d] for d in drugs])
    responses = pd.DataFrame({"cell": [f"c{i}" for i in range(n)], "drug": drugs, "value": y})
    return pd.DataFrame({"value": yhat}), responses


def test_conformal_coverage_on_exchangeable_data_is_nominal_within_binomial_error():
    rng = np.random.default_rng(0)
    n_cal, n_test, alpha = 2000, 20000, 0.1
    pred, cal = _synthetic(n_cal, rng, {"a": 1.0, "b": 1.0})
    calibration = Calibration.from_validation(pred, cal, UncertaintyConfig(
        method="conformal", alpha=alpha), classifier=False)
    pred_t, test = _synthetic(n_test, rng, {"a": 1.0, "b": 1.0})
    out = calibration.apply(pred_t, test[PAIR])
    coverage = interval_metrics(test["value"], out["value_lo"], out["value_hi"])["coverage"]
    # the calibration draw and the test draw both add binomial noise
    tolerance = 3 * np.sqrt(alpha * (1 - alpha) * (1 / n_cal + 1 / n_test))
    assert abs(coverage - (1 - alpha)) < tolerance
    assert np.allclose(out["value_hi"] - out["value_lo"], out["value_hi"].iloc[0]
                       - out["value_lo"].iloc[0])  # one global quantile: constant width


def test_mondrian_covers_each_drug_and_unseen_drugs_fall_back_to_the_global_quantile():
    rng = np.random.default_rng(1)
    scale = {"calm": 0.3, "wild": 3.0}
    pred, cal = _synthetic(4000, rng, scale)
    pred_t, test = _synthetic(20000, rng, scale)
    settings = {"method": "conformal", "alpha": 0.1}
    global_ = Calibration.from_validation(pred, cal, UncertaintyConfig(**settings), False)
    mondrian = Calibration.from_validation(
        pred, cal, UncertaintyConfig(**settings, mondrian="drug"), False)
    for calibration, spread_ok in ((global_, False), (mondrian, True)):
        out = calibration.apply(pred_t, test[PAIR])
        per_drug = interval_metrics(test["value"], out["value_lo"], out["value_hi"],
                                    test["drug"].to_numpy())
        assert (per_drug["drug_coverage_sd"] < 0.02) == spread_ok  # global: 1.0 vs ~0.6
    unseen = pd.DataFrame({"cell": ["x"], "drug": ["never-seen"]})
    a = mondrian.apply(pd.DataFrame({"value": [0.0]}), unseen)
    b = global_.apply(pd.DataFrame({"value": [0.0]}), unseen)
    assert np.isfinite(a["value_hi"]).all() and a["value_hi"].iloc[0] == b["value_hi"].iloc[0]


def test_too_few_validation_pairs_is_a_clear_error():
    rng = np.random.default_rng(2)
    pred, cal = _synthetic(5, rng, {"a": 1.0})
    with pytest.raises(DataError, match="at least 9"):
        Calibration.from_validation(pred, cal, UncertaintyConfig(method="conformal"), False)


def test_conformal_sets_of_a_classifier_cover_the_label():
    rng = np.random.default_rng(3)
    n = 6000
    score = rng.uniform(size=n)
    label = (rng.uniform(size=n) < score ** 2).astype(int)  # scores over-confident
    responses = pd.DataFrame({"cell": np.arange(n).astype(str), "drug": "d", "label": label})
    half = n // 2
    calibration = Calibration.from_validation(
        pd.DataFrame({"score": score[:half]}), responses.iloc[:half],
        UncertaintyConfig(method="conformal"), classifier=True)
    out = calibration.apply(pd.DataFrame({"score": score[half:]}), responses.iloc[half:])
    inside = np.where(label[half:] == 1, out["set_sensitive"], out["set_resistant"])
    assert abs(inside.mean() - 0.9) < 0.03
    assert expected_calibration_error(label[half:], out["score_cal"]) < \
        expected_calibration_error(label[half:], score[half:]) / 2


# ------------------------------------------------------------- honesty
def test_test_labels_permuted_give_identical_intervals_validation_labels_do_not(small, fold):
    def intervals(rows: np.ndarray) -> pd.DataFrame:
        data = small.subset(np.arange(len(small.responses)))
        values = data.responses["value"].to_numpy().copy()
        values[rows] = np.random.default_rng(0).permutation(values[rows])
        data.responses = data.responses.assign(value=values)
        result = run_fold(data, model("ridge", method="conformal", mondrian="drug",
                                      min_per_drug=5), fold)
        return result.predictions[["yhat", "value_lo", "value_hi"]]

    reference = intervals(np.array([], dtype=int))
    pd.testing.assert_frame_equal(intervals(fold.test), reference)
    assert not intervals(fold.val)[["value_lo", "value_hi"]].equals(
        reference[["value_lo", "value_hi"]])


def test_refit_on_validation_cannot_calibrate(small, fold):
    estimator = model("mlp", method="conformal")
    estimator.config.trainer.refit = True
    train, val, _ = parts(estimator, small, fold)
    with pytest.raises(DataError, match="trains on its validation pairs"):
        estimator.fit(train, val)


# ----------------------------------------------- real runs, every model kind
@pytest.mark.parametrize("name, settings", [
    ("ridge", {"method": "conformal"}),
    ("mlp", {"method": "mc-dropout", "passes": 8}),
])
def test_real_subset_intervals_cover_held_out_random_pairs(small, fold, name, settings):
    result = run_fold(small, model(name, **settings), fold)
    assert {"value_lo", "value_hi"} <= set(result.predictions)
    assert 0.80 <= result.metrics["interval_coverage"] <= 0.98
    assert result.metrics["aurc_oracle"] <= result.metrics["aurc"]
    assert result.metrics["interval_width_mean"] > 0


def test_ensemble_members_differ_and_their_mean_is_scored(small, fold):
    estimator = model("mlp", method="ensemble", members=2, conformalise=False)
    train, val, test = parts(estimator, small, fold)
    estimator.fit(train, val)
    pairs = test.responses[PAIR]
    with own_methods(estimator):
        own = estimator.predict(train, pairs)["value"].to_numpy()
    members = [own] + [m.predict(train, pairs)["value"].to_numpy()
                       for m in estimator.uncertainty_.method.members]
    assert [m.config.seed for m in estimator.uncertainty_.method.members] == [1]
    assert not np.allclose(members[0], members[1], atol=1e-3)
    out = estimator.predict(train, pairs)
    np.testing.assert_allclose(out["value"], np.mean(members, axis=0), rtol=1e-5)
    np.testing.assert_allclose(out["value_sd"], np.std(members, axis=0, ddof=1), rtol=1e-4,
                               atol=1e-6)
    assert "value_lo" not in out  # conformalise=False


def test_mc_dropout_is_off_in_plain_predict_and_on_when_asked(small, fold):
    estimator = model("mlp", method="mc-dropout", passes=5, conformalise=False)
    train, val, test = parts(estimator, small, fold)
    estimator.fit(train, val)
    pairs = test.responses[PAIR]
    with own_methods(estimator):
        plain = estimator.predict(train, pairs)
    out = estimator.predict(train, pairs)
    assert (out["value_sd"] > 0).all()
    np.testing.assert_array_equal(out["value"], plain["value"])  # point = dropout off
    pd.testing.assert_frame_equal(estimator.predict(train, pairs), out)  # seeded passes
    with own_methods(estimator):  # hooks removed: plain predictions unchanged after MC
        pd.testing.assert_frame_equal(estimator.predict(train, pairs), plain)


def test_mc_dropout_on_a_model_without_dropout_is_a_clear_error(small, fold):
    estimator = model("ridge", method="mc-dropout")
    train, val, _ = parts(estimator, small, fold)
    with pytest.raises(DataError, match="model 'ridge' has no torch.nn.Dropout"):
        estimator.fit(train, val)


def test_plain_models_are_unchanged_by_the_layer(small, fold):
    plain, conformal = model("ridge"), model("ridge", method="conformal")
    train, val, test = parts(plain, small, fold)
    plain.fit(train, val)
    conformal.fit(train, val)
    pairs = test.responses[PAIR]
    assert list(plain.predict(train, pairs).columns) == ["value"]
    np.testing.assert_array_equal(plain.predict(train, pairs)["value"],
                                  conformal.predict(train, pairs)["value"])


@pytest.mark.parametrize("settings", [
    {"method": "conformal", "mondrian": "drug", "min_per_drug": 5},
    {"method": "ensemble", "members": 2},
])
def test_save_and_load_keep_intervals_identical(small, fold, tmp_path, settings):
    estimator = model("ridge", **settings)
    train, val, test = parts(estimator, small, fold)
    estimator.fit(train, val)
    pairs = test.responses[PAIR]
    before = estimator.predict(train, pairs)
    estimator.save(tmp_path / "m")
    assert not list((tmp_path / "m").rglob("*.pkl"))
    pd.testing.assert_frame_equal(load_model(tmp_path / "m").predict(train, pairs), before)


# -------------------------------------------------------- drpkit predict
def test_drpkit_predict_writes_interval_and_flag_columns(small, tmp_path):
    from drpkit.cli import app

    train_cells, new_cells = small.cells[:-10], small.cells[-10:]
    rows = small.responses["cell"].isin(train_cells)
    small.responses.loc[rows, ["cell", "drug", "value"]].to_csv(tmp_path / "r.csv", index=False)
    expression = small.cell_view("expression")
    expression.loc[train_cells].to_csv(tmp_path / "x.csv")
    expression.loc[new_cells].to_csv(tmp_path / "new.csv")
    pd.DataFrame({"drug": small.drugs, "smiles": small.smiles.loc[small.drugs].to_numpy()}) \
        .to_csv(tmp_path / "d.csv", index=False)
    run = tmp_path / "run"
    app(["train", "--model", "ridge", "--responses", str(tmp_path / "r.csv"),
         "--expression", str(tmp_path / "x.csv"), "--drugs", str(tmp_path / "d.csv"),
         "--split", "none", "--out", str(run), "-p", "n_genes=500",
         "-p", "uncertainty.method=conformal", "-p", "uncertainty.mondrian=drug",
         "-p", "uncertainty.min_per_drug=5"], standalone_mode=False)
    app(["predict", str(run), "--expression", str(tmp_path / "new.csv"),
         "--out", str(tmp_path / "pred.csv")], standalone_mode=False)
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert {"value", "value_lo", "value_hi", "flag_uncertain"} <= set(pred)
    assert (pred["value_lo"] < pred["value"]).all() and (pred["value"] < pred["value_hi"]).all()
    meta = json.loads((tmp_path / "pred.meta.json").read_text())["uncertainty"]
    width = pred["value_hi"] - pred["value_lo"]
    assert (pred["flag_uncertain"] == (width > meta["threshold"])).all()
    assert meta["flagged"] == int(pred["flag_uncertain"].sum()) > 0


# --------------------------------------------------------- metrics units
def test_calibration_metrics_known_values():
    rng = np.random.default_rng(4)
    p = rng.uniform(size=50000)
    labels = (rng.uniform(size=p.size) < p).astype(int)
    assert expected_calibration_error(labels, p) < 0.01
    assert expected_calibration_error(labels, p ** 3) > 0.1
    assert reliability_table(labels, p)["n"].sum() == p.size
    errors = rng.exponential(size=1000)
    assert aurc(errors, errors)["aurc"] == pytest.approx(aurc(errors, errors)["aurc_oracle"])
    constant = aurc(errors, np.ones(1000))
    assert constant["aurc"] == pytest.approx(constant["aurc_constant"]) == \
        pytest.approx(errors.mean())
    assert interval_metrics([0, 1, 2, 3], [0, 0, 0, 0], [1, 1, 1, 1])["coverage"] == 0.5


def test_equal_widths_up_to_rounding_rank_as_the_constant_baseline():
    """Global conformal widths, (yhat + q) - (yhat - q), differ in the last bits with
    |yhat|; that must not become a ranking (AURC then equals the constant baseline)."""
    from drpkit.evaluate.calibration import aurc

    rng = np.random.default_rng(0)
    yhat = rng.normal(0, 100, 2000)
    errors = np.abs(yhat) / 100 + rng.random(2000)  # errors grow with |yhat|
    q = 1.234567
    width = (yhat + q) - (yhat - q)
    assert len(np.unique(width)) > 1  # the rounding is there
    out = aurc(errors, width)
    assert out["aurc"] == pytest.approx(out["aurc_constant"], rel=1e-12)


def test_risk_coverage_ranks_unbounded_intervals_last_without_warnings():
    """An infinite width made the rescaling divide inf by inf: every width became
    NaN or 0 and the ranking was lost."""
    from drpkit.evaluate.calibration import risk_coverage

    errors = np.array([0.1, 0.2, 5.0, 9.0])
    widths = np.array([1.0, 2.0, np.inf, np.nan])
    with np.errstate(all="raise"):
        curve = risk_coverage(errors, widths)
    np.testing.assert_allclose(curve["risk"][:2], [0.1, 0.15])
    assert curve["risk"].iloc[-1] == pytest.approx(errors.mean())
