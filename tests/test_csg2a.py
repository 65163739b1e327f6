"""csg2a: the attention algebra, frozen fine-tuning, checkpoints, and held-out skill."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import run_cli

from drpkit.errors import DataError
from drpkit.experiment import run_fold
from drpkit.models import create_model, load_model
from drpkit.models.csg2a import robust_scaling
from drpkit.models.csg2a_explain import moa_correlation
from drpkit.models.csg2a_pretrain import META_FILE, PretrainConfig, load_block, pretrain
from drpkit.models.requirements import data_for_model
from drpkit.nn.csg2a_net import ConditionEncoder, CSG2ABlock, CSG2ANet
from drpkit.nn.encoders.drugs import MolEncoderHead
from drpkit.splits import make_folds


def _block(form: str, n_genes: int = 4, hidden: int = 3, prior=None) -> CSG2ABlock:
    torch.manual_seed(0)
    drug = MolEncoderHead({"dim": 5, "dropout": 0.0})
    drug._build()
    return CSG2ABlock(ConditionEncoder(drug, n_genes, 0.0), n_genes, hidden, form, prior, 0.0)


def test_attention_is_qqt_over_sqrt_b_plus_ppi_on_a_hand_example():
    prior = torch.tensor([[1., 1, 0, 0], [1, 1, 0, 1], [0, 0, 1, 0], [0, 1, 0, 1]])
    block = _block("gene-to-gene", prior=prior)
    with torch.no_grad():
        block.w_gene.copy_(torch.arange(12.).reshape(4, 3) / 10)
        block.w_comp.copy_(torch.ones(4, 3))
    g = torch.tensor([[1., -1, 0.5, 2]])
    c = torch.tensor([[0., 1, 2, -1]])
    q = g[0, :, None] * block.w_gene + c[0, :, None] * block.w_comp  # written out by hand
    expected = q @ q.T / math.sqrt(3) + prior
    got = block.attention(g, c)[0]
    torch.testing.assert_close(got, expected)
    # entry (0, 1) spelled out: Q_0 = 1*(0, .1, .2) + 0 = (0, .1, .2); Q_1 = -1*(.3, .4, .5) + 1
    assert float(got[0, 1].detach()) == pytest.approx((0 * .7 + .1 * .6 + .2 * .5) / math.sqrt(3) + 1)


@pytest.mark.parametrize("form", ["gene-to-gene", "gene-wise"])
def test_fast_first_layer_equals_the_explicit_attention(form):
    prior = torch.eye(6) + torch.diag(torch.ones(5), 1) + torch.diag(torch.ones(5), -1)
    block = _block(form, n_genes=6, hidden=4, prior=prior)
    g, c = torch.randn(3, 6), torch.randn(3, 6)
    a = block.attention(g, c)
    if form == "gene-to-gene":  # the paper: A is the weight of a linear layer over genes
        expected = torch.einsum("nij,nj->ni", a, g)
    else:  # the public code: einsum('ij,ijk->ij')
        expected = torch.einsum("ij,ijk->ij", g, a)
    torch.testing.assert_close(block.first_layer(g, c), expected, rtol=1e-4, atol=1e-4)


def test_gene_to_gene_and_gene_wise_forms_differ_and_linear_adds():
    g, c = torch.randn(2, 5), torch.randn(2, 5)
    wise, g2g, linear = (_block(f, n_genes=5) for f in ("gene-wise", "gene-to-gene", "linear"))
    assert not torch.allclose(wise.first_layer(g, c), g2g.first_layer(g, c), atol=1e-3)
    # gene-wise scales each gene's own value: a gene at 0 stays 0; gene-to-gene mixes
    g0 = g.clone()
    g0[:, 2] = 0
    assert torch.all(wise.first_layer(g0, c)[:, 2] == 0)
    assert torch.any(g2g.first_layer(g0, c)[:, 2] != 0)
    torch.testing.assert_close(linear.first_layer(g, c), g + c)


def test_robust_scaling_is_median_and_normal_mad():
    x = pd.DataFrame({"a": [1., 2, 3, 4, 100], "b": [5., 5, 5, 5, 6]})
    median, scale = robust_scaling(x)
    assert median.tolist() == [3.0, 5.0]
    assert scale[0] == pytest.approx(1.4826 * 1.0, rel=1e-4)  # MAD of a = median(2,1,0,1,97)
    assert scale[1] == pytest.approx(np.std([5., 5, 5, 5, 6]))  # MAD 0: falls back to the sd


def test_frozen_block_is_unchanged_by_fine_tuning():
    block = _block("gene-to-gene", n_genes=6, hidden=4)
    net = CSG2ANet(block, 6, (16, 8), 0.1, frozen=True)
    before = {k: v.clone() for k, v in block.state_dict().items()}
    head = net.head[-1].weight.clone()
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=0.1)
    net.train()
    assert not block.training  # no dropout, no BatchNorm statistics updates in the block
    for _ in range(5):
        out, _ = net(torch.randn(8, 6), torch.ones(8, 5),
                     torch.full((8,), 10.), torch.full((8,), 72.))
        loss = out.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for key, value in block.state_dict().items():
        torch.testing.assert_close(value, before[key], msg=key)
    assert not torch.equal(net.head[-1].weight, head)


@pytest.mark.parametrize("decay_queries", [True, False])
def test_query_weights_are_exempt_from_weight_decay_when_asked(decay_queries):
    """Under Adam's weight decay alone (a loss with zero gradient) the decayed
    weights shrink; with decay_queries=false W_gene, W_comp, mu and sigma keep
    their values, which is what keeps a long fit's attention from collapsing."""
    from drpkit.train.trainer import parameter_groups

    block = _block("gene-to-gene", n_genes=6, hidden=4)
    net = CSG2ANet(block, 6, (16, 8), 0.1, frozen=False, decay_queries=decay_queries)
    exempt = {"block.w_gene", "block.w_comp", "mu", "sigma"}
    with torch.no_grad():
        net.mu.fill_(0.5)  # 0 would stay 0 under decay
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = torch.optim.Adam(parameter_groups(net, weight_decay=0.5), lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        out, _ = net(torch.randn(8, 6), torch.ones(8, 5), torch.full((8,), 10.),
                     torch.full((8,), 72.))
        (0.0 * out.sum()).backward()
        opt.step()
    after = dict(net.named_parameters())
    for name in exempt:
        assert torch.equal(after[name], before[name]) is (not decay_queries), name
    assert after["head.0.0.weight"].abs().sum() < before["head.0.0.weight"].abs().sum()


def test_unknown_names_in_no_weight_decay_are_an_error():
    from drpkit.train.trainer import parameter_groups

    class Named(torch.nn.Linear):
        def no_weight_decay(self):
            return {"weight", "no_such_parameter"}

    with pytest.raises(ValueError, match="no_such_parameter"):
        parameter_groups(Named(2, 2), 0.1)


@pytest.fixture(scope="module")
def lincs_dir(tmp_path_factory, small):
    from drpkit.data.lincs import write_lincs_example
    from drpkit.resources import landmark_genes

    expression = small.cell_view("expression")
    landmarks = [g for g in landmark_genes() if g in expression.columns]
    genes = list(expression[landmarks].var().sort_values().index[-40:])  # real landmark genes
    directory = tmp_path_factory.mktemp("lincs")
    write_lincs_example(directory, genes=genes, n_plates=4, n_compounds=6, seed=0)
    return directory, genes


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, lincs_dir):
    from drpkit.data.lincs import read_lincs

    directory, genes = lincs_dir
    lincs = read_lincs(directory, genes)
    out = tmp_path_factory.mktemp("ckpt") / "csg2a"
    cfg = PretrainConfig(drug_encoder="fingerprint-mlp", drug_dim=16, hidden=8,
                         ppi="string-mossn", trainer={"max_epochs": 40, "patience": 10,
                                                      "lr": 3e-3})
    meta = pretrain(lincs, out, cfg)
    return out, meta


