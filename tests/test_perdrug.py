"""Per-drug models and the tissue-aware naive baselines (issue 14).

Each test names the defect it catches: a per-drug ridge that is not the
ridge solution, a penalty that is not the validation-optimal one, a new-drug
prediction that is not the similarity-weighted mean of its neighbours, state
lost on save/load, a per-drug model that does not rank new cells, tissue
effects that are not the training means, and test responses reaching ``fit``.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from drpkit.experiment import run_fold
from drpkit.models import MODELS, create_model, load_model
from drpkit.splits import make_folds

pytestmark = pytest.mark.integration

FAST = {"n_genes": 500, "cell_components": 20}
NEW_MODELS = {name: MODELS.get(name).smoke_config for name in (
    "per-drug-ridge", "per-drug-elastic-net", "per-drug-rf",
    "naive-tissue", "naive-tissue-drug", "naive-effects-tissue")}
PAIR = ["cell", "drug"]


@pytest.fixture(scope="module")
def cell_fold(small):
    return make_folds(small, "cell-blind", 5, seed=0)[0]


@pytest.fixture(scope="module")
def drug_fold(small):
    return make_folds(small, "drug-blind", 5, seed=0)[0]


def _parts(data, fold):
    return data.subset(fold.train), data.subset(fold.val), data.subset(fold.test)


def _drug_xy(model, data, drug):
    """Encoded cells (float64) and responses of ``drug``'s pairs in ``data``."""
    r = data.responses[data.responses["drug"] == drug]
    x = model.encoder_.encode_cells(data, r["cell"].to_numpy(str), np.float64)
    return x, r["value"].to_numpy(np.float64), r


def test_per_drug_ridge_is_sklearn_ridge_on_that_drugs_pairs(small, cell_fold):
    train, _, test = _parts(small, cell_fold)
    # drop pairs at random so that each drug has its own cells, whose mean PC
    # scores are not 0: the intercept must then differ from the drug's mean
    keep = np.random.default_rng(0).random(len(train)) < 0.7
    train = train.subset(np.flatnonzero(keep))
    alpha = 37.0  # off the grid: without validation the default is used
    model = create_model("per-drug-ridge", FAST, default_alpha=alpha).fit(train)
    for drug in train.drugs[:3]:
        d = int(np.searchsorted(model.drugs_, drug))
        assert model.alpha_[d] == alpha
        x, y, _ = _drug_xy(model, train, drug)
        assert np.abs(x.mean(0)).max() > 0.1
        reference = Ridge(alpha=alpha).fit(x, y)
        np.testing.assert_allclose(model.coef_[d], reference.coef_, rtol=1e-6, atol=1e-8)
        assert model.intercept_[d] == pytest.approx(reference.intercept_, abs=1e-6)
        xt, _, rt = _drug_xy(model, test, drug)
        got = model.predict(train, rt[PAIR])["value"].to_numpy()
        np.testing.assert_allclose(got, reference.predict(xt), rtol=0, atol=1e-6)


def _val_sse(model, train, val, alpha):
    """Per-drug validation SSE of sklearn ridges with penalty ``alpha``."""
    sse = {}
    for drug in val.drugs:
        x, y, _ = _drug_xy(model, train, drug)
        xv, yv, _ = _drug_xy(model, val, drug)
        sse[drug] = float(np.sum((Ridge(alpha=alpha).fit(x, y).predict(xv) - yv) ** 2))
    return pd.Series(sse)


