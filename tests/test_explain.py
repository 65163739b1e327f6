"""`drpkit explain`: the checks against known answers, integrated gradients for a
model without attention (captum), and the command on train and benchmark runs."""
from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import run_cli

from drpkit.explain.checks import dti_recovery, enrichment, known_share
from drpkit.explain.gradients import ADAPTERS, gradient_scores, sample_pairs
from drpkit.models import MODELS, create_model
from drpkit.models.requirements import data_for_model
from drpkit.splits import make_folds

GENES = [f"G{i:03d}" for i in range(200)]
DRGT_TINY = ["-p", "n_genes=100", "-p", "hidden=16", "-p", "channels=8", "-p",
             "genes_per_cell=20", "-p", "head_hidden=[16]", "-p", "trainer.max_epochs=40"]


# -------------------------------------------------------------------- checks
def _scores(ranking: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(drug, gene, 1.0 / (i + 1)) for drug, genes in ranking.items()
            for i, gene in enumerate(genes)]
    return pd.DataFrame(rows, columns=["drug", "gene", "score"])


def test_recovery_of_perfectly_ranked_hidden_targets_beats_both_baselines():
    rng = np.random.default_rng(0)
    hidden = pd.DataFrame({"drug": [f"d{i}" for i in range(10) for _ in range(2)],
                           "gene": [GENES[i * 10 + j] for i in range(10) for j in range(2)]})
    visible = pd.DataFrame({"drug": [f"d{i}" for i in range(10)],
                            "gene": [GENES[i * 10 + 5] for i in range(10)]})
    ranking = {}
    for i in range(10):  # the visible target first (left out), then both hidden ones
        rest = [g for g in rng.permutation(GENES) if g not in {GENES[i * 10], GENES[i * 10 + 1],
                                                                GENES[i * 10 + 5]}]
        ranking[f"d{i}"] = [GENES[i * 10 + 5], GENES[i * 10], GENES[i * 10 + 1], *rest]
    degree = pd.Series(rng.integers(1, 50, len(GENES)), index=GENES)
    result = dti_recovery(_scores(ranking), hidden, visible, GENES, degree, k=5,
                          permutations=500)
    s = result.summary
    assert s["hits"] == 20 and s["recall"] == 1.0 and s["drugs_with_hit"] == 1.0
    assert s["expected_random"] == pytest.approx(20 * 5 / 199)
    assert s["p_random"] < 0.01 and s["p_degree"] < 0.01
    # scores unrelated to the targets: no evidence
    shuffled = {d: list(rng.permutation(GENES)) for d in ranking}
    null = dti_recovery(_scores(shuffled), hidden, visible, GENES, degree, k=5,
                        permutations=500).summary
    assert null["p_random"] > 0.05


def test_known_share_counts_top_links_that_are_targets():
    ranking = {"a": ["G000", "G001", "G002"], "b": ["G003", "G004", "G005"]}
    known = pd.DataFrame({"drug": ["a", "a", "b"], "gene": ["G000", "G002", "G009"]})
    out = known_share(_scores(ranking), known, k=2)
    assert out == {"k": 2, "drugs": 2, "links": 4, "known": 1, "share": 0.25}


def test_enrichment_finds_the_target_pathway_and_skips_visible_targets():
    sets = {"target_path": set(GENES[:8]), "other": set(GENES[100:108]),
            "tiny": set(GENES[:3])}
    ranking = {"a": ["G000", *GENES[1:6], *GENES[50:200]],  # G000 is a visible target
               "b": [*GENES[100:106], *GENES[10:100]]}
    targets = pd.DataFrame({"drug": ["a", "a", "b"], "gene": ["G000", "G007", "G007"]})
    visible = pd.DataFrame({"drug": ["a"], "gene": ["G000"]})
    result, significant = enrichment(_scores(ranking), GENES, sets, targets, visible, k=5,
                                     permutations=50)
    per = result.per_drug.set_index("drug")
    assert per.loc["a", "top_set"] == "target_path" and per.loc["a", "match"]
    assert per.loc["a", "overlap"] == 5  # G001-G005: G000 was left out
    assert per.loc["b", "top_set"] == "other" and not per.loc["b", "match"]
    assert result.summary["gene_sets"] == 2  # "tiny" has < 5 genes
    assert result.summary["match_share"] == 0.5 and result.summary["annotated_drugs"] == 2
    assert set(significant["set"]) == {"target_path", "other"}
    assert (significant["q"] >= significant["p"]).all()


# ----------------------------------------------------------------- gradients
@pytest.fixture(scope="module")
def mlp_fit(small):
    model = create_model("mlp", MODELS.get("mlp").smoke_config)
    data = data_for_model(model, small)
    fold = make_folds(data, "random", 5, seed=0)[0]
    train = data.subset(fold.train)
    return model.fit(train, data.subset(fold.val)), train


