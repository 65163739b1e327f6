"""HGACL-DRP: kernels, view fusion, reliable neighbours, the heterogeneous graph,
the contrastive loss and perturbations, leakage, missing views, ablations,
persistence and a small real run."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from drpkit.errors import DataError
from drpkit.experiment import run_fold
from drpkit.features.fitted_views import FittedView
from drpkit.models import create_model, load_model
from drpkit.models import hgacl as hgacl_module
from drpkit.nn import (
    GCNEncoder,
    ViewFusion,
    add_feature_noise,
    drop_edges,
    fuse_kernels,
    heterogeneous_adjacency,
    info_nce,
    reliable_neighbours,
)
from drpkit.splits import make_folds

# small and fast: enough to learn something on ~150 cells x 30 drugs
FAST = {"n_genes": 500, "drug_fingerprint": "morgan", "nodes": "inductive", "embed_dim": 64,
        "layers": [64], "decoder_dim": 32, "trainer": {"max_epochs": 300, "patience": 30}}
TINY = {**FAST, "embed_dim": 16, "layers": [16], "decoder_dim": 8,
        "trainer": {"max_epochs": 3, "patience": 3}}


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["cell"], frame["drug"], strict=True))


@pytest.fixture(scope="module")
def fingerprints(small):
    """Compute the Morgan fingerprints once (memoised in the shared drug views)."""
    return small.drug_view("morgan")


def _fit(data, fold, config=TINY):
    return create_model("hgacl", config).fit(data.subset(fold.train), data.subset(fold.val))


# -------------------------------------------------------------------- kernels
@pytest.fixture
def toy_views():
    rng = np.random.default_rng(0)
    cells = [f"c{i}" for i in range(8)]
    continuous = pd.DataFrame(rng.normal(size=(8, 5)), index=cells,
                              columns=[f"g{j}" for j in range(5)])
    binary = pd.DataFrame(rng.random((8, 6)) < 0.4, index=cells,
                          columns=[f"m{j}" for j in range(6)]).astype(np.int8)
    return continuous, binary, np.array(cells[:6])  # first six cells train


def _z(frame: pd.DataFrame, train: np.ndarray) -> np.ndarray:
    x = frame.to_numpy(np.float64)
    t = frame.loc[train].to_numpy(np.float64)
    return (x - t.mean(0)) / t.std(0)


def _normalised(k: np.ndarray, rows: slice) -> np.ndarray:
    return k / np.linalg.norm(k[rows, rows])


@pytest.mark.parametrize("kernel", ["gaussian", "polynomial", "jaccard"])
def test_view_kernels_match_direct_formulas(toy_views, kernel):
    continuous, binary, train = toy_views
    frame = binary if kernel == "jaccard" else continuous
    view = FittedView.fit("v", kernel, frame, train, degree=3)
    x, present = view.features(frame, np.asarray(frame.index))
    assert present.all()
    got = view.similarity(torch.from_numpy(x).double(), torch.from_numpy(x).double()).numpy()

    if kernel == "jaccard":
        b = binary.to_numpy(bool)
        inter = (b[:, None, :] & b[None, :, :]).sum(-1)
        union = (b[:, None, :] | b[None, :, :]).sum(-1)
        raw = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    else:
        z = _z(continuous, train)
        if kernel == "gaussian":
            zt = z[:6]
            d2_train = ((zt[:, None] - zt[None]) ** 2).sum(-1)
            gamma = 1.0 / d2_train[~np.eye(6, dtype=bool)].mean()
            raw = np.exp(-gamma * ((z[:, None] - z[None]) ** 2).sum(-1))
        else:
            raw = np.maximum((z @ z.T / z.shape[1] + 1.0) ** 3, 0.0)
    expected = _normalised(raw, slice(0, 6))  # Frobenius norm of the training block
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    assert np.linalg.norm(got[:6, :6]) == pytest.approx(1.0)


def test_view_features_zero_rows_for_missing_cells_and_name_missing_columns(toy_views):
    continuous, _, train = toy_views
    view = FittedView.fit("cnv", "polynomial", continuous, train)
    x, present = view.features(continuous.iloc[:5], np.asarray(continuous.index))
    assert present.tolist() == [True] * 5 + [False] * 3
    assert not x[5:].any()
    with pytest.raises(DataError, match=r"view 'cnv' lacks 1 feature.*g4"):
        view.features(continuous.drop(columns="g4"), np.asarray(continuous.index))


# --------------------------------------------------------------------- fusion
def test_fusion_renormalises_over_present_views():
    torch.manual_seed(0)
    fusion = ViewFusion(3, 4, attention_dim=5, dynamic_share=0.5)
    embeddings = torch.randn(3, 6, 4)
    present = torch.ones(6, 3)
    present[2, 1] = 0  # cell 2 lacks view 1
    present[4, 1:] = 0  # cell 4 has only view 0
    fused, weights = fusion(embeddings, present)
    torch.testing.assert_close(weights.sum(1), torch.ones(6))
    assert weights[2, 1] == 0 and weights[4, 1] == 0 and weights[4, 2] == 0
    torch.testing.assert_close(fused[4], embeddings[0, 4])
    torch.testing.assert_close(fused, (embeddings * weights.t()[:, :, None]).sum(0))
    # static weights start equal; with rho = 0 they alone decide
    static = ViewFusion(3, 4, dynamic_share=0.0)(embeddings, torch.ones(6, 3))[1]
    torch.testing.assert_close(static, torch.full((6, 3), 1 / 3))
    with pytest.raises(DataError, match="at least one view"):
        fusion(embeddings, torch.zeros(6, 3))


def test_fuse_kernels_pairwise_over_shared_views():
    rng = np.random.default_rng(1)
    kernels = torch.from_numpy(rng.random((2, 4, 4)))
    weights = torch.tensor([[0.2, 0.8], [0.6, 0.4], [1.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    present = torch.tensor([[1, 1], [1, 1], [1, 0], [1, 1]])
    fused = fuse_kernels(kernels, weights, present).numpy()
    k, w, p = kernels.numpy(), weights.numpy(), present.numpy()
    for i in range(4):
        for j in range(4):
            pair = p[i] * p[j] * (w[i] + w[j]) / 2
            assert fused[i, j] == pytest.approx((pair * k[:, i, j]).sum() / pair.sum())
    np.testing.assert_allclose(fused[2], k[0, 2])  # cell 2 has view 0 only
    # rectangular: rows of later nodes against the first three
    torch.testing.assert_close(fuse_kernels(kernels[:, :, :3], weights, present),
                               torch.from_numpy(fused[:, :3]))


# -------------------------------------------------------- reliable neighbours
def test_reliable_neighbours_keep_exactly_k_excluding_self():
    gen = torch.Generator().manual_seed(0)
    similarity = torch.rand(12, 9, generator=gen, dtype=torch.float64)  # 9 fitted + 3 new
    scores = torch.rand(9, generator=gen, dtype=torch.float64)
    weights, kept = reliable_neighbours(similarity, scores, k=4)
    assert kept.shape == (12, 9) and (kept.sum(1) == 4).all()
    assert not kept[torch.arange(9), torch.arange(9)].any()
    weighted = (similarity * scores).numpy()
    for i in range(12):
        candidates = [j for j in range(9) if j != i]
        best = sorted(candidates, key=lambda j: -weighted[i, j])[:4]
        assert set(np.flatnonzero(kept[i].numpy())) == set(best)
    rows = torch.where(kept, similarity * scores, 0.0)
    rows = rows / rows.sum(1, keepdim=True)
    torch.testing.assert_close(weights[:9, :9], (rows[:9] + rows[:9].t()) / 2)
    torch.testing.assert_close(weights[9:, :9], rows[9:])  # new nodes: edges from candidates
    assert not weights[:, 9:].any()  # ... and none to them
    # plain kNN and a k larger than the candidates
    _, plain = reliable_neighbours(similarity, None, k=4)
    assert (plain.sum(1) == 4).all() and not torch.equal(plain, kept)
    assert (reliable_neighbours(similarity, scores, k=50)[1].sum(1) == 8).all()


def test_neighbour_weights_carry_gradients_to_scores():
    similarity = torch.rand(6, 6, dtype=torch.float64)
    scores = torch.rand(6, dtype=torch.float64, requires_grad=True)
    weights, _ = reliable_neighbours(similarity, scores, k=2)
    (weights * torch.arange(36.0, dtype=torch.float64).reshape(6, 6)).sum().backward()
    assert scores.grad is not None and scores.grad.abs().sum() > 0


# ------------------------------------------------------------- graph and GCN
def test_heterogeneous_adjacency_matches_formula():
    gen = torch.Generator().manual_seed(2)
    s_cell = torch.rand(3, 3, generator=gen, dtype=torch.float64)
    s_cell = (s_cell + s_cell.t()) / 2
    s_drug = torch.zeros(2, 2, dtype=torch.float64)
    edges = torch.tensor([[0, 1, 1], [0, 0, 1]])
    adj = heterogeneous_adjacency(s_cell, s_drug, edges).numpy()
    a = np.array([[1.0, 0], [1, 1], [0, 0]])
    m = np.block([[s_cell.numpy(), a], [a.T, s_drug.numpy()]])
    d = m.sum(1) ** -0.5
    np.testing.assert_allclose(adj, np.eye(5) + d[:, None] * m * d[None, :])
    np.testing.assert_allclose(adj, adj.T)
    with pytest.raises(DataError, match="square"):
        heterogeneous_adjacency(s_cell[:, :2], s_drug, edges)

    encoder = GCNEncoder(4, [6, 3])
    assert repr(encoder) == "GCNEncoder([4, 6, 3])"
    out = encoder(torch.randn(5, 4), torch.from_numpy(adj).float())
    assert out.shape == (5, 3) and (out >= 0).all()


# ---------------------------------------------------- contrastive and views
def test_contrastive_loss_lower_for_aligned_views_than_shuffled():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(40, 16, generator=gen)
    aligned = add_feature_noise(z, 0.1, gen)
    shuffled = aligned[torch.randperm(40, generator=gen)]
    positive = torch.eye(40, dtype=torch.bool)
    assert info_nce(z, aligned, positive) < info_nce(z, shuffled, positive) - 1.0
    # neutral pairs: left out (weight 0) or counted as negatives (weight 1)
    neutral = torch.rand(40, 40, generator=gen) < 0.2
    left_out = info_nce(z, shuffled, positive, neutral, neutral_weight=0.0)
    counted = info_nce(z, shuffled, positive, neutral, neutral_weight=1.0)
    assert left_out < counted
    torch.testing.assert_close(counted, info_nce(z, shuffled, positive))
    # intra-view: the diagonal is ignored, anchors without a positive are skipped
    links = torch.zeros(40, 40, dtype=torch.bool)
    links[0, 1] = links[1, 0] = True
    assert torch.isfinite(info_nce(z, z, links, exclude_diagonal=True))
    assert info_nce(z, z, torch.eye(40, dtype=torch.bool), exclude_diagonal=True) == 0


def test_perturbations():
    gen = torch.Generator().manual_seed(0)
    edges = torch.arange(20).reshape(2, 10)
    kept = drop_edges(edges, 0.2, gen)
    assert kept.shape == (2, 8)
    assert set(map(tuple, kept.t().tolist())) <= set(map(tuple, edges.t().tolist()))
    assert drop_edges(edges, 0.0, gen).shape == (2, 10)
    x = torch.zeros(2000, 5)
    noisy = add_feature_noise(x, 0.1, gen)
    assert noisy.std().item() == pytest.approx(0.1, rel=0.05)
    with pytest.raises(DataError):
        drop_edges(edges, 1.5)


# ------------------------------------------------------------------- leakage
@pytest.mark.parametrize("kind,nodes", [("random", "inductive"), ("cell-blind", "transductive"),
                                        ("cell-blind", "inductive")])
def test_no_held_out_pair_enters_any_view_adjacency(small, fingerprints, kind, nodes):
    fold = make_folds(small, kind, 5, seed=0)[0]
    config = {**TINY, "nodes": nodes, "compress_inputs": False,
              "trainer": {"max_epochs": 2, "patience": 2}}
    model = _fit(small, fold, config)
    train = small.subset(fold.train)
    r = train.responses
    assert _pairs(model.edges) == _pairs(r[r["label"] == 1])
    held_out = small.responses.iloc[np.concatenate([fold.test, fold.val])]
    assert not _pairs(model.edges) & _pairs(held_out)

    out, _ = model.propagate(train)
    n_c = len(model.cells_)
    cell_pos, drug_pos = pd.Index(model.cells_), pd.Index(model.drugs_)
    ci, di = cell_pos.get_indexer(held_out["cell"]), drug_pos.get_indexer(held_out["drug"])
    known = (ci >= 0) & (di >= 0)
    edge_index = torch.from_numpy(model.edge_index_)
    views = {"original and feature": out.adj,
             "structure": heterogeneous_adjacency(out.s_cell, out.s_drug, drop_edges(
                 edge_index, model.config.edge_drop, torch.Generator().manual_seed(0)))}
    for name, adj in views.items():
        response_block = adj[:n_c, n_c:].numpy()
        assert not response_block[ci[known], di[known]].any(), name
        assert np.count_nonzero(response_block) <= len(model.edges)
    test_cells = np.unique(small.responses["cell"].iloc[fold.test])
    if kind == "cell-blind" and nodes == "transductive":  # similarity edges, no response edges
        rows = cell_pos.get_indexer(test_cells)
        assert (rows >= 0).all()
        assert not out.adj[rows, n_c:].any()
        assert (out.adj[rows, :n_c] > 0).sum(1).ge(model.config.k).all()
    if nodes == "inductive":  # only training cells and drugs are nodes
        assert set(model.cells_) == set(r["cell"]) and set(model.drugs_) == set(r["drug"])
        assert not set(test_cells) & set(model.cells_) or kind == "random"
    # z-scores from training cells only
    view = model.views_[0]
    x = small.cell_view("expression").loc[np.unique(r["cell"]), list(view.columns)]
    np.testing.assert_allclose(view.mean, x.to_numpy(np.float64).mean(0), rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------- missing views
def test_fusion_degrades_to_expression_only(small, fingerprints):
    fold = make_folds(small, "random", 5, seed=0)[0]
    only_expression = replace(small, cell_views={"expression": small.cell_view("expression")})
    with pytest.warns(UserWarning, match="no cnv or mutation"):
        model = _fit(only_expression, fold)
    assert model.view_names == ["expression"]
    pairs = small.responses.iloc[fold.test][["cell", "drug"]]
    assert np.isfinite(model.predict(only_expression, pairs)["score"]).all()
    # the ablation asks for it, without a warning
    assert _fit(small, fold, {**TINY, "fusion": False}).view_names == ["expression"]


def test_cell_missing_cnv_still_gets_an_embedding(small, fingerprints):
    fold = make_folds(small, "random", 5, seed=0)[0]
    train_cells = np.unique(small.responses["cell"].iloc[fold.train])
    lacking = train_cells[:5]
    views = {**small.cell_views, "cnv": small.cell_view("cnv").drop(index=lacking)}
    data = replace(small, cell_views=views)
    model = _fit(data, fold)
    assert model.view_names == ["expression", "cnv", "mutation"]
    weights = model.fusion_weights(data)
    np.testing.assert_allclose(weights.sum(1), 1.0, rtol=1e-5)
    has_cnv = weights.index.isin(views["cnv"].index)
    assert (weights.loc[lacking, "cnv"] == 0).all() and (weights["cnv"][~has_cnv] == 0).all()
    assert (weights["cnv"][has_cnv] > 0).all()
    out, _ = model.propagate(data)
    rows = pd.Index(model.cells_).get_indexer(lacking)
    assert torch.isfinite(out.z[rows]).all() and out.h0[rows].abs().sum() > 0
    pairs = data.responses[data.responses["cell"].isin(lacking)][["cell", "drug"]]
    assert np.isfinite(model.predict(data, pairs)["score"]).all()


def test_bad_input_errors_name_the_view_and_ids(small, fingerprints):
    fold = make_folds(small, "random", 5, seed=0)[0]
    no_expression = replace(small, cell_views={"cnv": small.cell_view("cnv")})
    with pytest.raises(DataError, match="expression"):
        _fit(no_expression, fold)
    with pytest.raises(DataError, match="validation"):
        create_model("hgacl", TINY).fit(small.subset(fold.train))
    model = _fit(small, fold)
    with pytest.raises(DataError, match=r"no expression.*'no-such-cell'"):
        model.predict(small, pd.DataFrame({"cell": ["no-such-cell"],
                                           "drug": [model.drugs_[0]]}))
    with pytest.raises(DataError, match="no-such-drug"):
        model.predict(small, pd.DataFrame({"cell": [model.cells_[0]], "drug": ["no-such-drug"]}))
    with pytest.raises(DataError):
        create_model("hgacl", {"perturbations": ["rotation"]})


# ------------------------------------------------------------------ ablations
def test_ablation_flags_change_the_work_done(small, fingerprints, monkeypatch):
    fold = make_folds(small, "random", 5, seed=0)[0]
    calls = []

    def counting(name):
        original = hgacl_module.PERTURBATIONS[name]
        return lambda *args: calls.append(name) or original(*args)

    for name in ("feature", "structure"):
        monkeypatch.setitem(hgacl_module.PERTURBATIONS, name, counting(name))
    _fit(small, fold, {**TINY, "contrastive_weight": 0.0})
    assert calls == []  # lambda = 0 skips the perturbations
    _fit(small, fold, {**TINY, "perturbations": ["structure"]})
    assert set(calls) == {"structure"}
    model = _fit(small, fold, {**TINY, "neighbour_filter": False})
    assert model.module_.cell_attention is None and model.module_.drug_attention is None


# ---------------------------------------------------------------- persistence
def test_save_load_round_trip_and_new_nodes(small, fingerprints, tmp_path):
    fold = make_folds(small, "cell-blind", 5, seed=0)[0]
    train = small.subset(fold.train)
    model = _fit(small, fold)
    test_pairs = small.responses.iloc[fold.test][["cell", "drug"]]  # unseen cells
    assert not set(test_pairs["cell"]) & set(model.cells_)
    before = model.predict(train, test_pairs)
    model.save(tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.pkl"))
    again = load_model(tmp_path / "m")
    assert type(again) is type(model) and again.config == model.config
    assert again.view_names == model.view_names
    np.testing.assert_array_equal(again.predict(train, test_pairs).to_numpy(), before.to_numpy())
    # new nodes join with edges from fitted nodes only: fitted predictions do not move
    train_pairs = train.responses[["cell", "drug"]].iloc[:50]
    alone = model.predict(train, train_pairs)["score"].to_numpy()
    together = model.predict(train, pd.concat([train_pairs, test_pairs]))["score"].to_numpy()
    np.testing.assert_allclose(together[:50], alone, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- integration
@pytest.mark.integration
def test_beats_naive_baselines_on_held_out_pairs(small, fingerprints):
    fold = make_folds(small, "random", 5, seed=0)[0]
    naive = max(run_fold(small, name, fold).metrics["auroc"]
                for name in ("naive-drug", "naive-cell"))
    result = run_fold(small, "hgacl", fold, FAST)
    assert result.metrics["auroc"] > max(naive + 0.1, 0.75)
    history = result.fitted.history_
    assert history.best_epoch < history.epochs_run <= FAST["trainer"]["max_epochs"]
    assert "rmse" not in result.metrics