def test_penalty_is_the_validation_optimal_one(small, cell_fold):
    train, val, _ = _parts(small, cell_fold)
    grid = [1.0, 100.0, 1e4, 1e6]
    params = {**FAST, "alphas": grid, "default_alpha": 1e4}
    own = create_model("per-drug-ridge", params, min_val_pairs=10).fit(train, val)
    pooled = create_model("per-drug-ridge", params, min_val_pairs=10 ** 6).fit(train, val)
    sse = pd.DataFrame({a: _val_sse(own, train, val, a) for a in grid})
    n_val = val.responses["drug"].value_counts()
    best_pooled = grid[int(np.argmin(sse.sum().to_numpy()))]
    assert np.all(pooled.alpha_ == best_pooled)
    by_own = [drug for drug in sse.index if n_val[drug] >= 10]
    assert by_own and len(set(sse.loc[by_own].idxmin(axis=1))) > 1  # the choice matters
    for drug in sse.index:
        d = int(np.searchsorted(own.drugs_, drug))
        expected = sse.loc[drug].idxmin() if n_val[drug] >= 10 else best_pooled
        assert own.alpha_[d] == expected, drug


def _tanimoto(a: np.ndarray, b: np.ndarray) -> float:
    on_a, on_b = set(np.flatnonzero(a)), set(np.flatnonzero(b))
    return len(on_a & on_b) / len(on_a | on_b) if on_a | on_b else 0.0


def _predict(model, data, cells, drug):
    return model.predict(data, pd.DataFrame({"cell": cells, "drug": drug}))["value"].to_numpy()


@pytest.mark.parametrize("name", ["per-drug-ridge", "per-drug-rf"])
def test_new_drug_is_the_similarity_weighted_mean_of_its_neighbours(small, drug_fold, name):
    train, val, test = _parts(small, drug_fold)
    model = create_model(name, NEW_MODELS[name], k_drugs=3, new_drug_cell_effect=False)
    model.fit(train, val)
    fp = small.drug_view("morgan")
    train_drugs = train.drugs
    for drug in test.drugs[:3]:
        assert drug not in train_drugs
        sims = np.array([_tanimoto(fp.loc[drug].to_numpy(), fp.loc[t].to_numpy())
                         for t in train_drugs])
        top = np.argsort(-sims, kind="stable")[:3]
        cells = test.responses.loc[test.responses["drug"] == drug, "cell"].to_numpy()
        neighbour = np.stack([_predict(model, train, cells, train_drugs[t]) for t in top], axis=1)
        expected = neighbour @ sims[top] / sims[top].sum()
        got = _predict(model, train, cells, drug)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
        assert np.std(got) > 0  # cells are ranked, not given one value

    # a drug that shares no bit with any training drug: plain mean of all drug models
    drug = test.drugs[0]
    blank = fp.copy()
    blank.loc[drug] = 0
    data = replace(train, drug_views={**train.drug_views, "morgan": blank})
    cells = test.responses.loc[test.responses["drug"] == drug, "cell"].to_numpy()
    every = np.stack([_predict(model, train, cells, t) for t in train_drugs], axis=1)
    np.testing.assert_allclose(_predict(model, data, cells, drug), every.mean(axis=1),
                               rtol=1e-9, atol=1e-9)


def _mean_residual(model, train, cells):
    """Mean over each cell's training pairs of response - the model's prediction."""
    r = train.responses
    resid = r["value"].to_numpy() - model.predict(train, r[PAIR])["value"].to_numpy()
    return pd.Series(resid).groupby(r["cell"].to_numpy()).mean().reindex(cells).to_numpy()


def test_new_drug_adds_the_cell_effect_of_seen_cells_only(small, drug_fold):
    """Seen cell: neighbours' mean + the cell's mean training residual; new cell: no effect."""
    train, _, test = _parts(small, drug_fold)
    params = {**FAST, "k_drugs": 3}  # no validation part: both use the default penalty
    plain = create_model("per-drug-ridge", params, new_drug_cell_effect=False).fit(train)
    model = create_model("per-drug-ridge", params).fit(train)
    drug = test.drugs[0]
    cells = test.responses.loc[test.responses["drug"] == drug, "cell"].to_numpy()
    assert set(cells) <= set(train.cells)  # drug-blind: every test cell was seen
    effect = _mean_residual(model, train, cells)
    assert np.std(effect) > 0.1
    np.testing.assert_allclose(_predict(model, train, cells, drug),
                               _predict(plain, train, cells, drug) + effect, atol=1e-9)
    # known drugs and unseen cells are predicted without it
    known = train.drugs[0]
    np.testing.assert_allclose(_predict(model, train, cells, known),
                               _predict(plain, train, cells, known), atol=1e-9)
    unseen = np.setdiff1d(small.cells, train.cells)[:5]
    if len(unseen):
        np.testing.assert_allclose(_predict(model, small, unseen, drug),
                                   _predict(plain, small, unseen, drug), atol=1e-9)


