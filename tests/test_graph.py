"""The shared graph scaffold: inductive and transductive node modes.

In ``inductive`` mode no held-out cell takes part in training, so changing
test cells' expression before fitting must leave every prediction for
training pairs unchanged; in ``transductive`` mode held-out cells are nodes
whose features reach BatchNorm statistics (NIHGCN), similarity targets
(MTIGCN) and kernels / reliable neighbours (HGACL-DRP), so the same change
moves them. Permuting test responses changes no prediction in either mode.
"""
from __future__ import annotations

import numpy as np
import pytest

from drpkit.data.container import DrugResponseData
from drpkit.experiment.crossval import run_fold
from drpkit.models import create_model
from drpkit.splits import make_folds

pytestmark = pytest.mark.integration

TINY = {
    "nihgcn": {"n_genes": 300, "hidden": 16, "layers": [16], "drug_fingerprint": "morgan",
               "trainer": {"max_epochs": 6, "patience": 6}},
    "mtigcn": {"n_genes": 300, "hidden": 16, "layers": [16], "drug_fingerprint": "morgan",
               "trainer": {"max_epochs": 6, "patience": 6}},
    "hgacl": {"n_genes": 300, "drug_fingerprint": "morgan", "embed_dim": 16, "layers": [16],
              "decoder_dim": 8, "trainer": {"max_epochs": 6, "patience": 6}},
}


@pytest.fixture(scope="module")
def fold(small):
    small.drug_view("morgan")  # memoised once for every fit below
    return make_folds(small, "cell-blind", 5, seed=0)[0]


def scrambled_held_out_expression(data: DrugResponseData, cells: np.ndarray):
    """``data`` whose ``cells`` have their expression values shuffled across genes."""
    expression = data.cell_view("expression").copy()
    rng = np.random.default_rng(0)
    rows = expression.index.isin(cells)
    values = expression.to_numpy(copy=True)
    values[rows] = rng.permuted(values[rows], axis=1)
    expression.iloc[:, :] = values
    return DrugResponseData(**{**data.__dict__,
                               "cell_views": {**data.cell_views, "expression": expression}})


@pytest.mark.parametrize("name", list(TINY))
@pytest.mark.parametrize("nodes", ["inductive", "transductive"])
def test_held_out_features_reach_training_only_in_transductive_mode(small, fold, name, nodes):
    train, val = small.subset(fold.train), small.subset(fold.val)
    # the test cells (validation cells legitimately steer early stopping)
    held_out = np.unique(small.responses["cell"].iloc[fold.test])
    changed = scrambled_held_out_expression(small, held_out)
    pairs = train.responses[["cell", "drug"]].iloc[::7]
    params = {**TINY[name], "nodes": nodes}
    before = create_model(name, params).fit(train, val).predict(train, pairs)
    c_train, c_val = changed.subset(fold.train), changed.subset(fold.val)
    after = create_model(name, params).fit(c_train, c_val).predict(c_train, pairs)
    if nodes == "inductive":
        np.testing.assert_array_equal(before["score"].to_numpy(), after["score"].to_numpy())
    else:
        assert not np.allclose(before["score"].to_numpy(), after["score"].to_numpy())


@pytest.mark.parametrize("nodes", ["inductive", "transductive"])
def test_test_responses_change_no_prediction_in_either_mode(small, fold, nodes):
    params = {**TINY["mtigcn"], "nodes": nodes}
    before = run_fold(small, "mtigcn", fold, params).predictions
    values = small.responses["value"].to_numpy(copy=True)
    values[fold.test] = np.random.default_rng(1).permutation(values[fold.test])
    changed = DrugResponseData(**{**small.__dict__,
                                  "responses": small.responses.assign(value=values)})
    after = run_fold(changed.with_labels("zscore"), "mtigcn", fold, params).predictions
    np.testing.assert_array_equal(before["score"].to_numpy(), after["score"].to_numpy())
    np.testing.assert_array_equal(before["yhat"].to_numpy(), after["yhat"].to_numpy())


@pytest.mark.parametrize("name", list(TINY))
def test_inductive_nodes_are_the_training_part(small, fold, name):
    train, val = small.subset(fold.train), small.subset(fold.val)
    model = create_model(name, {**TINY[name], "nodes": "inductive"}).fit(train, val)
    assert set(model.cells_) == set(train.responses["cell"])
    assert set(model.drugs_) == set(train.responses["drug"])
    assert not set(val.responses["cell"]) & set(model.cells_)  # cell-blind validation
    transductive = create_model(name, {**TINY[name], "nodes": "transductive"}).fit(train, val)
    assert set(transductive.cells_) == set(small.cell_view("expression").index)