def test_integrated_gradients_explain_a_model_without_attention(mlp_fit):
    model, train = mlp_fit
    assert model.explain(train) == {}  # no attention: the captum path
    pairs = sample_pairs(train, train.drugs[:3], 8)
    scores = gradient_scores(model, train, pairs, n_steps=64)
    assert set(scores["drug"]) == set(train.drugs[:3])
    np.testing.assert_allclose(scores.groupby("drug")["score"].sum(), 1.0, rtol=1e-5)
    assert (scores.groupby("drug")["rank"].min() == 1).all()
    assert scores["delta"].max() < 0.05  # completeness: attributions add up to f(x) - f(0)
    # completeness checked directly: summed attributions = prediction - baseline prediction
    problem = ADAPTERS["mlp"](model, train, np.asarray([pairs["drug"].iloc[0]]))
    one = pairs.iloc[:1]
    z = torch.from_numpy(problem.z(one["cell"].to_numpy()))
    pos = torch.zeros(1, dtype=torch.long)
    with torch.no_grad():
        gap = float(problem.forward(z, pos) - problem.forward(torch.zeros_like(z), pos))
    single = gradient_scores(model, train, one, n_steps=128)
    assert single["signed"].sum() == pytest.approx(gap, abs=0.02 * max(1.0, abs(gap)))


# ----------------------------------------------------------------- command
@pytest.fixture
def run(monkeypatch, capsys):
    """``drpkit ARGS`` in this process (imports shared): an object with
    ``returncode``, ``stdout`` and ``stderr``; fails unless it succeeds (``check``)."""

    def call(*args, check=True):
        code, out, err = run_cli(monkeypatch, capsys, *args)
        if check and code:
            raise AssertionError(f"drpkit {args} failed ({code}):\n{err}")
        return types.SimpleNamespace(returncode=code, stdout=out, stderr=err)

    monkeypatch.setenv("TQDM_DISABLE", "1")
    return call


@pytest.fixture(scope="module")
def user_files(tmp_path_factory, small):
    folder = tmp_path_factory.mktemp("explain")
    small.responses[["cell", "drug", "value"]].to_csv(folder / "responses.csv", index=False)
    small.cell_view("expression").loc[small.cells].iloc[:, :800].to_csv(folder / "expr.csv")
    pd.DataFrame({"drug": small.drugs, "smiles": small.smiles.loc[small.drugs].to_numpy()}) \
        .to_csv(folder / "drugs.csv", index=False)
    return ["--responses", folder / "responses.csv", "--expression", folder / "expr.csv",
            "--drugs", folder / "drugs.csv"]