def test_forest_cell_effect_is_out_of_bag(small, drug_fold):
    """In-bag forest predictions nearly reproduce the responses, which would
    shrink the cell effect: it must come from out-of-bag predictions."""
    from sklearn.ensemble import RandomForestRegressor

    train, val, _ = _parts(small, drug_fold)
    model = create_model("per-drug-rf", NEW_MODELS["per-drug-rf"]).fit(train, val)
    cfg, r = model.config, train.responses
    oob = np.empty(len(r))
    for d, drug in enumerate(model.drugs_):
        rows = np.flatnonzero(r["drug"].to_numpy() == drug)
        x, y, _ = _drug_xy(model, train, drug)
        oob[rows] = RandomForestRegressor(
            n_estimators=cfg.n_estimators, max_features=cfg.max_features,
            min_samples_leaf=cfg.min_samples_leaf, max_samples=cfg.max_samples, oob_score=True,
            random_state=cfg.seed + d).fit(x, y).oob_prediction_
    expected = pd.Series(r["value"].to_numpy() - oob).groupby(r["cell"].to_numpy()).mean()
    np.testing.assert_allclose(model.cell_effect_, expected.reindex(model.cells_), atol=1e-9)
    in_bag = _mean_residual(model, train, model.cells_)
    assert np.std(model.cell_effect_) > 1.1 * np.std(in_bag)
    assert not hasattr(model.forests_[0], "oob_prediction_")  # not saved


@pytest.mark.parametrize("name", sorted(NEW_MODELS))
def test_save_load_round_trip_keeps_predictions(small, drug_fold, cell_fold, tmp_path, name):
    """Known and new drugs, known and new cells: identical after a round trip."""
    train, val, _ = _parts(small, drug_fold)
    model = create_model(name, NEW_MODELS[name]).fit(train, val)
    pairs = pd.concat([small.responses.iloc[drug_fold.test][PAIR],
                       small.responses.iloc[cell_fold.test][PAIR]], ignore_index=True)
    before = model.predict(train, pairs)["value"].to_numpy()
    model.save(tmp_path / name)
    assert not list((tmp_path / name).glob("*.pkl"))
    again = load_model(tmp_path / name)
    np.testing.assert_allclose(again.predict(train, pairs)["value"].to_numpy(), before,
                               rtol=1e-12, atol=1e-12)
    assert again.input_genes() == model.input_genes()


def test_per_drug_ridge_ranks_new_cells_within_drugs(small, cell_fold):
    ridge = run_fold(small, "per-drug-ridge", cell_fold)
    naive = run_fold(small, "naive-drug", cell_fold)
    assert ridge.metrics["drug_pcc_mean"] > naive.metrics["drug_pcc_mean"] + 0.2
    assert ridge.metrics["pcc"] > naive.metrics["pcc"]


def _tissue(data, cells):
    return data.cell_info["tissue"].reindex(np.asarray(cells)).to_numpy()


