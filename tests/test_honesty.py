"""Tests that would catch a real leak or a result that cannot be reproduced.

Each names the defect it guards against; several failed on earlier code:
``test_training_labels_ignore_test_responses`` and the permutation tests of
``run_fold`` / ``run_transfer`` (labels were z-scored over all pairs at load
time, so test responses shaped training labels and graph edges), and the
threshold test (it only checked that some threshold existed).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from drpkit.data.container import DrugResponseData
from drpkit.evaluate.metrics import choose_threshold, evaluate_predictions
from drpkit.experiment.crossval import PAIR, run_fold, scored_frame
from drpkit.models import MODELS
from drpkit.splits import make_folds

pytestmark = pytest.mark.integration

# a small, quick NIHGCN: its graph edges and loss targets are made of labels
GRAPH = {"n_genes": 300, "hidden": 16, "layers": [16], "drug_fingerprint": "morgan",
         "trainer": {"max_epochs": 15, "patience": 15}}


def with_permuted_values(data: DrugResponseData, rows: np.ndarray, seed: int = 1):
    """``data`` with the responses of ``rows`` shuffled among themselves and the
    labels recomputed over all pairs, as loading the dataset would."""
    values = data.responses["value"].to_numpy(copy=True)
    values[rows] = np.random.default_rng(seed).permutation(values[rows]) * 3.0
    permuted = DrugResponseData(**{**data.__dict__,
                                   "responses": data.responses.assign(value=values)})
    return permuted.with_labels(data.label_rule)


@pytest.fixture(scope="module")
def fold(small):
    return make_folds(small, "random", 5, seed=0)[1]


def test_training_labels_ignore_test_responses(small, fold):
    """Per-drug z-score labels of training pairs use training responses only."""
    changed = with_permuted_values(small, fold.test)
    assert (changed.responses["label"].iloc[fold.train].to_numpy()
            != small.responses["label"].iloc[fold.train].to_numpy()).any(), \
        "the permutation must be strong enough to move all-pair labels"
    a = small.with_fold_labels(fold.train, [fold.val, fold.test]).responses["label"]
    b = changed.with_fold_labels(fold.train, [fold.val, fold.test]).responses["label"]
    np.testing.assert_array_equal(a.iloc[fold.train], b.iloc[fold.train])
    np.testing.assert_array_equal(a.iloc[fold.val], b.iloc[fold.val])


def test_unseen_drugs_are_labelled_within_their_own_part(small):
    """Drug-blind: a test drug's labels come from its own test responses, and
    its training drugs' labels from training responses only."""
    fold = make_folds(small, "drug-blind", 5, seed=0)[0]
    labels = small.with_fold_labels(fold.train, [fold.val, fold.test]).responses["label"]
    test = small.responses.iloc[fold.test]
    for drug, part in test.groupby("drug"):
        z = (part["value"] - part["value"].mean()) / part["value"].std()
        expected = (z < -0.8).astype(float).to_numpy()
        np.testing.assert_array_equal(labels.iloc[fold.test][test["drug"] == drug], expected)


def test_permuting_test_responses_changes_no_prediction_of_run_fold(small, fold):
    """A label-driven graph model fitted on the same fold gives the same
    predictions whatever the test responses were (they reach no label)."""
    before = run_fold(small, "nihgcn", fold, GRAPH).predictions["score"].to_numpy()
    changed = with_permuted_values(small, fold.test)
    after = run_fold(changed, "nihgcn", fold, GRAPH).predictions["score"].to_numpy()
    np.testing.assert_array_equal(before, after)


def test_permuting_target_responses_changes_no_prediction_of_run_transfer(small):
    """Transfer: the target's responses and labels are scored, never trained on."""
    from drpkit.experiment.transfer import run_transfer

    cells = small.cells
    source = small.subset(np.flatnonzero(small.responses["cell"].isin(cells[:100])))
    target = small.subset(np.flatnonzero(small.responses["cell"].isin(cells[100:])))
    target.name = "target"
    rows = np.arange(len(target))
    before = run_transfer(source, target, "nihgcn", GRAPH).predictions
    after = run_transfer(source, with_permuted_values(target, rows), "nihgcn", GRAPH).predictions
    np.testing.assert_array_equal(before["score"].to_numpy(), after["score"].to_numpy())
    assert not np.array_equal(before["y"].to_numpy(), after["y"].to_numpy())


