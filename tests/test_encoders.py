"""Molecular graph featurisation (frozen reference values) and the composable
encoder parts of :mod:`drpkit.nn.encoders`, each part through the same checks,
generated from the registries: build from name, shapes on real GDSC2 drugs and
cells, gradients, ``hparams`` round trip, overfitting 8 drugs, no test-cell leak.
"""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from pydantic import ValidationError

from drpkit.configdoc import describe_config
from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError
from drpkit.features.expression import fit_expression_scaling, scale_expression
from drpkit.features.molgraph import (
    ATOM_FEATURE_DIM,
    ATOM_SLICES,
    BOND_FEATURE_DIM,
    BOND_SLICES,
    mol_graph,
    mol_graphs,
)
from drpkit.models.base import ModelConfig
from drpkit.nn.encoders import (
    CELL_ENCODERS,
    DRUG_ENCODERS,
    CellEncoder,
    CellEncoderSpec,
    DrugEncoder,
    DrugEncoderSpec,
    build_cell_encoder,
    build_drug_encoder,
    requirements,
)
from drpkit.params import deep_merge, nest
from drpkit.resources import RESOURCES

integration = pytest.mark.integration


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks: one thread is far faster than two on a shared, busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

# --------------------------------------------------- frozen reference graphs
# Hot columns of every atom row and of one row per bond (the forward edge),
# computed once with RDKit 2026.03 and checked by hand against the layout:
# element C=0 N=1 O=2 Cl=5 | degree 41+d | charge 49+q | num_hs 52+h |
# SP2=58 SP3=59 | aromatic 63 | in ring 64; bond single 0, double 1,
# aromatic 3 | conjugated 5 | in ring 6 | stereo NONE 7, E 10.
C, CH, CH2, CH3 = [0, 44, 49, 52, 58], [0, 43, 49, 53, 58], [0, 43, 49, 54, 59], \
    [0, 42, 49, 55, 59]
AROMATIC_CH = [0, 43, 49, 53, 58, 63, 64]
AROMATIC_C = [0, 44, 49, 52, 58, 63, 64]
SINGLE, DOUBLE, CONJ_SINGLE, CONJ_DOUBLE = [0, 7], [1, 10], [0, 5, 7], [1, 5, 7]
AROMATIC_BOND = [3, 5, 6, 7]

REFERENCE = {
    "ethanol": ("CCO", [CH3, CH2, [2, 42, 49, 53, 59]],
                [[0, 1, 1, 2], [1, 0, 2, 1]], [SINGLE, SINGLE]),
    "benzene": ("c1ccccc1", [AROMATIC_CH] * 6,
                [[0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0], [1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 0, 5]],
                [AROMATIC_BOND] * 6),
    "aspirin": ("CC(=O)Oc1ccccc1C(=O)O",
                [CH3, C, [2, 42, 49, 52, 58], [2, 43, 49, 52, 58], AROMATIC_C] + [AROMATIC_CH] * 4
                + [AROMATIC_C, C, [2, 42, 49, 52, 58], [2, 42, 49, 53, 58]],
                [[0, 1, 1, 2, 1, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 10, 12,
                  9, 4],
                 [1, 0, 2, 1, 3, 1, 4, 3, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10, 9, 11, 10, 12, 10,
                  4, 9]],
                [SINGLE, CONJ_DOUBLE, CONJ_SINGLE, CONJ_SINGLE] + [AROMATIC_BOND] * 5
                + [CONJ_SINGLE, CONJ_DOUBLE, CONJ_SINGLE, AROMATIC_BOND]),
    "betaine (zwitterion)": ("C[N+](C)(C)CC(=O)[O-]",
                             [CH3, [1, 45, 50, 52, 59], CH3, CH3, CH2, C, [2, 42, 49, 52, 58],
                              [2, 42, 48, 52, 58]],
                             [[0, 1, 1, 2, 1, 3, 1, 4, 4, 5, 5, 6, 5, 7],
                              [1, 0, 2, 1, 3, 1, 4, 1, 5, 4, 6, 5, 7, 5]],
                             [SINGLE] * 5 + [CONJ_DOUBLE, CONJ_SINGLE]),
    "E-1-chloropropene": ("C/C=C/Cl", [CH3, CH, CH, [5, 42, 49, 52, 59]],
                          [[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]], [SINGLE, DOUBLE, SINGLE]),
}


def hot(rows: torch.Tensor) -> list[list[int]]:
    return [row.nonzero().flatten().tolist() for row in rows]


