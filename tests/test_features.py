"""Tests of drpkit.features: drug featurisers, omics transforms, kernels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.distance import cdist, pdist
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine
from sklearn.metrics.pairwise import polynomial_kernel as sk_polynomial
from sklearn.metrics.pairwise import rbf_kernel

from drpkit.errors import DataError
from drpkit.features import (
    ATOM_FEATURE_DIM,
    BOND_FEATURE_DIM,
    DRUG_FINGERPRINTS,
    GeneSubset,
    OmicsPipeline,
    VarianceGeneSelector,
    ZScore,
    cosine_similarity,
    drug_fingerprints,
    frobenius_normalise,
    gaussian_gamma,
    gaussian_kernel,
    jaccard_similarity,
    maccs_fingerprints,
    mol_to_graph,
    morgan_fingerprints,
    parse_smiles,
    polynomial_kernel,
    pubchem_fingerprints,
    top_k_neighbours,
)
from drpkit.features.molecules import ATOM_AROMATIC_COLUMN, ATOM_IN_RING_COLUMN

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
BENZENE = "c1ccccc1"
PHENOL = "Oc1ccccc1"

# On-bits of RDKit's Morgan fingerprint (radius 2, 2048 bits) computed once
# with RDKit 2026.03 and frozen: a change means fingerprints (and any model
# trained on them) are no longer comparable across versions.
ASPIRIN_MORGAN_R2_2048 = [389, 456, 650, 695, 807, 909, 1017, 1035, 1047, 1057, 1088, 1199,
                          1380, 1410, 1447, 1468, 1616, 1729, 1750, 1775, 1873, 1917, 1970, 1991]
BENZENE_MORGAN_R2_2048 = [389, 1088, 1873]


def smiles_series(**drugs: str) -> pd.Series:
    return pd.Series(drugs, name="smiles")


# --------------------------------------------------------------------------- molecules


def test_unparsable_smiles_error_names_the_drug(capfd):
    with pytest.raises(DataError, match="drug-42") as info:
        parse_smiles("C1CC(", "drug-42")
    assert "C1CC(" in str(info.value)
    assert "SMILES Parse Error" not in capfd.readouterr().err  # RDKit's log is silenced


@pytest.mark.parametrize("bad", ["", "   ", None, float("nan")])
def test_empty_or_missing_smiles_is_a_data_error(bad):
    with pytest.raises(DataError, match="drugX"):
        parse_smiles(bad, "drugX")


@pytest.mark.parametrize("featuriser", [morgan_fingerprints, pubchem_fingerprints,
                                        maccs_fingerprints, mol_to_graph])
def test_every_featuriser_names_the_bad_drug(featuriser):
    with pytest.raises(DataError, match="bad-drug"):
        if featuriser is mol_to_graph:
            mol_to_graph("not-a-smiles(", "bad-drug")
        else:
            featuriser(smiles_series(good=BENZENE, **{"bad-drug": "C1CC("}))


def test_aspirin_graph():
    graph = mol_to_graph(ASPIRIN, "aspirin")
    assert graph.num_nodes == 13
    assert graph.x.shape == (13, ATOM_FEATURE_DIM) and graph.x.dtype == torch.float32
    assert graph.edge_index.shape == (2, 26) and graph.edge_index.dtype == torch.long
    assert graph.edge_attr.shape == (26, BOND_FEATURE_DIM)
    # every edge appears in both directions, with the same features
    pairs = {tuple(e) for e in graph.edge_index.T.tolist()}
    assert pairs == {(v, u) for u, v in pairs}
    assert torch.equal(graph.edge_attr[0::2], graph.edge_attr[1::2])
    # six aromatic ring atoms, the acetyl/carboxyl atoms are neither aromatic nor in a ring
    assert graph.x[:, ATOM_AROMATIC_COLUMN].sum().item() == 6
    assert torch.equal(graph.x[:, ATOM_AROMATIC_COLUMN], graph.x[:, ATOM_IN_RING_COLUMN])
    # one-hot blocks: each atom has exactly one element, and ones add up to 5 blocks + flags
    assert torch.all(graph.x.sum(1) == 5 + graph.x[:, ATOM_AROMATIC_COLUMN]
                     + graph.x[:, ATOM_IN_RING_COLUMN])
    # bond types: 6 aromatic, 2 double (C=O), 5 single, counted once per direction
    bond_types = graph.edge_attr[0::2, :4].sum(0).tolist()
    assert bond_types == [5.0, 2.0, 0.0, 6.0]


def test_benzene_graph():
    graph = mol_to_graph(BENZENE, "benzene")
    assert graph.x.shape == (6, ATOM_FEATURE_DIM)
    assert graph.edge_index.shape == (2, 12)
    assert torch.all(graph.x[:, ATOM_AROMATIC_COLUMN] == 1)
    assert torch.all(graph.x[:, ATOM_IN_RING_COLUMN] == 1)
    assert torch.all(graph.x[:, 0] == 1)  # carbon slot
    assert torch.all(graph.edge_attr[:, 3] == 1)  # aromatic bonds
    assert torch.all(graph.edge_attr[:, 4:] == 1)  # conjugated, in ring


@pytest.mark.parametrize("smiles", ["C", "[Na+].[Cl-]"])
def test_graph_without_bonds(smiles):
    graph = mol_to_graph(smiles, "ion")
    assert graph.edge_index.shape == (2, 0)
    assert graph.edge_attr.shape == (0, BOND_FEATURE_DIM)
    assert graph.x.shape[1] == ATOM_FEATURE_DIM


def test_morgan_matches_frozen_reference():
    fps = morgan_fingerprints(smiles_series(aspirin=ASPIRIN, benzene=BENZENE))
    assert fps.shape == (2, 2048) and (fps.dtypes == np.uint8).all()
    assert list(fps.index) == ["aspirin", "benzene"]
    assert list(np.flatnonzero(fps.loc["aspirin"].to_numpy())) == ASPIRIN_MORGAN_R2_2048
    assert list(np.flatnonzero(fps.loc["benzene"].to_numpy())) == BENZENE_MORGAN_R2_2048


def test_morgan_matches_rdkit_legacy_api():
    from rdkit import Chem
    from rdkit.Chem import AllChem

    legacy = getattr(AllChem, "GetMorganFingerprintAsBitVect", None)
    if legacy is None:
        pytest.skip("this RDKit no longer has GetMorganFingerprintAsBitVect")
    fps = morgan_fingerprints(smiles_series(a=ASPIRIN, p=PHENOL), radius=3, n_bits=1024)
    for drug, smi in [("a", ASPIRIN), ("p", PHENOL)]:
        expected = list(legacy(Chem.MolFromSmiles(smi), 3, nBits=1024).GetOnBits())
        assert list(np.flatnonzero(fps.loc[drug].to_numpy())) == expected


def test_pubchem_keys():
    fps = pubchem_fingerprints(smiles_series(benzene=BENZENE, phenol=PHENOL))
    assert fps.shape == (2, 881) and (fps.dtypes == np.uint8).all()
    # Bit numbers of the PubChem specification: 10 ">= 4 C", 14 ">= 1 N",
    # 18 ">= 1 O", 178 ">= 1 any ring size 6", 255 ">= 1 aromatic ring".
    benzene, phenol = fps.loc["benzene"], fps.loc["phenol"]
    for bit in (10, 178, 255):
        assert benzene[f"pubchem_{bit}"] == 1 and phenol[f"pubchem_{bit}"] == 1
    assert benzene["pubchem_18"] == 0 and phenol["pubchem_18"] == 1
    assert benzene["pubchem_14"] == 0


def test_maccs_has_167_bits():
    fps = maccs_fingerprints(smiles_series(benzene=BENZENE, aspirin=ASPIRIN))
    assert fps.shape == (2, 167)
    assert fps["maccs_0"].sum() == 0  # RDKit's unused key 0
    assert fps.loc["benzene", "maccs_163"] == 1  # key 163: six-membered ring


def test_fingerprint_registry():
    series = smiles_series(benzene=BENZENE)
    assert set(DRUG_FINGERPRINTS) == {"morgan", "pubchem", "maccs"}
    small = drug_fingerprints(series, "morgan", n_bits=64)
    assert small.shape == (1, 64)
    assert drug_fingerprints(series, "maccs").equals(maccs_fingerprints(series))
    with pytest.raises(DataError, match="maccs, morgan, pubchem"):
        drug_fingerprints(series, "ecfp")


def test_duplicated_drug_ids_rejected():
    series = pd.Series([BENZENE, PHENOL], index=["d", "d"])
    with pytest.raises(DataError, match="'d'"):
        morgan_fingerprints(series)


# --------------------------------------------------------------------------- kernels


@pytest.fixture
def matrices():
    rng = np.random.default_rng(0)
    return rng.normal(size=(7, 5)), rng.normal(size=(4, 5))


def test_gaussian_kernel_formula(matrices):
    X, Y = matrices
    gamma = 0.3
    np.testing.assert_allclose(gaussian_kernel(X, Y, gamma=gamma), rbf_kernel(X, Y, gamma=gamma))
    np.testing.assert_allclose(gaussian_kernel(X, gamma=gamma),
                               np.exp(-gamma * cdist(X, X, "sqeuclidean")), atol=1e-12)
    # default bandwidth: 1 / mean squared distance over pairs of distinct rows of X
    assert gaussian_gamma(X) == pytest.approx(1 / pdist(X, "sqeuclidean").mean())
    np.testing.assert_allclose(gaussian_kernel(X, Y), rbf_kernel(X, Y, gamma=gaussian_gamma(X)))


def test_polynomial_and_cosine_formulas(matrices):
    X, Y = matrices
    np.testing.assert_allclose(polynomial_kernel(X, Y), sk_polynomial(X, Y, degree=2, coef0=1))
    np.testing.assert_allclose(polynomial_kernel(X, Y, degree=3, coef0=0.5, gamma=0.2),
                               sk_polynomial(X, Y, degree=3, coef0=0.5, gamma=0.2))
    np.testing.assert_allclose(cosine_similarity(X, Y), sk_cosine(X, Y))
    Z = X.copy()
    Z[2] = 0
    np.testing.assert_allclose(cosine_similarity(Z), sk_cosine(Z), atol=1e-12)
    assert np.all(cosine_similarity(Z)[2] == 0)


@pytest.mark.parametrize("kernel", [gaussian_kernel, polynomial_kernel, cosine_similarity])
def test_numpy_and_torch_agree(kernel, matrices):
    X, Y = matrices
    expected = kernel(X, Y)
    got = kernel(torch.from_numpy(X), torch.from_numpy(Y))
    assert isinstance(expected, np.ndarray) and isinstance(got, torch.Tensor)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(TypeError):
        kernel(X, torch.from_numpy(Y))


def test_jaccard_by_hand():
    X = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    Y = np.array([[1, 1, 1, 0], [0, 0, 0, 0]])
    expected = np.array([
        [2 / 3, 0.0],  # |{0,1}| / |{0,1,2}|
        [2 / 3, 0.0],  # |{0,2}| / |{0,1,2}|
        [0.0, 0.0],    # all-zero vs all-zero: 0 by convention
    ])
    np.testing.assert_allclose(jaccard_similarity(X, Y), expected)
    np.testing.assert_allclose(jaccard_similarity(X)[0], [1.0, 1 / 3, 0.0])
    got = jaccard_similarity(torch.tensor(X), torch.tensor(Y))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    with pytest.raises(DataError, match="binary"):
        jaccard_similarity(np.array([[0, 2]]))


def test_jaccard_matches_scipy_on_fingerprints():
    fps = morgan_fingerprints(smiles_series(a=ASPIRIN, b=BENZENE, p=PHENOL)).to_numpy()
    np.testing.assert_allclose(jaccard_similarity(fps),
                               1 - cdist(fps.astype(bool), fps.astype(bool), "jaccard"))


def test_frobenius_normalise(matrices):
    X, _ = matrices
    for K in (gaussian_kernel(X), torch.from_numpy(gaussian_kernel(X)).float()):
        normed = frobenius_normalise(K)
        assert type(normed) is type(K)
        assert float((normed ** 2).sum()) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(DataError):
        frobenius_normalise(np.zeros((3, 3)))


def test_top_k_neighbours_keeps_exactly_k(matrices):
    X, _ = matrices
    S = cosine_similarity(X)
    mask = top_k_neighbours(S, 3)
    assert mask.dtype == bool and mask.shape == S.shape
    assert np.all(mask.sum(1) == 3)
    assert not mask.diagonal().any()
    # the kept entries are the largest off-diagonal ones of each row
    eye = np.eye(len(S), dtype=bool)
    for row in range(len(S)):
        assert S[row][mask[row]].min() >= S[row][~mask[row] & ~eye[row]].max()
    torch_mask = top_k_neighbours(torch.from_numpy(S), 3)
    assert torch_mask.dtype == torch.bool and np.array_equal(torch_mask.numpy(), mask)
    # ties (a constant matrix) still give exactly k, the same in both backends
    tied = np.ones((5, 5))
    np.testing.assert_array_equal(top_k_neighbours(tied, 2).sum(1), 2)
    np.testing.assert_array_equal(top_k_neighbours(torch.ones(5, 5), 2).numpy(),
                                  top_k_neighbours(tied, 2))
    assert top_k_neighbours(S, 2, exclude_self=False).diagonal().all()  # self is most similar
    with pytest.raises(DataError):
        top_k_neighbours(S, len(S))  # only n - 1 candidates when excluding self


# --------------------------------------------------------------------------- omics


@pytest.fixture
def expression():
    rng = np.random.default_rng(1)
    cells = [f"cell{i}" for i in range(10)]
    genes = [f"G{i}" for i in range(6)]
    frame = pd.DataFrame(rng.normal(size=(10, 6)), index=cells, columns=genes)
    frame["G5"] = 3.0  # constant gene
    # make G2 much more variable on the held-out rows than on the training rows
    frame.loc[cells[7:], "G2"] *= 100
    return frame.astype(np.float32)


TRAIN = [f"cell{i}" for i in range(7)]
TEST = [f"cell{i}" for i in range(7, 10)]


def test_zscore_uses_training_rows_only(expression):
    train = expression.loc[TRAIN]
    scaler = ZScore().fit(train)
    assert list(scaler.fitted_index_) == TRAIN
    np.testing.assert_allclose(scaler.mean_, train.to_numpy(np.float64).mean(0))
    expected_std = train.to_numpy(np.float64).std(0)
    expected_std[5] = 1.0  # constant gene
    np.testing.assert_allclose(scaler.scale_, expected_std)
    assert not np.allclose(scaler.mean_, expression.to_numpy(np.float64).mean(0))
    out = scaler.transform(expression)
    assert list(out.index) == list(expression.index) and list(out.columns) == list(train.columns)
    np.testing.assert_allclose(out.loc[TRAIN].mean(), 0, atol=1e-6)
    np.testing.assert_allclose(out["G5"], 0)


def test_variance_selector_uses_training_rows_only(expression):
    # On all rows G2 is the most variable gene; on the training rows it is not.
    full_top = VarianceGeneSelector(1).fit(expression).selected_genes_
    selector = VarianceGeneSelector(3).fit(expression.loc[TRAIN])
    train_var = expression.loc[TRAIN].var()
    expected = [g for g in expression.columns if g in train_var.nlargest(3).index]
    assert full_top == ["G2"] and "G2" not in selector.selected_genes_
    assert selector.selected_genes_ == expected
    assert list(selector.fitted_index_) == TRAIN
    out = selector.transform(expression.loc[TEST])
    assert list(out.columns) == expected and list(out.index) == TEST


def test_gene_subset(expression):
    with pytest.warns(UserWarning, match="2 of 4"):
        subset = GeneSubset(["G4", "G1", "MISSING1", "MISSING2"]).fit(expression.loc[TRAIN])
    assert subset.genes_present_ == ["G4", "G1"]
    assert list(subset.transform(expression).columns) == ["G4", "G1"]
    with pytest.raises(DataError, match="none of"):
        GeneSubset(["X", "Y"]).fit(expression)


def test_pipeline_fits_each_step_on_training_rows(expression):
    pipeline = OmicsPipeline([GeneSubset(["G0", "G1", "G2", "G3"]), VarianceGeneSelector(2),
                              ZScore()])
    out = pipeline.fit(expression.loc[TRAIN]).transform(expression)
    assert list(pipeline.fitted_index_) == TRAIN
    assert all(list(step.fitted_index_) == TRAIN for step in pipeline.steps)
    assert out.shape == (10, 2) and list(out.index) == list(expression.index)
    np.testing.assert_allclose(out.loc[TRAIN].mean(), 0, atol=1e-6)


@pytest.mark.parametrize("transform", [ZScore(), VarianceGeneSelector(6), GeneSubset(["G0", "G3"])])
def test_transform_with_missing_genes_names_them(transform, expression):
    transform.fit(expression.loc[TRAIN])
    with pytest.raises(DataError, match="G3"):
        transform.transform(expression.drop(columns=["G3"]))


def test_fit_rejects_missing_values(expression):
    expression.iloc[2, 1] = np.nan
    with pytest.raises(DataError, match="cell2.*G1"):
        ZScore().fit(expression)