def test_threshold_equals_the_validation_optimal_one(small, fold):
    """The threshold that ACC/F1/MCC use is the one maximising MCC on the
    validation pairs, and the test metrics are computed with it."""
    result = run_fold(small, "ridge", fold, {"n_genes": 500})
    data = small.with_fold_labels(fold.train, [fold.val, fold.test])
    train, val = data.subset(fold.train), data.subset(fold.val)
    val_frame = scored_frame(val, result.fitted.predict(train, val.responses[PAIR]), train)
    labelled = val_frame["label"].notna()
    expected = choose_threshold(val_frame.loc[labelled, "label"].to_numpy(float),
                                val_frame.loc[labelled, "score"].to_numpy(float))
    assert result.metrics["threshold"] == pytest.approx(expected)
    test = result.predictions[result.predictions["label"].notna()]
    direct = evaluate_predictions(test, "classification", threshold=expected).overall
    assert result.metrics["mcc"] == pytest.approx(direct["mcc"])
    test_optimal = choose_threshold(test["label"].to_numpy(float), test["score"].to_numpy(float))
    assert test_optimal != pytest.approx(expected)  # else the check could not tell them apart


def test_tissue_blind_scalers_never_see_test_tissues(small):
    from drpkit.models.featurize import FeatureConfig, PairFeaturizer

    fold = make_folds(small, "tissue-blind", 5, seed=0)[0]
    train = small.subset(fold.train)
    featurizer = PairFeaturizer(FeatureConfig(n_genes=300, cell_components=8,
                                              drug_components=4)).fit(train)
    tissue = small.cell_info["tissue"]
    test_tissues = set(tissue.reindex(small.responses["cell"].iloc[fold.test]).dropna())
    fitted_tissues = set(tissue.reindex(featurizer.fitted_cells_).dropna())
    assert test_tissues and not test_tissues & fitted_tissues
    train_cells = train.responses["cell"].unique()
    x = small.cell_view("expression").loc[train_cells, featurizer.genes_].to_numpy(np.float64)
    np.testing.assert_allclose(featurizer.gene_mean_, x.mean(axis=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,params", [
    ("mlp", {"n_genes": 300, "hidden": [32], "trainer": {"max_epochs": 5}}),
    ("mtigcn", GRAPH),
    # drug tokens gathered per pair: advanced indexing's backward summed them in a
    # thread-dependent order (fixed by index_select)
    ("mmgnn", {**MODELS.get("mmgnn").smoke_config, "trainer": {"max_epochs": 4}}),
    ("drgt", {**MODELS.get("drgt").smoke_config, "trainer": {"max_epochs": 5}}),  # same race
])
def test_same_seed_and_threads_give_identical_metrics(small, fold, name, params):
    """Seeded runs are reproducible on the CPU at a fixed thread count (two or more:
    one thread hides order-of-summation races)."""
    before = torch.get_num_threads()
    threads = max(2, before)
    try:
        torch.set_num_threads(threads)
        first = run_fold(small, name, fold, params)
        torch.set_num_threads(threads)
        second = run_fold(small, name, fold, params)
    finally:
        torch.set_num_threads(before)
    assert first.metrics == second.metrics
    pd.testing.assert_frame_equal(first.predictions, second.predictions)


def test_row_space_compression_under_a_training_step():
    """The compression docstring's claim, with a learning rate: one SGD step on
    the compressed layer gives the same function as on the plain one; Adam's
    per-coordinate steps do not (which is why test AUROC can differ)."""
    from drpkit.nn.lowrank import expand_linear, restrict_linear, row_space_basis

    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 40, generator=g, dtype=torch.float64)
    y = torch.randn(6, 3, generator=g, dtype=torch.float64)
    outputs = {}
    for optimiser in ("sgd", "adam"):
        torch.manual_seed(0)
        plain = torch.nn.Linear(40, 3).double()
        basis = row_space_basis(x)
        small_layer = restrict_linear(plain, basis)
        for layer, inputs in ((plain, x), (small_layer, x @ basis)):
            opt = (torch.optim.SGD if optimiser == "sgd" else torch.optim.Adam)(
                layer.parameters(), lr=0.1)
            for _ in range(3):
                opt.zero_grad()
                ((layer(inputs) - y) ** 2).sum().backward()
                opt.step()
        folded = expand_linear(small_layer, basis)
        outputs[optimiser] = (plain(x).detach(), folded(x).detach())
    torch.testing.assert_close(*outputs["sgd"])
    assert not torch.allclose(*outputs["adam"], atol=1e-6)