def test_effects_tissue_is_additive_for_seen_cells_and_tissue_effect_for_new(small, cell_fold):
    train, _, test = _parts(small, cell_fold)
    effects = create_model("naive-effects-tissue").fit(train)
    additive = create_model("naive-additive").fit(train)
    seen = train.responses[PAIR]
    np.testing.assert_allclose(effects.predict(train, seen)["value"],
                               additive.predict(train, seen)["value"], rtol=0, atol=1e-9)

    # new cells: naive-additive's prediction + the tissue's mean cell effect,
    # the mean taken over the tissue's training pairs
    r = train.responses
    cell_effect = (additive.predict(train, r[PAIR])["value"].to_numpy()
                   - additive.predict(train, r[PAIR].assign(cell="<new>"))["value"].to_numpy())
    tissue_effect = pd.Series(cell_effect).groupby(_tissue(train, r["cell"])).mean()
    pairs = test.responses[PAIR]
    new = effects.predict(train, pairs)["value"].to_numpy()
    base = additive.predict(train, pairs)["value"].to_numpy()
    expected = tissue_effect.reindex(_tissue(train, pairs["cell"])).fillna(0.0).to_numpy()
    np.testing.assert_allclose(new - base, expected, rtol=0, atol=1e-9)
    per_drug_sd = pd.Series(new).groupby(pairs["drug"].to_numpy()).std()
    assert (per_drug_sd > 0.05).all()  # new cells are ranked within each drug

    # a new cell of a tissue unseen in training: the drug effect alone (= naive-additive)
    info = train.cell_info.copy()
    info.loc[pairs["cell"].iloc[0], "tissue"] = "nowhere"
    odd = effects.predict(replace(train, cell_info=info), pairs.iloc[:1])["value"]
    assert odd.iloc[0] == pytest.approx(base[0], abs=1e-9)


def test_tissue_means_and_their_fallbacks(small, cell_fold):
    train, _, test = _parts(small, cell_fold)
    r = train.responses
    tissue = _tissue(train, r["cell"])
    pairs = test.responses[PAIR]
    test_tissue = _tissue(train, pairs["cell"])

    got = create_model("naive-tissue").fit(train).predict(train, pairs)["value"].to_numpy()
    means = r["value"].groupby(tissue).mean()
    expected = means.reindex(test_tissue).fillna(r["value"].mean()).to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)

    model = create_model("naive-tissue-drug").fit(train)
    combos = r["value"].groupby([tissue, r["drug"].to_numpy()]).mean()
    drug_mean = r["value"].groupby(r["drug"]).mean()
    expected = [combos.get((t, d), drug_mean.get(d, r["value"].mean()))
                for t, d in zip(test_tissue, pairs["drug"], strict=True)]
    np.testing.assert_allclose(model.predict(train, pairs)["value"], expected, atol=1e-9)
    # unknown tissue -> the drug's mean; unknown drug too -> the global mean
    odd = pd.DataFrame({"cell": ["<no such cell>"] * 2, "drug": [r["drug"].iloc[0], "<new>"]})
    np.testing.assert_allclose(model.predict(train, odd)["value"],
                               [drug_mean[r["drug"].iloc[0]], r["value"].mean()], atol=1e-9)


@pytest.mark.parametrize("name", sorted(NEW_MODELS))
def test_test_responses_do_not_reach_fit(small, cell_fold, name):
    """Scrambling every test response leaves the fitted model's predictions unchanged."""
    rng = np.random.default_rng(1)
    responses = small.responses.copy()
    test_rows = cell_fold.test
    responses.loc[test_rows, "value"] = rng.normal(50.0, 10.0, size=len(test_rows))
    responses.loc[test_rows, "label"] = 1.0 - responses.loc[test_rows, "label"]
    scrambled = replace(small, responses=responses)
    params = NEW_MODELS[name]
    a = run_fold(small, name, cell_fold, params).predictions["yhat"].to_numpy()
    result = run_fold(scrambled, name, cell_fold, params)
    np.testing.assert_array_equal(a, result.predictions["yhat"].to_numpy())
    fitted = result.fitted
    if hasattr(fitted, "encoder_"):  # expression PCs from training cells only
        assert set(fitted.encoder_.fitted_cells_) == set(small.subset(cell_fold.train).cells)