@pytest.mark.cli
def test_explain_train_runs_attention_and_gradients(run, user_files, tmp_path):
    run("train", "--model", "drgt", *user_files, "--out", tmp_path / "drgt", *DRGT_TINY)
    cell = str(pd.read_csv(user_files[1])["cell"].iloc[0])
    proc = run("explain", tmp_path / "drgt", "--drug", "Lapatinib,Olaparib", "--top", "5",
               "--validate", "--permutations", "50", "--cell", cell)
    out = tmp_path / "drgt" / "explain"
    assert "Lapatinib:" in proc.stdout and "dti recovery (top 5)" in proc.stdout
    table = pd.read_csv(out / "drug_genes.csv")
    assert set(table["drug"]) == {"Lapatinib", "Olaparib"} and table["rank"].max() == 5
    assert {"EGFR", "ERBB2"} & set(table.loc[table["drug"] == "Lapatinib", "gene"])
    summary = json.loads((out / "validation.json").read_text())
    assert summary["dti_recovery"]["hide_dti"] == 0.2
    assert {"known_share", "enrichment"} <= set(summary)
    for name in ("heatmap.png", "network.png", "dti_recovery.csv", "enrichment.csv",
                 "explain.json"):
        assert (out / name).stat().st_size > 0
    pair = pd.read_csv(out / "pair_genes.csv")
    assert set(pair["cell"]) == {cell} and set(pair["drug"]) == {"Lapatinib", "Olaparib"}
    assert np.allclose(pair["score"], pair["score_drug"] + pair["score_cell"])

    run("train", "--model", "mlp", *user_files, "--out", tmp_path / "mlp", "-p", "n_genes=300")
    proc = run("explain", tmp_path / "mlp", "--drug", "Lapatinib", "--cells-per-drug", "8")
    meta = json.loads((tmp_path / "mlp" / "explain" / "explain.json").read_text())
    assert meta["method"] == "gradients" and meta["genes_ranked"] == 300
    bad = run("explain", tmp_path / "mlp", "--method", "attention", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error: model 'mlp' exports no")


@pytest.mark.cli
def test_explain_draws_mmgnn_atom_attention(run, user_files, tmp_path):
    """mmgnn train run + --drug: the atoms x gene-sets table (one row per heavy atom of
    the drug, rows summing to 1) and its molecule figure are written."""
    from drpkit.features.molgraph import canonical_mol

    run("train", "--model", "mmgnn", *user_files, "--out", tmp_path / "mmgnn", "-p", "dim=16",
        "-p", "heads=2", "-p", "n_genes=200", "-p", "min_pathway_genes=20",
        "-p", "trainer.max_epochs=2")
    run("explain", tmp_path / "mmgnn", "--drug", "Lapatinib", "--top", "5")
    out = tmp_path / "mmgnn" / "explain"
    atoms = pd.read_csv(out / "atoms_Lapatinib.csv", index_col="atom")
    smiles = pd.read_csv(user_files[5]).set_index("drug")["smiles"]["Lapatinib"]
    mol = canonical_mol(smiles, "Lapatinib")
    assert list(atoms["element"]) == [a.GetSymbol() for a in mol.GetAtoms()]
    np.testing.assert_allclose(atoms.drop(columns="element").sum(1), 1.0, atol=1e-5)
    assert (out / "atoms_Lapatinib.png").stat().st_size > 10_000


@pytest.mark.cli
def test_explain_benchmark_run_and_report_section(run, user_files, tmp_path):
    store = tmp_path / "ev"
    params = [x if not x.startswith(("n_", "hid", "cha", "gen", "head", "tra")) else f"drgt:{x}"
              for x in DRGT_TINY]
    run("evaluate", "--models", "drgt,naive-drug", "--splits", "random", "--folds", "2",
        *user_files, "--out", store, *params, "-p", "drgt:hide_dti=0.2", "--workers", "1")
    assert "Explanations" in (store / "report.html").read_text()
    proc = run("explain", store, "--model", "drgt", "--top", "5", "--validate",
               "--permutations", "50")
    summary = json.loads((store / "explain" / "validation.json").read_text())
    assert summary["dti_recovery"]["tasks"] == 2
    assert "hidden links" in proc.stdout
    missing = run("explain", store, "--model", "naive-drug", check=False)
    assert missing.returncode == 2 and "drug_gene_scores" in missing.stderr


def test_specific_reading_demotes_genes_every_drug_attends_to():
    from drpkit.explain.attention import ranked

    # gene "hub" takes most of every drug's flow; each drug has one gene of its own
    flow = np.array([[8.0, 2.0, 0.1], [8.0, 0.1, 2.0]])
    names, genes = np.array(["d1", "d2"]), np.array(["hub", "g1", "g2"])
    plain = ranked(flow, names, genes, "drug").set_index(["drug", "gene"])["rank"]
    lift = ranked(flow, names, genes, "drug", specific=True).set_index(["drug", "gene"])
    assert plain[("d1", "hub")] == 1 and plain[("d2", "hub")] == 1
    assert lift.loc[("d1", "g1"), "rank"] == 1 and lift.loc[("d2", "g2"), "rank"] == 1
    assert np.allclose(lift.groupby("drug")["score"].sum(), 1.0)


def test_validate_refuses_gene_set_rankings():
    from pathlib import Path

    from drpkit.errors import DataError
    from drpkit.explain.runs import Explained
    from drpkit.explain.validate import check_gene_ranking

    def explained(feature):
        scores = pd.DataFrame({"drug": ["d"], "gene": ["kegg:hsa04110"], "score": [1.0],
                               "rank": [1], "feature": [feature]})
        return Explained(Path("."), "mmgnn", "attention", scores, None, np.array([]),
                         pd.DataFrame(columns=["drug", "gene"]))

    with pytest.raises(DataError, match="ranks gene sets, not genes"):
        check_gene_ranking(explained("pathway"))
    check_gene_ranking(explained("gene"))  # gene rankings pass


def test_flat_rankings_are_flagged():
    """A collapsed attention (every gene set the same weight) is named, a ranking with
    any spread is not: its order would otherwise read as a finding."""
    from drpkit.cli.explain import flat_drugs

    scores = pd.DataFrame({"drug": ["A"] * 3 + ["B"] * 3,
                           "gene": ["g1", "g2", "g3"] * 2,
                           "score": [1 / 302] * 3 + [0.5, 0.3, 0.2]})
    assert flat_drugs(scores) == ["A"]
    assert flat_drugs(scores.assign(score=scores["score"] + [0, 1e-4, 0, 0, 0, 0])) == []