def test_pretraining_on_the_test_gctx_learns_and_writes_a_safe_checkpoint(checkpoint):
    out, meta = checkpoint
    assert sorted(p.name for p in out.iterdir()) == [META_FILE, "weights.safetensors"]
    first = meta["history"]["val"][0]["val_loss"]
    assert meta["best_val_mse"] < first  # it learned the perturbations of the example
    assert meta["counts"]["treatments"] > 0 and meta["counts"]["genes"] > 0


def test_checkpoint_loads_without_running_code(checkpoint, tmp_path, small):
    out, meta = checkpoint
    block, loaded = load_block(out)
    assert loaded["genes"] == meta["genes"] and block.w_gene.shape[0] == len(meta["genes"])
    # a pickle planted as the weights is refused, never unpickled
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / META_FILE).write_text((out / META_FILE).read_text())
    marker = tmp_path / "ran"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    (bad / "weights.safetensors").write_bytes(payload)
    with pytest.raises(DataError, match="unreadable weights"):
        load_block(bad)
    assert not marker.exists()
    (bad / META_FILE).write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="not a drpkit-csg2a-pretrained"):
        load_block(bad)


def test_fine_tuning_a_pretrained_checkpoint_keeps_it_frozen(checkpoint, small, tmp_path):
    out, _meta = checkpoint
    fold = make_folds(small, "random", 5, seed=0)[0]
    model = create_model("csg2a", pretrained=str(out), head_hidden=[32, 16],
                         trainer={"max_epochs": 4, "patience": 4})
    data = data_for_model(model, small)
    block, _ = load_block(out)
    model.fit(data.subset(fold.train), data.subset(fold.val))
    for key, value in block.state_dict().items():
        torch.testing.assert_close(model.module_.block.state_dict()[key], value, msg=key)
    pairs = small.responses.iloc[fold.test][["cell", "drug"]]
    before = model.predict(data, pairs)["value"].to_numpy()
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m").predict(data, pairs)["value"].to_numpy()
    np.testing.assert_allclose(before, again, rtol=1e-5, atol=1e-5)
    unfrozen = create_model("csg2a", pretrained=str(out), frozen=False, head_hidden=[32, 16],
                            trainer={"max_epochs": 2, "patience": 2})
    unfrozen.fit(data.subset(fold.train), data.subset(fold.val))
    assert not torch.equal(unfrozen.module_.block.w_gene, block.w_gene)


