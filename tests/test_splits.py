"""Splits never leak: no test pair (and for blind splits no test cell/drug/tissue)
reaches training, validation, fitted scalers or projections."""
from __future__ import annotations

import numpy as np
import pytest

from drpkit.splits import SPLITS, check_fold, make_folds


@pytest.mark.parametrize("kind", SPLITS.names())
def test_every_fold_is_leak_free(small, kind):
    folds = make_folds(small, kind, n_folds=5, seed=3)
    assert len(folds) == 5
    for fold in folds:
        check_fold(small, fold)
        assert len(fold.train) and len(fold.val) and len(fold.test)
    tests = np.concatenate([f.test for f in folds])
    assert len(tests) == len(np.unique(tests))  # each pair is tested at most once
    if getattr(SPLITS.get(kind), "covers_all_pairs", True):
        assert len(tests) == len(small)  # ... and exactly once


@pytest.mark.parametrize("kind", SPLITS.names())
def test_check_fold_catches_leaks(small, kind):
    fold = make_folds(small, kind, n_folds=5, seed=0)[0]
    leaky = type(fold)(fold.kind, fold.fold, fold.seed,
                       np.concatenate([fold.train, fold.test[:1]]), fold.val, fold.test)
    with pytest.raises(AssertionError):
        check_fold(small, leaky)


def test_seeds_change_folds_and_are_reproducible(small):
    a = make_folds(small, "cell-blind", 5, seed=0)[0].test
    b = make_folds(small, "cell-blind", 5, seed=0)[0].test
    c = make_folds(small, "cell-blind", 5, seed=1)[0].test
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("kind,column", [("cell-blind", "cell"), ("drug-blind", "drug"),
                                         ("disjoint", "cell"), ("disjoint", "drug")])
def test_fitted_transforms_never_see_test_entities(small, kind, column):
    from drpkit.models.featurize import FeatureConfig, PairFeaturizer

    fold = make_folds(small, kind, 5, seed=0)[1]
    featurizer = PairFeaturizer(FeatureConfig(n_genes=300, cell_components=8,
                                              drug_components=4)).fit(small.subset(fold.train))
    fitted = featurizer.fitted_cells_ if column == "cell" else featurizer.fitted_drugs_
    test_ids = set(small.responses[column].iloc[fold.test])
    assert test_ids and not test_ids & set(fitted)
    # the scaler statistics are those of the training cells only
    train_cells = small.responses["cell"].iloc[fold.train].unique()
    x = small.cell_view("expression").loc[train_cells, featurizer.genes_].to_numpy(np.float64)
    np.testing.assert_allclose(featurizer.gene_mean_, x.mean(axis=0), rtol=1e-5, atol=1e-5)


def test_too_few_groups_is_a_clear_error(small):
    from drpkit.errors import DataError

    tiny = small.subset(np.flatnonzero(small.responses["drug"] == small.drugs[0]))
    with pytest.raises(DataError, match="cannot make 5 parts from 1 drug"):
        make_folds(tiny, "drug-blind", 5)


@pytest.mark.parametrize("kind,column", [("nihgcn-new-cell", "cell"),
                                         ("nihgcn-new-drug", "drug")])
def test_paper_new_entity_tests_hold_out_only_entities_with_ten_positives(small, kind, column):
    r = small.responses
    positives = (r["label"] == 1).groupby(r[column]).sum()
    eligible = set(positives.index[positives >= 10])
    folds = make_folds(small, kind, 5, seed=0)
    tested = set().union(*(set(r[column].iloc[f.test]) for f in folds))
    assert tested == eligible  # every eligible entity is tested once, no other ever
    for f in folds:  # and a tested entity brings all its pairs
        ids = set(r[column].iloc[f.test])
        assert len(f.test) == int(r[column].isin(ids).sum())
