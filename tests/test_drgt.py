"""drGT: the graph never holds a held-out pair, held-out nodes join without
response edges, hidden target links stay out of the graph, attention export
shapes and sums, persistence, the drGT-labelled dataset and protocols, and a
small real run against the naive baselines."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from drpkit.experiment import run_fold
from drpkit.explain.attention import layer_matrix, rollout
from drpkit.models import MODELS, create_model, load_model
from drpkit.models.drgt_graph import DIRECTED
from drpkit.models.requirements import data_for_model
from drpkit.splits import SPLITS, check_fold, make_folds

TINY = {"n_genes": 100, "hidden": 16, "channels": 8, "heads": 2, "head_hidden": [16],
        "genes_per_cell": 20, "explain_top": 500,
        "trainer": {"max_epochs": 4, "patience": 4}}


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["cell"].astype(str), frame["drug"].astype(str), strict=True))


@pytest.fixture(scope="module")
def prepared(small):
    """The small subset as drgt receives it (SMILES, fingerprints, the dti resource)."""
    data = data_for_model(create_model("drgt"), small)
    data.drug_view("morgan")  # computed once, shared by the tests
    return data


def _fit(data, fold, **extra):
    model = create_model("drgt", {**TINY, **extra})
    return model.fit(data.subset(fold.train), data.subset(fold.val))


def _edges(g, kind: str) -> np.ndarray:
    return g.edge_index[:, g.kind == DIRECTED.index(kind)].numpy()


@pytest.mark.parametrize("split", ["random", "cell-blind", "drug-blind", "disjoint"])
def test_no_held_out_pair_in_any_edge_set(prepared, split):
    fold = make_folds(prepared, split, 5, seed=0)[0]
    model = _fit(prepared, fold)
    r = prepared.responses
    train_pos = _pairs(r.iloc[fold.train].loc[lambda f: f["label"] == 1])
    assert _pairs(model.edges) == train_pos
    held_out = _pairs(r.iloc[np.concatenate([fold.val, fold.test])])
    test = r.iloc[fold.test]
    cells, drugs = model.extended_nodes(test)
    g = model.graph(prepared, cells, drugs)
    for kind in ("cell->drug", "drug->cell"):
        src, dst = _edges(g, kind)
        c, d = (src, dst) if kind == "cell->drug" else (dst, src)
        found = set(zip(cells[c - g.n_drugs], drugs[d], strict=True))
        assert found == train_pos and not found & held_out


@pytest.mark.parametrize("split,side", [("cell-blind", "cell"), ("drug-blind", "drug")])
def test_held_out_nodes_join_without_response_edges(prepared, split, side):
    fold = make_folds(prepared, split, 5, seed=0)[0]
    model = _fit(prepared, fold)
    test = prepared.responses.iloc[fold.test]
    fitted = model.cells_ if side == "cell" else model.drugs_
    assert not set(test[side]) & set(fitted)  # inductive: not nodes while training
    cells, drugs = model.extended_nodes(test)
    g = model.graph(prepared, cells, drugs)
    if side == "cell":
        new = np.arange(g.n_drugs + len(model.cells_), g.n_drugs + g.n_cells)
        allowed = {DIRECTED.index("gene->cell")}
    else:
        new = np.arange(len(model.drugs_), g.n_drugs)
        allowed = {DIRECTED.index("gene->drug")}
    src, dst = g.edge_index.numpy()
    touching = np.isin(src, new) | np.isin(dst, new)
    assert set(g.kind.numpy()[touching]) <= allowed  # edges into them only, no responses
    assert not np.isin(src, new).any()
    # joining changes no fitted node's embedding
    h_fit, g_fit, _ = model.encode(prepared)
    h_ext, _, _ = model.encode(prepared, cells, drugs)
    n_d = len(model.drugs_)
    torch.testing.assert_close(h_ext[:n_d], h_fit[:n_d])
    c0 = g.n_drugs
    torch.testing.assert_close(h_ext[c0:c0 + len(model.cells_)], h_fit[n_d:n_d + g_fit.n_cells])


def test_hidden_target_links_are_absent_from_the_graph(prepared):
    fold = make_folds(prepared, "random", 5, seed=0)[0]
    model = _fit(prepared, fold, hide_dti=0.5)
    hidden, visible = model.state_.hidden, model.state_.dti
    assert len(hidden) and len(visible)
    assert abs(len(hidden) - 0.5 * (len(hidden) + len(visible))) <= 1
    g = model.graph(prepared)
    genes = np.asarray(model.state_.genes)
    src, dst = _edges(g, "gene->drug")
    in_graph = set(zip(model.drugs_[dst], genes[src - g.n_drugs - g.n_cells], strict=True))
    pairs = set(zip(hidden["drug"], hidden["gene"], strict=True))
    assert in_graph == set(zip(visible["drug"], visible["gene"], strict=True))
    assert not pairs & in_graph
    assert set(hidden["gene"]) <= set(genes)  # still ranked: gene nodes without that edge
    art = model.explain(prepared.subset(fold.train))
    exported = art["hidden_dti"]
    assert set(zip(exported["drug"], exported["gene"], strict=True)) == pairs
    scores = art["drug_gene_scores"]
    assert set(zip(scores.loc[scores["hidden"], "drug"], scores.loc[scores["hidden"], "gene"],
                   strict=True)) == pairs
    assert not scores.loc[scores["hidden"], "dti"].any()


@pytest.mark.parametrize("conv", ["gatv2", "gat", "transformer"])
def test_attention_export_shapes_and_sums(prepared, conv):
    fold = make_folds(prepared, "random", 5, seed=0)[0]
    model = _fit(prepared, fold, conv=conv, layers=3)
    _, g, layers = model.encode(prepared, attention=True)
    assert len(layers) == 3
    for i, att in enumerate(layers):
        assert att.alpha.shape == (att.edge_index.shape[1], 2)
        sums = torch.zeros(g.n_nodes, 2).index_add_(0, att.edge_index[1], att.alpha.float())
        has_in = torch.bincount(att.edge_index[1], minlength=g.n_nodes) > 0
        torch.testing.assert_close(sums[has_in], torch.ones_like(sums[has_in]))
        if i == 2:  # the last layer computes messages into drugs and cells only
            src, dst = att.edge_index
            assert (dst[src != dst] < g.n_drugs + g.n_cells).all()  # (+ GAT's self-loops)
    flow = rollout(layers, g.n_nodes, torch.arange(g.n_drugs))
    torch.testing.assert_close(flow.sum(1), torch.ones(g.n_drugs))
    row_sums = torch.sparse.sum(layer_matrix(layers[0], g.n_nodes), 1).to_dense()
    has_in = torch.bincount(layers[0].edge_index[1], minlength=g.n_nodes) > 0
    torch.testing.assert_close(row_sums[has_in], torch.ones(int(has_in.sum())))
    art = model.explain(prepared.subset(fold.train))
    scores = art["drug_gene_scores"]
    sums = scores.groupby("drug")["score"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-5)  # explain_top keeps all
    assert set(scores["drug"]) == set(model.drugs_)
    direct = art["drug_gene_attention"]
    n_links = len(model.state_.dti)
    assert (direct["direction"] == "gene->drug").sum() == n_links * 3 * 2  # layers x heads
    assert (direct["direction"] == "drug->gene").sum() == n_links * 2 * 2  # not the last
    assert direct["alpha"].between(0, 1).all()


def test_ablations_drop_gene_nodes_or_target_edges(prepared):
    fold = make_folds(prepared, "random", 5, seed=0)[0]
    no_genes = _fit(prepared, fold, use_genes=False)
    g = no_genes.graph(prepared)
    assert g.n_genes == 0 and set(g.kind.numpy()) <= {0, 1}
    assert no_genes.explain(prepared.subset(fold.train)) == {}
    no_dti = _fit(prepared, fold, use_dti=False)
    assert not (no_dti.graph(prepared).kind >= 4).any() and not len(no_dti.state_.dti)


@pytest.mark.parametrize("split", ["cell-blind", "drug-blind"])
def test_save_load_round_trip_with_new_nodes(prepared, tmp_path, split):
    fold = make_folds(prepared, split, 5, seed=0)[0]
    model = _fit(prepared, fold, relation_features=True, norm="batch")
    train = prepared.subset(fold.train)
    pairs = prepared.responses.iloc[fold.test][["cell", "drug"]]
    before = model.predict(train, pairs)
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    pd.testing.assert_frame_equal(before, again.predict(train, pairs), rtol=1e-5, atol=1e-5)
    assert np.isfinite(before.to_numpy()).all() and before["score"].between(0, 1).all()


def test_drgt_beats_the_naive_baselines_on_held_out_pairs(small):
    fold = make_folds(small, "random", 5, seed=0)[0]
    result = run_fold(small, "drgt", fold, MODELS.get("drgt").smoke_config)
    m = result.metrics
    base = {name: run_fold(small, name, fold).metrics
            for name in ("naive-global", "naive-drug", "naive-cell")}
    assert m["auroc"] > max(b["auroc"] for b in base.values()) + 0.15
    assert m["pcc"] > base["naive-drug"]["pcc"] and m["rmse"] < base["naive-drug"]["rmse"]
    assert m["drug_pcc_mean"] > 0.4  # ranks cells within drugs (per-drug mean: 0)


# ------------------------------------------------------------- protocols, data
@pytest.mark.parametrize("kind,column", [("drgt-new-cell", "cell"), ("drgt-new-drug", "drug")])
def test_leave_out_protocols_hold_out_eligible_entities_whole(small, kind, column):
    from drpkit.splits.drgt import eligible

    folds = make_folds(small, kind, 5, seed=0)
    r = small.responses
    ok = set(eligible(r, column))
    tested = set()
    for fold in folds:
        check_fold(small, fold)
        ids = set(r[column].iloc[fold.test])
        assert ids <= ok and not ids & tested
        tested |= ids
        assert (r[column].isin(ids).sum()) == len(fold.test)  # every pair of a tested entity
    assert tested == ok
    assert SPLITS.get(kind).blind_on == (column,)


def test_eligibility_is_drgts_filter():
    from drpkit.splits.drgt import eligible

    frame = pd.DataFrame({"cell": ["a"] * 20 + ["b"] * 9 + ["c"] * 100,
                          "label": [1, 0] * 10 + [1, 0, 1, 0, 1, 0, 1, 0, 1] + [1] + [0] * 99})
    assert list(eligible(frame, "cell")) == ["a"]  # b: < 10 pairs; c: 1% sensitive


@pytest.mark.integration
def test_drgt_labelled_dataset_keeps_the_papers_labels():
    from drpkit.data import load_dataset

    data = load_dataset("gdsc2-drgt")
    r = data.responses
    assert data.label_rule == "given" and set(r["label"].unique()) == {0.0, 1.0}
    assert np.isfinite(r["value"]).all()
    assert r.groupby("label")["value"].mean()[1.0] < r.groupby("label")["value"].mean()[0.0] - 2
    assert any("dropped" in note and "ln IC50" in note for note in data.notes)
    assert len(data.drugs) > 140 and len(data.cells) > 600