def test_csg2a_beats_the_naive_baselines_on_held_out_pairs(small):
    fold = make_folds(small, "random", 5, seed=0)[0]
    params = dict(create_model("csg2a").smoke_config)
    result = run_fold(small, "csg2a", fold, params).metrics
    for naive in ("naive-drug", "naive-additive"):
        floor = run_fold(small, naive, fold).metrics
        assert result["rmse"] < floor["rmse"], naive
        assert result["pcc"] > floor["pcc"], naive
    assert result["drug_pcc_mean"] > 0.3  # it ranks cells within drugs (naive-drug: 0)


def test_explain_gives_attention_tables_and_moa_groups(small):
    fold = make_folds(small, "random", 5, seed=0)[0]
    model = create_model("csg2a", create_model("csg2a").smoke_config, explain_cells=4,
                         explain_top=10, explain_pairs=20)
    data = data_for_model(model, small)
    model.fit(data.subset(fold.train), data.subset(fold.val))
    tables = model.explain(data.subset(fold.train))
    scores = tables["drug_gene_scores"]
    assert set(scores.columns) >= {"drug", "gene", "score", "rank"}
    assert scores.groupby("drug").size().max() == 10
    assert (tables["drug_gene_pair_attention"]["gene_a"] !=
            tables["drug_gene_pair_attention"]["gene_b"]).all()
    maps = tables["drug_attention_map"]
    assert maps.groupby("drug").size().max() == model.config.explain_map_genes ** 2
    one = maps[maps["drug"] == maps["drug"].iloc[0]].pivot(index="gene_a", columns="gene_b",
                                                           values="attention")
    np.testing.assert_allclose(one.to_numpy(), one.T.loc[one.index, one.columns].to_numpy(),
                               rtol=1e-4, atol=1e-5)  # Q Q^T is symmetric
    sim = tables["drug_attention_similarity"]
    n = small.responses.iloc[fold.train]["drug"].nunique()
    assert len(sim) == n * (n - 1) // 2 and sim["pcc"].between(-1, 1).all()
    drugs = sorted(set(sim["drug_a"]) | set(sim["drug_b"]))
    targets = pd.DataFrame({"drug": drugs, "gene": ["EGFR", "EGFR"] + ["T"] * 0 + [
        f"G{i}" for i in range(len(drugs) - 2)]})
    out = moa_correlation(sim, targets)
    assert out["pairs sharing a target"] == 1
    assert out["pairs sharing none"] == len(sim) - 1


def test_missing_genes_of_a_user_list_fail_clearly(small):
    fold = make_folds(small, "random", 5, seed=0)[0]
    model = create_model("csg2a", genes=["NOT_A_GENE", "ALSO_NOT"], ppi="none",
                         drug_encoder="fingerprint-mlp")
    data = data_for_model(model, small)
    with pytest.raises(DataError, match="only 0 of the requested genes"):
        model.fit(data.subset(fold.train), data.subset(fold.val))


def test_cli_pretrain_writes_a_checkpoint_and_refuses_bad_input(monkeypatch, capsys, tmp_path,
                                                                 lincs_dir):
    directory, _ = lincs_dir
    out = tmp_path / "ckpt"
    code, stdout, err = run_cli(monkeypatch, capsys, "pretrain", "csg2a", "--lincs", directory,
                                "--out", out, "-p", "drug_encoder=fingerprint-mlp",
                                "-p", "trainer.max_epochs=3", "-p", "ppi=none")
    assert code == 0, err
    assert "checkpoint" in stdout and (out / META_FILE).exists()
    meta = json.loads((out / META_FILE).read_text())
    assert meta["ppi"] == "none" and meta["epochs"] == 3
    code, _, err = run_cli(monkeypatch, capsys, "pretrain", "csg2a", "--lincs", directory,
                           "--out", out)
    assert code == 2 and "exists" in err  # never overwritten without --replace
    code, _, err = run_cli(monkeypatch, capsys, "pretrain", "csg2a", "--lincs",
                           tmp_path / "nowhere", "--out", tmp_path / "x")
    assert code == 2 and "GSE92742" in err and not (tmp_path / "x").exists()
    code, _, err = run_cli(monkeypatch, capsys, "pretrain", "ridge", "--lincs", directory,
                           "--out", tmp_path / "y")
    assert code == 2 and "no pretraining" in err