def test_feature_layout_constants():
    assert (ATOM_FEATURE_DIM, BOND_FEATURE_DIM) == (65, 13)
    assert [(s.start, s.stop) for s in ATOM_SLICES.values()] == [
        (0, 41), (41, 47), (47, 52), (52, 57), (57, 63), (63, 64), (64, 65)]
    assert [(s.start, s.stop) for s in BOND_SLICES.values()] == [(0, 5), (5, 6), (6, 7), (7, 13)]


@pytest.mark.parametrize("molecule", list(REFERENCE))
def test_molecular_graph_matches_frozen_reference(molecule):
    smiles, atoms, edges, bonds = REFERENCE[molecule]
    graph = mol_graph(smiles, molecule)
    assert graph.x.shape == (len(atoms), ATOM_FEATURE_DIM) and graph.x.dtype == torch.float32
    assert graph.num_nodes == len(atoms)
    assert hot(graph.x) == atoms
    assert graph.edge_index.dtype == torch.long and graph.edge_index.tolist() == edges
    assert graph.edge_attr.shape == (2 * len(bonds), BOND_FEATURE_DIM)
    assert hot(graph.edge_attr[0::2]) == bonds
    assert torch.equal(graph.edge_attr[0::2], graph.edge_attr[1::2])  # both directions
    assert (graph.x[:, ATOM_SLICES["element"]].sum(1) == 1).all()
    assert (graph.edge_attr[:, BOND_SLICES["bond_type"]].sum(1) == 1).all()


@pytest.mark.parametrize("spellings", [
    ("CCO", "OCC", "C(O)C", "[CH3][CH2][OH]"),
    ("CC(=O)Oc1ccccc1C(=O)O", "OC(=O)c1ccccc1OC(C)=O", "C1=CC=C(C(=C1)C(=O)O)OC(=O)C"),
    ("C[N+](C)(C)CC(=O)[O-]", "[O-]C(=O)C[N+](C)(C)C"),
    ("C/C=C/Cl", "Cl/C=C/C"),
])
def test_two_spellings_of_one_molecule_give_identical_graphs(spellings):
    first, *others = [mol_graph(s, "drug") for s in spellings]
    for graph in others:
        for key in ("x", "edge_index", "edge_attr"):
            assert torch.equal(graph[key], first[key]), key


def test_bad_or_missing_smiles_raise_naming_the_drug():
    with pytest.raises(DataError, match="bad-drug"):
        mol_graphs(pd.Series({"ethanol": "CCO", "bad-drug": "C1CC(("}))
    with pytest.raises(DataError, match="no-smiles"):
        mol_graphs(pd.Series({"no-smiles": None}, dtype=object))
    with pytest.raises(DataError, match="Series"):
        mol_graphs(["CCO"])


def test_salt_is_disconnected_and_memoised_graphs_are_copies():
    salt = mol_graph("[Na+].[Cl-]", "salt")
    assert salt.x.shape == (2, ATOM_FEATURE_DIM)
    assert salt.edge_index.shape == (2, 0) and salt.edge_attr.shape == (0, BOND_FEATURE_DIM)
    graphs = mol_graphs(pd.Series({"a": "CCO", "b": "CCO"}))
    assert list(graphs) == ["a", "b"] and torch.equal(graphs["a"].x, graphs["b"].x)
    graphs["a"].x.zero_()
    assert mol_graph("CCO", "c").x.sum() == 15  # 3 atoms x 5 hot columns


# ---------------------------------------------------------- parts, no data
def test_unknown_names_and_settings_are_clear_errors():
    with pytest.raises(DataError, match="valid drug encoders: fingerprint-mlp, mol-encoder"):
        build_drug_encoder("gcn")
    with pytest.raises(DataError, match="valid cell encoders: mlp, pathway-tokens"):
        build_cell_encoder("transformer")
    with pytest.raises(DataError, match="mol-gnn.*layrs"):
        build_drug_encoder("mol-gnn", {"layrs": 2})
    with pytest.raises(ValidationError, match="unknown drug encoder 'gcn'"):
        DrugEncoderSpec(name="gcn")
    with pytest.raises(ValidationError, match="pool"):
        DrugEncoderSpec(name="mol-gnn", config={"pool": "max"})


class ComposedConfig(ModelConfig):
    """A model config choosing its parts by name.

    Attributes:
        drug: drug encoder.
        cell: cell encoder.
    """

    drug: DrugEncoderSpec = DrugEncoderSpec(name="mol-gnn")
    cell: CellEncoderSpec = CellEncoderSpec(name="pathway-tokens")


