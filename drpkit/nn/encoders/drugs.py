"""Drug encoders: fingerprint MLP, GINE molecular GNN, pretrained ChemNet vectors."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import Tensor, nn

from drpkit.errors import DataError
from drpkit.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from torch_geometric.data import Batch

    from drpkit.data.container import DrugResponseData

from drpkit.nn.encoders.base import Part, PartConfig, mlp


class DrugEncoder(Part):
    """A drug encoder: ``prepare(data, drugs)`` then ``forward(prepared) -> (n_drugs, dim)``."""

    def fit(self, train: DrugResponseData) -> DrugEncoder:
        """Fix data-derived sizes from the training data (no-op for fixed-size inputs)."""
        return self

    def prepare(self, data: DrugResponseData, drugs) -> Any:  # pragma: no cover - abstract
        """Featurise ``drugs`` (rows in that order) from ``data``; no gradients."""
        raise NotImplementedError

    def _smiles(self, data: DrugResponseData, drugs) -> pd.Series:
        smiles = data.smiles.reindex(pd.Index(drugs))
        missing = smiles.index[smiles.isna()]
        if len(missing):
            raise DataError(f"{self.name!r}: no SMILES for {len(missing)} drug(s), e.g. "
                            f"{list(missing[:5])}")
        return smiles


DRUG_ENCODERS: Registry[type[DrugEncoder]] = Registry("drug encoder")
DrugEncoder.registry = DRUG_ENCODERS


class FingerprintMLPConfig(PartConfig):
    """Settings of ``fingerprint-mlp``.

    Attributes:
        view: drug view to read: a fingerprint derived from SMILES (``morgan``,
            ``pubchem``, ``maccs``) or a stored view (``pubchem920``).
        hidden: hidden layer sizes of the MLP.
    """

    view: str = "morgan"
    hidden: list[int] = Field(default_factory=lambda: [256])


@DRUG_ENCODERS.register("fingerprint-mlp")
class FingerprintMLP(DrugEncoder):
    """Fingerprint bits -> MLP: ``z = MLP(b)``.

    Shapes: prepared (n_drugs, in_dim) float32 -> (n_drugs, dim).
    """

    name, Config, fitted = "fingerprint-mlp", FingerprintMLPConfig, ("in_dim",)
    config: FingerprintMLPConfig

    @classmethod
    def needs(cls, config: PartConfig) -> tuple[str, ...]:
        # callers pass cls.make_config(...) or a built part's config: a cls.Config
        assert isinstance(config, FingerprintMLPConfig)
        return (config.view,)

    def _build(self) -> None:
        self.net = mlp([self.in_dim, *self.config.hidden, self.config.dim], self.config.dropout)
        self.reset_parameters()

    def fit(self, train: DrugResponseData) -> FingerprintMLP:
        self.in_dim = int(train.drug_view(self.config.view).shape[1])
        self._build()
        return self

    def prepare(self, data: DrugResponseData, drugs) -> Tensor:
        self._require_fitted()
        view = data.drug_view(self.config.view)
        missing = pd.Index(drugs).difference(view.index)
        if len(missing):
            raise DataError(f"drug view {self.config.view!r} lacks {len(missing)} drug(s), "
                            f"e.g. {list(missing[:5])}")
        if view.shape[1] != self.in_dim:
            raise DataError(f"drug view {self.config.view!r} has {view.shape[1]} columns; "
                            f"the encoder was fitted on {self.in_dim}")
        return torch.tensor(view.loc[list(drugs)].to_numpy(np.float32))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MolGNNConfig(PartConfig):
    """Settings of ``mol-gnn``.

    Attributes:
        hidden: width of the atom embeddings (the tokens of ``forward_tokens``).
        layers: number of GINE message-passing layers.
        pool: readout of atom embeddings into a molecule: ``mean`` or ``sum``.
    """

    hidden: int = Field(default=128, ge=1)
    layers: int = Field(default=3, ge=1)
    pool: Literal["mean", "sum"] = "mean"


@DRUG_ENCODERS.register("mol-gnn")
class MolGNN(DrugEncoder):
    r"""Graph isomorphism network with edge features (GINE; Hu et al., "Strategies
    for Pre-training Graph Neural Networks", ICLR 2020) on RDKit molecular graphs
    (:mod:`drpkit.features.molgraph`).

    Atoms are embedded, ``h^0 = W_a x``, then each layer updates, with a residual,

    .. math::
        h_i^{l+1} = h_i^l + \mathrm{Dropout}(\mathrm{ReLU}(\mathrm{MLP}^l(
            h_i^l + \textstyle\sum_{j \in N(i)} \mathrm{ReLU}(h_j^l + W_e^l e_{ji}))))

    and the molecule is ``z = W_o pool_i h_i^L`` (mean or sum).

    Shapes: prepared ``Batch`` of n_drugs graphs (x (n_atoms, 65), edge_attr
    (n_edges, 13)) -> (n_drugs, dim); ``forward_tokens`` -> ((n_atoms, hidden),
    batch (n_atoms,) long, the drug row of each atom).
    """

    name, Config, views = "mol-gnn", MolGNNConfig, ("smiles",)
    config: MolGNNConfig

    def _build(self) -> None:
        from torch_geometric.nn import GINEConv

        from drpkit.features.molgraph import ATOM_FEATURE_DIM, BOND_FEATURE_DIM

        h = self.config.hidden
        self.atom_in = nn.Linear(ATOM_FEATURE_DIM, h)
        self.convs = nn.ModuleList(
            GINEConv(nn.Sequential(nn.Linear(h, h), nn.ReLU(), nn.Linear(h, h)),
                     edge_dim=BOND_FEATURE_DIM) for _ in range(self.config.layers))
        self.dropout = nn.Dropout(self.config.dropout)
        self.out = nn.Linear(h, self.config.dim)
        self.reset_parameters()

    def prepare(self, data: DrugResponseData, drugs) -> Batch:
        from torch_geometric.data import Batch

        from drpkit.features.molgraph import mol_graphs

        graphs = mol_graphs(self._smiles(data, drugs))
        return Batch.from_data_list(list(graphs.values()))

    def forward_tokens(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Atom embeddings after the last layer and the drug row of each atom."""
        h = self.atom_in(batch.x)
        for conv in self.convs:
            h = h + self.dropout(torch.relu(conv(h, batch.edge_index, batch.edge_attr)))
        return h, batch.batch

    def forward(self, batch: Batch) -> Tensor:
        from torch_geometric.nn import global_add_pool, global_mean_pool

        h, index = self.forward_tokens(batch)
        pool = global_mean_pool if self.config.pool == "mean" else global_add_pool
        return self.out(pool(h, index, size=batch.num_graphs))


class MolEncoderConfig(PartConfig):
    """Settings of ``mol-encoder``.

    Attributes:
        hidden: hidden layer sizes of the trainable head; ``[]`` = one linear layer.
    """

    hidden: list[int] = Field(default_factory=list)


_VECTORS: dict[str, np.ndarray] = {}  # SMILES -> ChemNet vector, per process


@DRUG_ENCODERS.register("mol-encoder")
class MolEncoderHead(DrugEncoder):
    """Frozen pretrained ChemNet vectors (the ``mol-encoder`` resource, 512-d;
    Preuer et al., J. Chem. Inf. Model. 2018) -> trainable head ``z = MLP(v)``.

    The vectors are inputs, not parameters: only the head learns.

    Shapes: prepared (n_drugs, 512) float32 -> (n_drugs, dim).
    """

    name, Config, resources = "mol-encoder", MolEncoderConfig, ("mol-encoder",)
    views, in_dim = ("smiles",), 512
    config: MolEncoderConfig

    def _build(self) -> None:
        self.net = mlp([self.in_dim, *self.config.hidden, self.config.dim], self.config.dropout)
        self.reset_parameters()

    def prepare(self, data: DrugResponseData, drugs) -> Tensor:
        smiles = self._smiles(data, drugs)
        new = list(dict.fromkeys(s for s in smiles if s not in _VECTORS))
        if new:
            from drpkit.features.molgraph import canonical_mol

            encoder = data.resource("mol-encoder")
            for drug, smi in smiles.items():  # an unparsable SMILES: DataError naming the drug
                canonical_mol(smi, drug)
            _VECTORS.update(zip(new, encoder.encode(new), strict=True))
        return torch.from_numpy(np.stack([_VECTORS[s] for s in smiles]).astype(np.float32))

    def forward(self, v: Tensor) -> Tensor:
        return self.net(v)
