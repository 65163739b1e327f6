"""Tests of drpkit.evaluate: every metric against scikit-learn/scipy, plus the stats."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn import metrics as skm

from drpkit.errors import DataError
from drpkit.evaluate import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    average_ranks,
    choose_threshold,
    classification_metrics,
    compare_to_reference,
    evaluate_predictions,
    friedman_test,
    grouped_metrics,
    holm_correction,
    nemenyi_critical_difference,
    normalised_regression_metrics,
    paired_ttest,
    paired_wilcoxon,
    regression_metrics,
    summarise_grouped,
)
from drpkit.evaluate.metrics import (
    grouped_classification_metrics,
    grouped_regression_metrics,
)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(params=[0, 1, 2])
def regression_data(request):
    rng = np.random.default_rng(request.param)
    y = rng.normal(size=200)
    yhat = 0.6 * y + rng.normal(scale=0.8, size=200)
    if request.param == 2:  # heavy ties exercise the rank-based code paths
        y, yhat = np.round(y, 1), np.round(yhat, 1)
    return y, yhat


@pytest.fixture(params=[0, 1, 2])
def classification_data(request):
    rng = np.random.default_rng(10 + request.param)
    y = (rng.random(300) < 0.3).astype(int)
    score = 1 / (1 + np.exp(-(1.5 * y + rng.normal(size=300) - 0.8)))
    if request.param == 2:
        score = np.round(score, 1)
    return y, score


# --------------------------------------------------------------------------- regression metrics


def test_regression_registry_names():
    assert set(REGRESSION_METRICS) == {"rmse", "mae", "pcc", "scc", "r2"}
    assert set(CLASSIFICATION_METRICS) == {"auroc", "auprc", "acc", "f1", "mcc",
                                           "precision", "recall"}


def test_regression_metrics_match_reference(regression_data):
    y, yhat = regression_data
    got = regression_metrics(y, yhat)
    assert got["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, yhat)), rel=1e-12)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, yhat), rel=1e-12)
    assert got["r2"] == pytest.approx(skm.r2_score(y, yhat), rel=1e-10)
    assert got["pcc"] == pytest.approx(sps.pearsonr(y, yhat).statistic, rel=1e-10)
    assert got["scc"] == pytest.approx(sps.spearmanr(y, yhat).statistic, rel=1e-10)
    assert 0.3 < got["pcc"] < 0.9


def test_constant_prediction_and_tiny_inputs():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    const = np.full(4, 2.5)
    assert REGRESSION_METRICS["pcc"](y, const) == 0.0
    assert REGRESSION_METRICS["scc"](y, const) == 0.0
    assert REGRESSION_METRICS["pcc"](const, y) == 0.0
    assert math.isnan(REGRESSION_METRICS["pcc"]([1.0], [2.0]))
    assert math.isnan(REGRESSION_METRICS["scc"]([1.0], [2.0]))
    assert math.isnan(REGRESSION_METRICS["r2"](const, y))  # undefined for constant truth
    assert REGRESSION_METRICS["rmse"](y, y) == 0.0


def test_nan_and_length_mismatch_raise_data_error():
    with pytest.raises(DataError):
        regression_metrics([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(DataError):
        regression_metrics([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(DataError):
        classification_metrics([0, 1, 2], [0.1, 0.2, 0.3])


# --------------------------------------------------------------------------- classification metrics


def test_score_metrics_match_sklearn(classification_data):
    y, score = classification_data
    got = classification_metrics(y, score)
    assert set(got) == {"auroc", "auprc"}
    assert got["auroc"] == pytest.approx(skm.roc_auc_score(y, score), rel=1e-12)
    assert got["auprc"] == pytest.approx(skm.average_precision_score(y, score), rel=1e-12)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_threshold_metrics_match_sklearn(classification_data, threshold):
    y, score = classification_data
    pred = (score >= threshold).astype(int)
    got = classification_metrics(y, score, threshold)
    assert got["acc"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert got["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred))


def test_single_class_gives_nan_and_constant_prediction_gives_zero_mcc():
    y = np.ones(10)
    score = np.linspace(0, 1, 10)
    got = classification_metrics(y, score, 0.5)
    assert math.isnan(got["auroc"]) and math.isnan(got["auprc"]) and math.isnan(got["mcc"])
    y2 = np.array([0, 1] * 5)
    assert CLASSIFICATION_METRICS["mcc"](y2, score, 2.0) == 0.0  # nothing predicted positive
    assert CLASSIFICATION_METRICS["precision"](y2, score, 2.0) == 0.0


# --------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize("criterion", ["mcc", "f1", "youden"])
def test_choose_threshold_separable(criterion):
    rng = np.random.default_rng(3)
    score = np.concatenate([rng.uniform(0.0, 0.4, 30), rng.uniform(0.6, 1.0, 20)])
    y = np.concatenate([np.zeros(30), np.ones(20)])
    t = choose_threshold(y, score, criterion=criterion)
    assert score[y == 0].max() < t <= score[y == 1].min()
    assert CLASSIFICATION_METRICS["mcc"](y, score, t) == pytest.approx(1.0)


def test_choose_threshold_is_a_midpoint_and_beats_every_other_cut(classification_data):
    y, score = classification_data
    t = choose_threshold(y, score, "mcc")
    best = max(CLASSIFICATION_METRICS["mcc"](y, score, c) for c in np.unique(score))
    assert CLASSIFICATION_METRICS["mcc"](y, score, t) == pytest.approx(best)
    assert t not in set(np.unique(score)[1:])  # a midpoint, not an observed score
    with pytest.raises(DataError):
        choose_threshold(np.ones(5), np.arange(5.0))
    with pytest.raises(DataError):
        choose_threshold(y, score, "accuracy")


# --------------------------------------------------------------------------- grouped


def _prediction_frame(seed=0, n_cells=30, n_drugs=12):
    rng = np.random.default_rng(seed)
    cells = [f"c{i}" for i in range(n_cells)]
    drugs = [f"d{j}" for j in range(n_drugs)]
    cell_eff = rng.normal(size=n_cells)
    drug_eff = rng.normal(scale=2.0, size=n_drugs)
    rows = []
    for i, c in enumerate(cells):
        for j, d in enumerate(drugs):
            inter = rng.normal(scale=0.5)
            rows.append((c, d, cell_eff[i] + drug_eff[j] + inter, cell_eff[i] + drug_eff[j]))
    frame = pd.DataFrame(rows, columns=["cell", "drug", "y", "baseline"])
    frame["yhat"] = frame["y"] + rng.normal(scale=0.3, size=len(frame))
    return frame


def test_grouped_metrics_equal_hand_computation():
    frame = _prediction_frame()
    frame = frame[~((frame["drug"] == "d3") & (frame["cell"].isin([f"c{i}" for i in range(25)])))]
    table = grouped_metrics(frame, "drug",
                            lambda s: regression_metrics(s["y"], s["yhat"]), min_size=10)
    assert list(table.columns) == ["group", "n", "rmse", "mae", "pcc", "scc", "r2"]
    assert "d3" not in set(table["group"])  # only 5 rows left: below min_size
    assert len(table) == 11
    one = frame[frame["drug"] == "d7"]
    row = table.set_index("group").loc["d7"]
    assert row["n"] == 30
    assert row["pcc"] == pytest.approx(sps.pearsonr(one["y"], one["yhat"]).statistic)
    assert row["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(one["y"], one["yhat"])))
    summary = summarise_grouped(table)
    assert summary["pcc_mean"] == pytest.approx(table["pcc"].mean())
    assert summary["pcc_median"] == pytest.approx(table["pcc"].median())
    assert summary["n_groups"] == 11


def test_summarise_skips_nan_groups():
    table = pd.DataFrame({"group": ["a", "b", "c"], "n": [10, 10, 10],
                          "auroc": [0.6, np.nan, 0.8]})
    out = summarise_grouped(table)
    assert out["auroc_mean"] == pytest.approx(0.7)
    assert out["auroc_median"] == pytest.approx(0.7)


# --------------------------------------------------------------------------- grouped, vectorised


def _messy_frame(seed: int, n_rows: int = 700) -> pd.DataFrame:
    """Random predictions whose groups hit every edge case of the metric conventions.

    Values are rounded (ties within groups), group sizes are skewed (tiny
    groups), and named drugs are made degenerate: constant truth, constant
    prediction, prediction equal to the baseline (constant residual), single
    class labels, constant or all-high/all-low scores. A singleton and a pair
    group are appended.
    """
    rng = np.random.default_rng(seed)
    cell_p = rng.dirichlet(np.full(25, 0.7))
    drug_p = rng.dirichlet(np.full(18, 0.9))
    # every drug gets at least 6 rows so the degenerate ones below exist
    drug_idx = np.concatenate([np.repeat(np.arange(18), 6),
                               rng.choice(18, n_rows - 108, p=drug_p)])
    frame = pd.DataFrame({
        "cell": [f"c{i:02d}" for i in rng.choice(25, n_rows, p=cell_p)],
        "drug": [f"d{j:02d}" for j in rng.permutation(drug_idx)],
    })
    y = np.round(rng.normal(size=n_rows), 1)
    frame["baseline"] = np.round(y + rng.normal(scale=0.7, size=n_rows), 1)
    frame["y"] = y
    frame["yhat"] = np.round(0.5 * y + rng.normal(scale=0.6, size=n_rows), 1)
    frame["label"] = (rng.random(n_rows) < 0.4).astype(int)
    frame["score"] = np.round(rng.random(n_rows) * 0.6 + 0.4 * frame["label"], 1)
    drug = frame["drug"]
    frame.loc[drug == "d00", "y"] = 1.5                       # constant truth
    frame.loc[drug == "d01", "yhat"] = -0.2                   # constant prediction
    frame.loc[drug == "d02", "yhat"] = frame.loc[drug == "d02", "baseline"]  # resid_hat 0
    frame.loc[drug == "d03", "label"] = 1                     # single class
    frame.loc[drug == "d04", "label"] = 0                     # single class
    frame.loc[drug == "d05", "score"] = 0.5                   # constant score
    frame.loc[drug == "d06", "score"] = 0.9                   # everything called positive
    frame.loc[drug == "d07", "score"] = 0.1                   # nothing called positive
    tiny = pd.DataFrame({"cell": ["c_single", "c_pair", "c_pair"],
                         "drug": ["d_single", "d_pair", "d_pair"],
                         "baseline": [0.1, 0.2, 0.3], "y": [0.5, 0.4, 0.4],
                         "yhat": [0.3, 0.1, 0.2], "label": [1, 0, 1],
                         "score": [0.5, 0.5, 0.5]})
    return pd.concat([frame, tiny], ignore_index=True)


def _reference_regression(baseline_col):
    def fn(sub):
        y, yhat = sub["y"].to_numpy(float), sub["yhat"].to_numpy(float)
        out = regression_metrics(y, yhat)
        if baseline_col:
            out.update(normalised_regression_metrics(y, yhat,
                                                     sub[baseline_col].to_numpy(float)))
        return out
    return fn


def _reference_classification(threshold):
    def fn(sub):
        return classification_metrics(sub["label"].to_numpy(float),
                                      sub["score"].to_numpy(float), threshold)
    return fn


def _assert_tables_equal(fast, slow):
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("group_col", ["drug", "cell"])
@pytest.mark.parametrize("baseline_col", [None, "baseline"])
@pytest.mark.parametrize("min_size", [0, 2, 10])
def test_fast_grouped_regression_equals_generic_loop(seed, group_col, baseline_col, min_size):
    frame = _messy_frame(seed)
    fast = grouped_regression_metrics(frame, group_col, baseline_col=baseline_col,
                                      min_size=min_size)
    slow = grouped_metrics(frame, group_col, _reference_regression(baseline_col),
                           min_size=min_size)
    _assert_tables_equal(fast, slow)
    if group_col == "drug" and min_size <= 2:
        row = fast.set_index("group")
        assert row.loc["d00", "pcc"] == 0.0 and math.isnan(row.loc["d00", "r2"])
        assert row.loc["d01", "scc"] == 0.0
        assert math.isnan(row.loc["d_pair", "r2"])  # constant y in a pair
        if baseline_col:
            assert row.loc["d02", "pcc_norm"] == 0.0
    if min_size == 0:
        assert math.isnan(fast.set_index("group").loc[f"{group_col[0]}_single", "pcc"])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("group_col", ["drug", "cell"])
@pytest.mark.parametrize("threshold", [None, 0.5, 0.35])
@pytest.mark.parametrize("min_size", [0, 2, 10])
def test_fast_grouped_classification_equals_generic_loop(seed, group_col, threshold, min_size):
    frame = _messy_frame(seed)
    fast = grouped_classification_metrics(frame, group_col, threshold=threshold,
                                          min_size=min_size)
    slow = grouped_metrics(frame, group_col, _reference_classification(threshold),
                           min_size=min_size)
    _assert_tables_equal(fast, slow)
    if group_col == "drug" and min_size <= 2:
        row = fast.set_index("group")
        assert math.isnan(row.loc["d03", "auroc"]) and math.isnan(row.loc["d04", "auprc"])
        assert row.loc["d05", "auroc"] == 0.5  # all scores tied
        if threshold == 0.5:
            assert row.loc["d06", "mcc"] == 0.0 and row.loc["d07", "precision"] == 0.0


def test_fast_grouped_auprc_matches_sklearn_per_group():
    frame = _messy_frame(5, n_rows=2000)
    fast = grouped_classification_metrics(frame, "cell", min_size=2).set_index("group")
    for key, sub in frame.groupby("cell"):
        if len(sub) < 2 or sub["label"].nunique() < 2:
            continue
        assert fast.loc[key, "auprc"] == pytest.approx(
            skm.average_precision_score(sub["label"], sub["score"]), abs=1e-12)
        assert fast.loc[key, "auroc"] == pytest.approx(
            skm.roc_auc_score(sub["label"], sub["score"]), abs=1e-12)


@pytest.mark.parametrize("key_kind", ["int", "categorical"])
def test_fast_grouped_keys_and_order_match_generic_loop(key_kind):
    frame = _messy_frame(6)
    if key_kind == "int":
        frame["drug"] = frame["drug"].str.len() * 100 + frame["drug"].str[-1].map(ord)
    else:  # category order differs from the lexical order, with an unused category
        cats = sorted(frame["drug"].unique(), reverse=True) + ["unused"]
        frame["drug"] = pd.Categorical(frame["drug"], categories=cats)
    fast = grouped_regression_metrics(frame, "drug", min_size=3)
    slow = grouped_metrics(frame, "drug", _reference_regression(None), min_size=3)
    _assert_tables_equal(fast, slow)
    fast_c = grouped_classification_metrics(frame, "drug", threshold=0.5, min_size=3)
    slow_c = grouped_metrics(frame, "drug", _reference_classification(0.5), min_size=3)
    _assert_tables_equal(fast_c, slow_c)


def test_fast_grouped_empty_tables_and_errors():
    frame = _messy_frame(0)
    _assert_tables_equal(grouped_regression_metrics(frame, "drug", min_size=10_000),
                         grouped_metrics(frame, "drug", _reference_regression(None),
                                         min_size=10_000))
    _assert_tables_equal(grouped_classification_metrics(frame.iloc[:0], "drug"),
                         grouped_metrics(frame.iloc[:0], "drug",
                                         _reference_classification(None)))
    with pytest.raises(DataError):
        grouped_regression_metrics(frame, "compound")
    bad = frame.copy()
    bad.loc[3, "yhat"] = np.inf
    with pytest.raises(DataError):
        grouped_regression_metrics(bad, "drug")
    bad = frame.copy()
    bad.loc[3, "label"] = 2
    with pytest.raises(DataError):
        grouped_classification_metrics(bad, "drug")
    with pytest.raises(DataError):
        grouped_classification_metrics(frame, "drug", threshold=float("nan"))


@pytest.mark.parametrize("seed", [0, 1])
def test_evaluate_predictions_tables_equal_generic_loop(seed):
    frame = _messy_frame(seed)
    ev = evaluate_predictions(frame, "regression", baseline_col="baseline", min_group_size=3)
    ev_c = evaluate_predictions(frame, "classification", threshold=0.5, min_group_size=3)
    for col, table, table_c in (("drug", ev.per_drug, ev_c.per_drug),
                                ("cell", ev.per_cell, ev_c.per_cell)):
        _assert_tables_equal(table, grouped_metrics(
            frame, col, _reference_regression("baseline"), min_size=3))
        _assert_tables_equal(table_c, grouped_metrics(
            frame, col, _reference_classification(0.5), min_size=3))
        summary = summarise_grouped(table)
        assert ev.overall[f"{col}_n_groups"] == summary["n_groups"]
        assert ev.overall[f"{col}_scc_median"] == summary["scc_median"]


# --------------------------------------------------------------------------- normalised


def test_normalised_metrics_zero_for_main_effects_one_for_perfect():
    frame = _prediction_frame(seed=1, n_cells=60, n_drugs=30)
    y, base = frame["y"].to_numpy(), frame["baseline"].to_numpy()
    rng = np.random.default_rng(5)
    noisy_base = base + rng.normal(scale=0.05, size=base.size)  # unrelated to the residual
    got = normalised_regression_metrics(y, noisy_base, base)
    assert abs(got["pcc_norm"]) < 0.1
    assert abs(got["r2_norm"]) < 0.05
    assert normalised_regression_metrics(y, base, base)["pcc_norm"] == 0.0
    # the main-effects-only model still has a high raw PCC: that is the point.
    assert regression_metrics(y, base)["pcc"] > 0.8
    perfect = normalised_regression_metrics(y, y, base)
    assert perfect["pcc_norm"] == pytest.approx(1.0)
    assert perfect["r2_norm"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- evaluate_predictions


def test_evaluate_predictions_regression():
    frame = _prediction_frame()
    ev = evaluate_predictions(frame, "regression", baseline_col="baseline")
    o = ev.overall
    assert o["pcc"] == pytest.approx(sps.pearsonr(frame["y"], frame["yhat"]).statistic)
    assert o["n"] == len(frame)
    assert len(ev.per_drug) == 12 and len(ev.per_cell) == 30
    assert o["drug_pcc_mean"] == pytest.approx(ev.per_drug["pcc"].mean())
    assert o["cell_scc_median"] == pytest.approx(ev.per_cell["scc"].median())
    assert 0.5 < o["pcc_norm"] <= 1.0 and "drug_pcc_norm_mean" in o
    # cells have 12 drugs each: a min_group_size of 13 removes every cell.
    ev2 = evaluate_predictions(frame, "regression", min_group_size=13)
    assert len(ev2.per_cell) == 0 and ev2.overall["cell_n_groups"] == 0
    assert "pcc_norm" not in ev2.overall


def test_evaluate_predictions_classification_and_errors():
    frame = _prediction_frame()
    frame["label"] = (frame["y"] < frame.groupby("drug")["y"].transform("median")).astype(int)
    frame["score"] = -frame["yhat"]
    ev = evaluate_predictions(frame, "classification")
    assert ev.overall["auroc"] == pytest.approx(skm.roc_auc_score(frame["label"], frame["score"]))
    assert "mcc" not in ev.overall and "drug_auroc_mean" in ev.overall
    ev_t = evaluate_predictions(frame, "classification", threshold=-0.0)
    assert {"acc", "f1", "mcc", "precision", "recall", "cell_mcc_mean"} <= set(ev_t.overall)
    with pytest.raises(DataError):
        evaluate_predictions(frame, "ranking")
    with pytest.raises(DataError):
        evaluate_predictions(frame.drop(columns="score"), "classification")
    bad = frame.copy()
    bad.loc[0, "yhat"] = np.nan
    with pytest.raises(DataError):
        evaluate_predictions(bad, "regression")


# --------------------------------------------------------------------------- stats


def test_holm_hand_worked_example():
    # sorted: 0.01*4=0.04, 0.02*3=0.06, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06
    p = [0.04, 0.01, 0.03, 0.02]
    np.testing.assert_allclose(holm_correction(p), [0.06, 0.04, 0.06, 0.06])
    np.testing.assert_allclose(holm_correction([0.5, 0.9]), [1.0, 1.0])
    out = holm_correction([0.01, np.nan, 0.04])
    assert math.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.04])


def test_wilcoxon_and_ttest_match_scipy():
    rng = np.random.default_rng(7)
    a = rng.normal(size=12)
    b = a + rng.normal(loc=0.3, scale=0.5, size=12)
    for alt in ("two-sided", "greater", "less"):
        ref = sps.wilcoxon(a, b, alternative=alt)
        assert paired_wilcoxon(a, b, alt) == pytest.approx((ref.statistic, ref.pvalue))
    ref_t = sps.ttest_rel(a, b)
    assert paired_ttest(a, b) == pytest.approx((ref_t.statistic, ref_t.pvalue))
    assert paired_wilcoxon(a, a) == (0.0, 1.0)
    assert all(math.isnan(v) for v in paired_wilcoxon([1.0], [2.0]))
    # zero differences in some pairs are dropped, as scipy's default does
    # (few pairs keep scipy's exhaustive permutation for zeros/ties fast)
    c = b[:8].copy()
    c[:3] = a[:3]
    ref = sps.wilcoxon(a[:8], c)
    assert paired_wilcoxon(a[:8], c) == pytest.approx((ref.statistic, ref.pvalue))


def test_friedman_matches_scipy_and_ranks():
    rng = np.random.default_rng(11)
    scores = pd.DataFrame(rng.normal(size=(10, 4)) + np.array([0.0, 0.3, 0.6, 1.0]),
                          columns=["m0", "m1", "m2", "m3"])
    ref = sps.friedmanchisquare(*[scores[c] for c in scores])
    assert friedman_test(scores) == pytest.approx((ref.statistic, ref.pvalue))
    tied = scores.round(0)
    ref = sps.friedmanchisquare(*[tied[c] for c in tied])
    assert friedman_test(tied) == pytest.approx((ref.statistic, ref.pvalue))
    ranks = average_ranks(pd.DataFrame({"a": [0.9, 0.8], "b": [0.1, 0.9], "c": [0.5, 0.5]}))
    assert ranks.to_dict() == {"a": 1.5, "b": 2.0, "c": 2.5}
    low = average_ranks(pd.DataFrame({"a": [1.0], "b": [2.0]}), higher_is_better=False)
    assert list(low.index) == ["a", "b"]


def test_nemenyi_critical_difference_matches_demsar_table():
    # q_0.05 from Demsar (2006), Table 5(a)
    for k, q in [(2, 1.960), (3, 2.343), (4, 2.569), (5, 2.728), (10, 3.164)]:
        n = 10
        expected = q * math.sqrt(k * (k + 1) / (6 * n))
        assert nemenyi_critical_difference(k, n) == pytest.approx(expected, abs=2e-3)


def test_compare_to_reference_flags_only_real_improvements():
    rng = np.random.default_rng(0)
    folds = np.arange(10)
    base = 0.5 + rng.normal(scale=0.05, size=10)
    rows = []
    for f in folds:
        rows += [("ref", f, base[f]),
                 ("better", f, base[f] + 0.1 + rng.normal(scale=0.01)),
                 ("same", f, base[f]),
                 ("noise", f, base[f] + rng.normal(scale=0.05))]
    results = pd.DataFrame(rows, columns=["model", "fold", "pcc"])
    out = compare_to_reference(results, "ref", "pcc").set_index("model")
    assert out.loc["better", "significantly_better"]
    assert out.loc["better", "p_holm"] < 0.05
    assert out.loc["better", "mean_diff"] == pytest.approx(0.1, abs=0.02)
    assert not out.loc["same", "significantly_better"]
    assert not out.loc["same", "significantly_worse"]
    assert out.loc["same", "p_value"] == 1.0
    assert not out.loc["ref", "significantly_better"] and math.isnan(out.loc["ref", "p_value"])
    assert out.loc["better", "n"] == 10
    # same data, error-metric direction: "better" is now significantly worse
    rev = compare_to_reference(results, "ref", "pcc", higher_is_better=False).set_index("model")
    assert rev.loc["better", "significantly_worse"] and not rev.loc["better",
                                                                     "significantly_better"]
    with pytest.raises(DataError):
        compare_to_reference(results, "missing", "pcc")
    with pytest.raises(DataError):
        compare_to_reference(pd.concat([results, results]), "ref", "pcc")