def test_parts_are_settings_of_a_model_config():
    config = ComposedConfig(drug={"name": "fingerprint-mlp", "config": {"view": "maccs"}})
    assert requirements(config.drug, config.cell) == (("maccs",), ("gene-sets",))
    assert requirements(ComposedConfig().drug, CellEncoderSpec(name="mlp")) == (("smiles",), ())
    assert requirements(DrugEncoderSpec(name="mol-encoder")) == (("smiles",), ("mol-encoder",))
    assert {row.key for row in describe_config(ComposedConfig)} >= {"drug", "cell"}
    switched = ComposedConfig(**deep_merge(ComposedConfig().model_dump(), nest(
        {"drug.name": "mol-encoder", "drug.config.hidden": [64]})))  # as `-p` does
    assert switched.drug.build().hparams == {"cls": "mol-encoder", "dim": 128, "dropout": 0.1,
                                             "hidden": [64]}
    part = config.drug.build()
    assert isinstance(part, DrugEncoder) and not part.is_fitted
    assert repr(part) == "FingerprintMLP(view='maccs', in_dim=None)"
    assert repr(build_drug_encoder("mol-gnn", {"layers": 2})) == "MolGNN(layers=2)"


def test_drug_encoders_name_the_drug_of_an_unparsable_smiles():
    data = DrugResponseData(
        "toy", "ln_ic50", "low",
        pd.DataFrame({"cell": ["c1"], "drug": ["bad-drug"], "value": [1.0]}),
        smiles=pd.Series({"bad-drug": "C1CC(("}),
        resources={"mol-encoder": RESOURCES.get("mol-encoder")})
    for name in ("mol-gnn", "mol-encoder"):
        with pytest.raises(DataError, match="bad-drug"):
            build_drug_encoder(name).prepare(data, ["bad-drug"])
    with pytest.raises(DataError, match="no SMILES.*other"):
        build_drug_encoder("mol-gnn").prepare(data, ["other"])


# --------------------------------------------------- parts on real GDSC2 data
@pytest.fixture(scope="module")
def data(small):
    """The small GDSC2 subset holding the resources the parts declare."""
    return replace(small, resources={name: RESOURCES.get(name)
                                     for name in ("mol-encoder", "gene-sets")})


@pytest.fixture(scope="module")
def cells(data):
    """(train cells, test cells, z-scored expression fitted on the train cells)."""
    expression = data.cell_view("expression")
    train, test = list(data.cells[:100]), list(data.cells[100:])
    genes, mean, scale = fit_expression_scaling(expression, train, n_genes=None)
    scaled = scale_expression(expression, data.cells, genes, mean, scale)
    return train, test, pd.DataFrame(scaled, index=data.cells, columns=genes)


def roundtrip(kind, part, prepared):
    part.eval()
    rebuilt = kind.from_hparams(json.loads(json.dumps(part.hparams)))
    rebuilt.load_state_dict(part.state_dict())
    rebuilt.eval()
    assert rebuilt.hparams == part.hparams
    assert torch.equal(rebuilt(prepared), part(prepared))


def assert_gradients_reach_every_parameter(part, out):
    out.square().mean().backward()
    for name, parameter in part.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@integration
@pytest.mark.parametrize("name", DRUG_ENCODERS.names())
def test_drug_encoder_shapes_gradients_and_hparams(data, name):
    torch.manual_seed(0)
    part = build_drug_encoder(name, {"dim": 16}).fit(data)
    drugs = list(data.drugs[:8])
    prepared = part.prepare(data, drugs)
    assert not getattr(prepared, "requires_grad", False)  # pretrained vectors stay frozen
    out = part(prepared)
    assert out.shape == (8, 16) and torch.isfinite(out).all()
    assert_gradients_reach_every_parameter(part, out)
    roundtrip(DrugEncoder, part, prepared)  # leaves the part in eval mode
    reversed_ = part(part.prepare(data, drugs[::-1]))  # rows follow the order of `drugs`
    assert torch.allclose(reversed_, part(prepared).flip(0), atol=1e-5)


@integration
def test_molecular_gnn_gives_atom_tokens(data):
    part = build_drug_encoder("mol-gnn", {"hidden": 32, "layers": 2, "pool": "sum"})
    drugs = list(data.drugs[:4])
    batch = part.prepare(data, drugs)
    atoms, index = part.forward_tokens(batch)
    n_atoms = sum(mol_graph(s, d).num_nodes for d, s in data.smiles[drugs].items())
    assert atoms.shape == (n_atoms, 32) and index.tolist() == sorted(index.tolist())
    assert index.max() == 3 and part(batch).shape == (4, 128)


