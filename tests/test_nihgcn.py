"""NIHGCN / MTIGCN: the interaction layer, the Pearson decoder, the graph
builder, the papers' split protocol, leakage, persistence and a small real run."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.experiment import run_fold
from drpkit.models import create_model, load_model
from drpkit.models.graph import fingerprint_name
from drpkit.nn import (
    NeighborhoodInteractionConv,
    PearsonDecoder,
    bipartite_adjacency,
    pearson_correlation,
    pearson_decoder,
)
from drpkit.splits import SPLITS, Fold, check_fold, make_folds
from drpkit.splits.folds import split_frame

# small and fast: enough to learn something on ~150 cells x 30 drugs
FAST = {"n_genes": 1000, "hidden": 64, "layers": [64], "drug_fingerprint": "morgan",
        "trainer": {"max_epochs": 300, "patience": 30, "lr": 1e-3, "weight_decay": 1e-5}}
TINY = {**FAST, "hidden": 16, "layers": [16], "trainer": {"max_epochs": 3, "patience": 3}}

# 3 cells x 2 drugs: cell 0 - drug 0, cell 1 - drugs 0 and 1, cell 2 isolated
EDGES = torch.tensor([[0, 1, 1], [0, 0, 1]])


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["cell"], frame["drug"], strict=True))


def paper_folds(data: DrugResponseData, n_folds: int = 5, seed: int = 0,
                val_fraction: float = 0.1) -> list[Fold]:
    """``make_folds`` for ``nihgcn-random``, with the label column the splitter
    needs added to the split frame (until ``split_frame`` passes it)."""
    frame = split_frame(data)
    if "label" not in frame:
        frame["label"] = data.responses["label"].to_numpy()
    splitter = SPLITS.get("nihgcn-random")
    rng = np.random.default_rng(seed)
    folds = []
    for k, (train, test) in enumerate(splitter(frame, n_folds, rng)):
        inner_train, inner_val = splitter(frame.iloc[train].reset_index(drop=True),
                                          round(1 / val_fraction), rng)[0]
        folds.append(Fold("nihgcn-random", k, seed, np.sort(train[inner_train]),
                          np.sort(train[inner_val]), np.sort(test)))
    return folds


# ----------------------------------------------------------------- adjacency
def test_adjacency_matches_hand_computation():
    adj = bipartite_adjacency(EDGES, 3, 2)
    # degrees + 1: cells (2, 3, 1), drugs (3, 2)
    expected = np.array([[1 / np.sqrt(2 * 3), 0.0],
                         [1 / np.sqrt(3 * 3), 1 / np.sqrt(3 * 2)],
                         [0.0, 0.0]])
    np.testing.assert_allclose(adj.agg_cell.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(adj.agg_drug.numpy(), expected.T, rtol=1e-6)
    np.testing.assert_allclose(adj.self_cell.numpy(), [1 + 1 / 2, 1 + 1 / 3, 1 + 1 / 1])
    np.testing.assert_allclose(adj.self_drug.numpy(), [1 + 1 / 3, 1 + 1 / 2])
    # duplicated edges count once
    twice = bipartite_adjacency(torch.cat([EDGES, EDGES], dim=1), 3, 2)
    torch.testing.assert_close(twice.agg_cell, adj.agg_cell)
    assert twice.edge_index.shape == (2, 3)


def test_sparse_adjacency_equals_dense():
    dense = bipartite_adjacency(EDGES, 3, 2)
    sparse = bipartite_adjacency(EDGES, 3, 2, sparse=True)
    assert sparse.is_sparse and not dense.is_sparse
    torch.testing.assert_close(sparse.dense(), dense.agg_cell)
    torch.testing.assert_close(sparse.agg_drug.to_dense(), dense.agg_drug)


def test_adjacency_rejects_bad_edges():
    with pytest.raises(DataError, match="outside"):
        bipartite_adjacency(torch.tensor([[0, 3], [0, 1]]), 3, 2)
    with pytest.raises(DataError, match=r"\(2, E\)"):
        bipartite_adjacency(torch.tensor([0, 1, 2]), 3, 2)


# --------------------------------------------------------------------- layer
def test_layer_matches_hand_computation():
    torch.manual_seed(0)
    x_cell, x_drug = torch.randn(3, 2), torch.randn(2, 2)
    conv = NeighborhoodInteractionConv(2, 2, alpha=0.25, act=False)
    with torch.no_grad():
        for lin in (conv.lin_cell, conv.lin_drug):
            lin.weight.copy_(torch.eye(2))
            lin.bias.zero_()
    with torch.no_grad():
        h_cell, h_drug = conv(x_cell, x_drug, bipartite_adjacency(EDGES, 3, 2))

    xc, xd = x_cell.numpy().astype(float), x_drug.numpy().astype(float)
    a = np.array([[1, 0], [1, 1], [0, 0]], float)
    deg_c, deg_d = a.sum(1) + 1, a.sum(0) + 1
    agg = a / np.sqrt(deg_c)[:, None] / np.sqrt(deg_d)[None, :]
    g_cell = (1 + 1 / deg_c)[:, None] * xc + agg @ xd
    g_drug = (1 + 1 / deg_d)[:, None] * xd + agg.T @ xc
    np.testing.assert_allclose(h_cell.numpy(), 0.75 * g_cell + 0.25 * g_cell * xc, rtol=1e-5)
    np.testing.assert_allclose(h_drug.numpy(), 0.75 * g_drug + 0.25 * g_drug * xd, rtol=1e-5)
    # the isolated cell only sees itself, with self weight 2
    np.testing.assert_allclose(h_cell[2].numpy(), 0.75 * 2 * xc[2] + 0.25 * 2 * xc[2] ** 2,
                               rtol=1e-5)


def test_layer_shapes_gradients_and_repr():
    torch.manual_seed(0)
    conv = NeighborhoodInteractionConv(4, 5, alpha=0.45)
    assert repr(conv) == "NeighborhoodInteractionConv(4, 5, alpha=0.45)"
    x_cell = torch.randn(3, 4, requires_grad=True)
    x_drug = torch.randn(2, 4, requires_grad=True)
    h_cell, h_drug = conv(x_cell, x_drug, bipartite_adjacency(EDGES, 3, 2))
    assert h_cell.shape == (3, 5) and h_drug.shape == (2, 5)
    assert (h_cell >= 0).all() and (h_drug >= 0).all()  # ReLU
    (h_cell.sum() + h_drug.sum()).backward()
    for tensor in (x_cell, x_drug, *conv.parameters()):
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all()
    assert x_drug.grad.abs().sum() > 0
    with pytest.raises(DataError, match="do not match"):
        conv(torch.randn(4, 4), x_drug, bipartite_adjacency(EDGES, 3, 2))
    old = conv.lin_cell.weight.detach().clone()
    conv.reset_parameters()
    assert not torch.equal(old, conv.lin_cell.weight)


def test_layer_dense_and_sparse_agree_with_gradients():
    torch.manual_seed(1)
    conv = NeighborhoodInteractionConv(4, 3)
    edges = torch.tensor([[0, 1, 1, 3, 4], [0, 0, 2, 1, 2]])
    outputs = []
    for sparse in (False, True):
        x_cell = torch.randn(5, 4, generator=torch.Generator().manual_seed(2)).requires_grad_()
        x_drug = torch.randn(3, 4, generator=torch.Generator().manual_seed(3)).requires_grad_()
        conv.zero_grad()
        h_cell, h_drug = conv(x_cell, x_drug, bipartite_adjacency(edges, 5, 3, sparse=sparse))
        (h_cell.square().sum() + h_drug.sum()).backward()
        outputs.append((h_cell, h_drug, x_cell.grad, x_drug.grad,
                        conv.lin_cell.weight.grad.clone()))
    for dense_t, sparse_t in zip(*outputs, strict=True):
        torch.testing.assert_close(dense_t, sparse_t)


# ------------------------------------------------------------------- decoder
def test_pearson_matches_numpy_corrcoef():
    rng = np.random.default_rng(0)
    cells, drugs = rng.normal(size=(6, 10)), rng.normal(size=(4, 10))
    expected = np.corrcoef(cells, drugs)[:6, 6:]
    got = pearson_correlation(torch.from_numpy(cells), torch.from_numpy(drugs))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-10)
    pairs = torch.tensor([[0, 5, 2], [3, 0, 2]])
    np.testing.assert_allclose(
        pearson_correlation(torch.from_numpy(cells), torch.from_numpy(drugs), pairs).numpy(),
        expected[[0, 5, 2], [3, 0, 2]], atol=1e-10)
    probs = pearson_decoder(torch.from_numpy(cells), torch.from_numpy(drugs), gamma=8.0)
    np.testing.assert_allclose(probs.numpy(), 1 / (1 + np.exp(-8 * expected)), atol=1e-10)
    logits = PearsonDecoder(gamma=8.0, logits=True)(torch.from_numpy(cells),
                                                     torch.from_numpy(drugs), pairs)
    np.testing.assert_allclose(logits.numpy(), 8 * expected[[0, 5, 2], [3, 0, 2]], atol=1e-9)
    assert repr(PearsonDecoder()) == "PearsonDecoder(gamma=8.0, logits=False)"


def test_pearson_of_a_constant_row_is_zero_not_nan():
    x = torch.zeros(2, 5, requires_grad=True)
    y = torch.randn(3, 5)
    corr = pearson_correlation(x, y)
    assert torch.equal(corr, torch.zeros(2, 3))
    corr.sum().backward()
    assert torch.isfinite(x.grad).all()


# --------------------------------------------------------------------- split
def _labelled_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.2).astype(float)
    label[:10] = np.nan
    return pd.DataFrame({"cell": [f"c{i % 40}" for i in range(n)],
                         "drug": [f"d{i // 40}" for i in range(n)], "label": label})


def test_nihgcn_random_split_is_balanced_and_partitions_positives():
    frame = _labelled_frame()
    parts = SPLITS.get("nihgcn-random")(frame, 5, np.random.default_rng(0))
    label = frame["label"].to_numpy()
    positives = np.flatnonzero(label == 1)
    tested_pos, tested_neg = [], []
    for train, test in parts:
        assert not set(train) & set(test)
        assert len(train) + len(test) == len(frame)  # everything else trains
        pos, neg = test[label[test] == 1], test[label[test] == 0]
        assert len(pos) == len(neg) and len(pos) + len(neg) == len(test)
        tested_pos.extend(pos)
        tested_neg.extend(neg)
    assert sorted(tested_pos) == sorted(positives)  # each positive tested exactly once
    assert len(set(tested_neg)) == len(tested_neg)  # disjoint test negatives
    assert not set(np.flatnonzero(np.isnan(label))) & set(tested_pos + tested_neg)
    again = SPLITS.get("nihgcn-random")(frame, 5, np.random.default_rng(0))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(parts, again, strict=True))


def test_nihgcn_random_split_needs_labels():
    with pytest.raises(DataError, match="label"):
        SPLITS.get("nihgcn-random")(_labelled_frame().drop(columns="label"), 5,
                                    np.random.default_rng(0))


def test_make_folds_nihgcn_random(small):
    if "label" not in split_frame(small):
        pytest.skip("drpkit.splits.folds.split_frame does not pass the label column yet")
    folds = make_folds(small, "nihgcn-random", 5, seed=0)
    expected = paper_folds(small, 5, seed=0)
    for fold, ref in zip(folds, expected, strict=True):
        assert np.array_equal(fold.test, ref.test) and np.array_equal(fold.val, ref.val)


def test_paper_folds_balanced_on_real_data(small):
    fold = paper_folds(small, 5, seed=0)[0]
    check_fold(small, fold)
    for rows in (fold.test, fold.val):
        labels = small.responses["label"].iloc[rows]
        assert (labels == 1).sum() == (labels == 0).sum() > 0


# ------------------------------------------------------------ model: leakage
@pytest.fixture(scope="module")
def fingerprints(small):
    """Compute the Morgan fingerprints once (memoised in the shared drug views)."""
    return small.drug_view("morgan")


@pytest.mark.parametrize("kind,nodes", [("random", "transductive"),
                                        ("cell-blind", "transductive"),
                                        ("cell-blind", "inductive"),
                                        ("nihgcn-random", "transductive"),
                                        ("nihgcn-random", "inductive")])
def test_graph_holds_training_positives_only(small, fingerprints, kind, nodes):
    fold = paper_folds(small)[0] if kind == "nihgcn-random" else make_folds(small, kind, 5)[0]
    train, val = small.subset(fold.train), small.subset(fold.val)
    model = create_model("nihgcn", {**TINY, "nodes": nodes}).fit(train, val)

    r = train.responses
    assert _pairs(model.edges) == _pairs(r[r["label"] == 1])
    held_out = _pairs(small.responses.iloc[np.concatenate([fold.test, fold.val])])
    assert not _pairs(model.edges) & held_out
    # the fitted adjacency itself: zero at every validation / test pair it can index
    agg = model.graph().dense().numpy()
    cell_pos, drug_pos = pd.Index(model.cells_), pd.Index(model.drugs_)
    for part in (fold.test, fold.val):
        p = small.responses.iloc[part]
        ci, di = cell_pos.get_indexer(p["cell"]), drug_pos.get_indexer(p["drug"])
        known = (ci >= 0) & (di >= 0)
        assert np.all(agg[ci[known], di[known]] == 0)
    # expression scaled with training cells only
    genes = list(model.genes_)
    x = small.cell_view("expression").loc[np.unique(r["cell"]), genes].to_numpy(np.float64)
    np.testing.assert_allclose(model.gene_mean_, x.mean(0), rtol=1e-6, atol=1e-9)

    if kind == "cell-blind":
        test_cells = np.unique(small.responses["cell"].iloc[fold.test])
        if nodes == "transductive":  # present as isolated nodes: no messages, self weight 2
            rows = cell_pos.get_indexer(test_cells)
            assert (rows >= 0).all() and not agg[rows].any()
        else:  # not nodes at fit time; predict adds them as isolated nodes
            assert not set(test_cells) & set(model.cells_)
        test_pairs = small.responses.iloc[fold.test][["cell", "drug"]]
        scores = model.predict(train, test_pairs)["score"].to_numpy()
        assert scores.shape == (len(fold.test),) and np.isfinite(scores).all()
        # adding held-out nodes does not change the predictions of fitted ones
        train_pairs = r[["cell", "drug"]].iloc[:50]
        alone = model.predict(train, train_pairs)["score"].to_numpy()
        together = model.predict(train, pd.concat([train_pairs, test_pairs]))["score"]
        np.testing.assert_allclose(together.to_numpy()[:50], alone, rtol=1e-5, atol=1e-6)


def test_ablations_have_the_right_heads():
    names = {"nihgcn": (False, False), "mtigcn": (True, True), "mtigcn-a": (False, True),
             "mtigcn-b": (True, False)}
    for name, (regression, similarity) in names.items():
        model = create_model(name, TINY)
        assert (model.regression_head, model.similarity_head) == (regression, similarity)
        assert ("value" in model.outputs) == regression
        net = model._build_net(10, 8)
        assert (net.reg_cell is not None) == regression
        assert (net.sim_cell is not None) == similarity
        if similarity:  # the drug head has its own layer (upstream reused the cell one)
            assert net.sim_drug is not net.sim_cell
    assert create_model("mtigcn").config.trainer.max_epochs == 2000
    assert create_model("nihgcn").config.trainer.max_epochs == 1000
    with pytest.raises(DataError):
        create_model("nihgcn", {"alpha": 1.5})


def test_fingerprint_auto_prefers_stored_pubchem920():
    responses = pd.DataFrame({"cell": ["a", "b"], "drug": ["x", "y"], "value": [1.0, 2.0],
                              "label": [1.0, 0.0]})
    data = DrugResponseData("toy", "ln_ic50", "low", responses)
    assert fingerprint_name("auto", data) == "pubchem"
    data.drug_views["pubchem920"] = pd.DataFrame(np.zeros((2, 920), np.uint8), index=["x", "y"])
    assert fingerprint_name("auto", data) == "pubchem920"
    assert fingerprint_name("morgan", data) == "morgan"


def test_fit_needs_a_labelled_validation_part(small, fingerprints):
    fold = make_folds(small, "random", 5)[0]
    with pytest.raises(DataError, match="validation"):
        create_model("nihgcn", TINY).fit(small.subset(fold.train))


# ------------------------------------------------------------- persistence
def test_save_load_round_trip(small, fingerprints, tmp_path):
    fold = make_folds(small, "cell-blind", 5, seed=0)[0]
    train = small.subset(fold.train)
    model = create_model("mtigcn", {**TINY, "nodes": "inductive"})
    model.fit(train, small.subset(fold.val))
    pairs = small.responses.iloc[fold.test][["cell", "drug"]]  # unseen cells: isolated nodes
    before = model.predict(train, pairs)
    model.save(tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.pkl"))
    again = load_model(tmp_path / "m")
    assert type(again) is type(model) and again.config == model.config
    after = again.predict(train, pairs)
    assert list(after.columns) == ["score", "value"]
    np.testing.assert_allclose(after.to_numpy(), before.to_numpy(), rtol=1e-6, atol=1e-6)


# -------------------------------------------------------------- integration
@pytest.fixture(scope="module")
def random_fold(small):
    return make_folds(small, "random", 5, seed=0)[0]


@pytest.fixture(scope="module")
def naive_results(small, random_fold):
    return {name: run_fold(small, name, random_fold).metrics
            for name in ("naive-global", "naive-drug", "naive-cell")}


@pytest.mark.integration
@pytest.mark.parametrize("name", ["nihgcn", "mtigcn"])
def test_beats_naive_baselines_on_held_out_pairs(small, fingerprints, random_fold,
                                                 naive_results, name):
    result = run_fold(small, name, random_fold, FAST)
    best_naive = max(naive_results["naive-drug"]["auroc"], naive_results["naive-cell"]["auroc"])
    assert result.metrics["auroc"] > max(best_naive + 0.1, 0.75)
    history = result.fitted.history_
    assert history.best_epoch < history.epochs_run <= FAST["trainer"]["max_epochs"]
    if name == "mtigcn":
        assert result.metrics["rmse"] < 0.6 * naive_results["naive-global"]["rmse"]
        assert result.metrics["pcc"] > 0.7
    else:
        assert "rmse" not in result.metrics  # a pure classifier gives no values


# ------------------------------------------------------ exact input compression
def test_row_space_compression_is_exact():
    from drpkit.nn.lowrank import expand_linear, restrict_linear, row_space_basis

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(12, 5, generator=gen) @ torch.randn(5, 40, generator=gen)  # rank 5
    basis = row_space_basis(x)
    assert basis.shape == (40, 5)
    torch.testing.assert_close(basis.t() @ basis, torch.eye(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(x @ basis @ basis.t(), x, atol=1e-4, rtol=1e-4)
    linear = torch.nn.Linear(40, 7)
    small_layer = restrict_linear(linear, basis)
    assert (small_layer.in_features, small_layer.out_features) == (5, 7)
    torch.testing.assert_close(small_layer(x @ basis), linear(x), atol=1e-4, rtol=1e-4)
    back = expand_linear(small_layer, basis)
    torch.testing.assert_close(back(x), linear(x), atol=1e-4, rtol=1e-4)
    with pytest.raises(DataError, match="does not fit"):
        restrict_linear(torch.nn.Linear(39, 7), basis)
    with pytest.raises(DataError, match="NaN"):
        row_space_basis(torch.tensor([[1.0, float("nan")]]))


def test_compressed_model_computes_the_uncompressed_function(small, fingerprints):
    """With a zero learning rate both fits keep their (identical) initial weights,
    so the compressed model, folded back, must predict what the plain one does."""
    fold = make_folds(small, "random", 5, seed=0)[0]
    train, val = small.subset(fold.train), small.subset(fold.val)
    config = {**TINY, "n_genes": None, "trainer": {"max_epochs": 1, "lr": 0.0}}
    pairs = small.responses.iloc[fold.test][["cell", "drug"]]
    out = {}
    for compress in (True, False):
        model = create_model("mtigcn", {**config, "compress_inputs": compress})
        out[compress] = model.fit(train, val).predict(train, pairs)
        assert model.module_.cell_proj[0].in_features == len(model.genes_)
    np.testing.assert_allclose(out[True].to_numpy(), out[False].to_numpy(),
                               rtol=1e-3, atol=1e-3)