@integration
@pytest.mark.parametrize("name", DRUG_ENCODERS.names())
def test_drug_encoder_overfits_eight_drugs(data, name):
    torch.manual_seed(0)
    part = build_drug_encoder(name, {"dim": 32, "dropout": 0.0}).fit(data)
    means = data.responses.groupby("drug")["value"].mean()
    drugs = list(means.index[:8])
    y = torch.tensor(((means[drugs] - means[drugs].mean()) / means[drugs].std()).to_numpy(),
                     dtype=torch.float32)
    head = torch.nn.Linear(32, 1)
    prepared = part.prepare(data, drugs)
    optimiser = torch.optim.Adam([*part.parameters(), *head.parameters()], lr=3e-3)
    for _ in range(300):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(head(part(prepared)).squeeze(-1), y)
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.01, f"{name}: loss {loss.item():.4f} on standardised targets"


@integration
@pytest.mark.parametrize("name", CELL_ENCODERS.names())
def test_cell_encoder_shapes_gradients_and_hparams(data, cells, name):
    train, _, scaled = cells
    torch.manual_seed(0)
    part = build_cell_encoder(name, {"dim": 16})
    assert isinstance(part, CellEncoder) and not part.is_fitted
    part.fit(scaled.loc[train], part.gene_sets(data))
    prepared = part.prepare(scaled.loc[data.cells])
    out = part(prepared)
    assert out.shape == (len(data.cells), 16) and torch.isfinite(out).all()
    assert set(part.input_genes) <= set(scaled.columns)
    assert_gradients_reach_every_parameter(part, out)
    roundtrip(CellEncoder, part, prepared)


@integration
def test_pathway_tokens_keep_covered_sets_and_give_tokens(data, cells):
    train, _, scaled = cells
    sets = {"covered": set(scaled.columns[:6]), "thin": {*scaled.columns[:4], "NOT_A_GENE"},
            "also": {*scaled.columns[10:15], "NOT_A_GENE"}}
    part = build_cell_encoder("pathway-tokens", {"dim": 8, "min_genes": 5})
    part.fit(scaled.loc[train], sets)
    assert part.sets == {"also": sorted(scaled.columns[10:15]),
                         "covered": sorted(scaled.columns[:6])}
    scores = part.prepare(scaled.loc[train])
    assert scores.shape == (len(train), 2)
    assert torch.allclose(scores[:, 1], torch.tensor(
        scaled.loc[train, list(scaled.columns[:6])].mean(axis=1).to_numpy(np.float32)),
        atol=1e-4)  # scaled is already z-scored on the same training cells
    assert part.forward_tokens(scores).shape == (len(train), 2, 8)
    with pytest.raises(DataError, match="no gene set has >= 5"):
        build_cell_encoder("pathway-tokens").fit(scaled.loc[train], {"x": {"A", "B"}})
    with pytest.raises(DataError, match="needs gene sets"):
        build_cell_encoder("pathway-tokens").fit(scaled.loc[train])


@integration
def test_pathway_tokens_use_training_cells_statistics_only(data):
    expression = data.cell_view("expression")
    train, test = list(data.cells[:100]), list(data.cells[100:])
    shifted = expression.copy()
    shifted.loc[test] = shifted.loc[test] * 3.0 + 5.0
    gene_sets = RESOURCES.get("gene-sets").load(["kegg"])
    plain = build_cell_encoder("pathway-tokens").fit(expression.loc[train], gene_sets)
    moved = build_cell_encoder("pathway-tokens").fit(shifted.loc[train], gene_sets)
    assert torch.equal(plain.mean, moved.mean) and torch.equal(plain.scale, moved.scale)
    genes = plain.input_genes
    x = expression.loc[train, genes].to_numpy(np.float64)
    np.testing.assert_allclose(plain.mean.numpy(), x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(plain.scale.numpy(), x.std(0), rtol=1e-5)
    every = expression.loc[list(data.cells), genes].to_numpy(np.float64).mean(0)
    assert not np.allclose(plain.mean.numpy(), every, rtol=1e-3)
    # set scores are per cell: test cells in the frame change no training cell's score
    alone = moved.prepare(shifted.loc[train])
    together = moved.prepare(shifted.loc[train + test])
    assert torch.equal(together[:len(train)], alone)
    assert alone.mean(0).abs().max() < 1e-4  # centred on the training cells
    assert together[len(train):].mean() > 1.0  # the shifted test cells stand out
