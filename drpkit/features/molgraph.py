"""Molecular graphs of drugs for graph neural networks, in canonical atom order.

Stateless and deterministic: a drug's graph depends on its SMILES only, so it
can be computed once for a whole dataset without leaking anything between
folds, and :func:`mol_graphs` memoises graphs by SMILES text.

**Canonical order.** Each SMILES is parsed with RDKit, written back as RDKit's
canonical isomeric SMILES and parsed again; atoms are numbered in the order of
that canonical string and bonds in the order RDKit reads it. Two spellings of
one molecule (``OCC`` and ``C(O)C``) therefore give identical tensors, not
merely isomorphic graphs. Every fragment of a multi-fragment SMILES (a salt,
``N.N.Cl[Pt]Cl``) is kept, as disconnected components.

**Hydrogens.** Heavy atoms are nodes; hydrogens are implicit and counted in
the ``num_hs`` feature. The only H atoms that are nodes are those RDKit's
default hydrogen removal keeps (an isotope such as ``[2H]``, molecular
``[H][H]``), with element ``H``.

**Edges.** Bond ``k`` of the canonical molecule becomes two directed edges,
``2k`` (begin -> end) and ``2k + 1`` (end -> begin), with the same features,
so message passing is symmetric.

**Atom features** (``ATOM_FEATURE_DIM`` = 65 columns, float 0/1, the same
layout as :func:`drpkit.features.molecules.mol_to_graph`; ``ATOM_SLICES``
names the column ranges):

====================  =====  ==================================================
field                 width  values
====================  =====  ==================================================
``element``           41     ``ATOM_ELEMENTS`` (C, N, O, S, F, Cl, Br, I, P, ...)
                             then "other" (column 40)
``degree``            6      heavy-atom neighbours 0, 1, 2, 3, 4, 5+
``formal_charge``     5      -2, -1, 0, +1, +2 (clipped to the ends)
``num_hs``            5      total hydrogens 0, 1, 2, 3, 4+
``hybridisation``     6      SP, SP2, SP3, SP3D, SP3D2, other
``aromatic``          1      atom is aromatic
``in_ring``           1      atom is in a ring
====================  =====  ==================================================

**Bond features** (``BOND_FEATURE_DIM`` = 13 columns, ``BOND_SLICES``):

====================  =====  ==================================================
``bond_type``         5      single, double, triple, aromatic, other (dative...)
``conjugated``        1      bond is conjugated
``in_ring``           1      bond is in a ring
``stereo``            6      RDKit bond stereo NONE, ANY, Z, E, CIS, TRANS
====================  =====  ==================================================
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd
import torch
from rdkit import Chem

from drpkit.errors import DataError
from drpkit.features.molecules import ATOM_ELEMENTS, parse_smiles

if TYPE_CHECKING:  # torch_geometric is slow to import
    from torch_geometric.data import Data

_ATOMIC_NUMBERS = tuple(Chem.GetPeriodicTable().GetAtomicNumber(e) for e in ATOM_ELEMENTS)
FORMAL_CHARGES: tuple[int, ...] = (-2, -1, 0, 1, 2)
HYBRIDISATIONS = (Chem.HybridizationType.SP, Chem.HybridizationType.SP2,
                  Chem.HybridizationType.SP3, Chem.HybridizationType.SP3D,
                  Chem.HybridizationType.SP3D2)
BOND_TYPES = (Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE,
              Chem.BondType.AROMATIC)
BOND_STEREO = (Chem.BondStereo.STEREONONE, Chem.BondStereo.STEREOANY,
               Chem.BondStereo.STEREOZ, Chem.BondStereo.STEREOE,
               Chem.BondStereo.STEREOCIS, Chem.BondStereo.STEREOTRANS)

#: Atom feature fields in column order, with their widths.
ATOM_FIELDS: tuple[tuple[str, int], ...] = (
    ("element", len(ATOM_ELEMENTS) + 1), ("degree", 6), ("formal_charge", len(FORMAL_CHARGES)),
    ("num_hs", 5), ("hybridisation", len(HYBRIDISATIONS) + 1), ("aromatic", 1), ("in_ring", 1))
#: Bond feature fields in column order, with their widths.
BOND_FIELDS: tuple[tuple[str, int], ...] = (
    ("bond_type", len(BOND_TYPES) + 1), ("conjugated", 1), ("in_ring", 1),
    ("stereo", len(BOND_STEREO)))


def _slices(fields: tuple[tuple[str, int], ...]) -> dict[str, slice]:
    out, start = {}, 0
    for name, width in fields:
        out[name] = slice(start, start + width)
        start += width
    return out


#: Column range of each atom field, e.g. ``x[:, ATOM_SLICES["degree"]]``.
ATOM_SLICES: dict[str, slice] = _slices(ATOM_FIELDS)
#: Column range of each bond field, e.g. ``edge_attr[:, BOND_SLICES["bond_type"]]``.
BOND_SLICES: dict[str, slice] = _slices(BOND_FIELDS)
#: Width of a node feature row (65).
ATOM_FEATURE_DIM: int = sum(width for _, width in ATOM_FIELDS)
#: Width of an edge feature row (13).
BOND_FEATURE_DIM: int = sum(width for _, width in BOND_FIELDS)


def _one_hot(row: list[float], field: slice, index: int) -> None:
    row[field.start + min(index, field.stop - field.start - 1)] = 1.0


def atom_features(atom: Chem.Atom) -> list[float]:
    """The ``ATOM_FEATURE_DIM`` feature row of one RDKit atom (layout: module doc)."""
    row = [0.0] * ATOM_FEATURE_DIM
    number = atom.GetAtomicNum()
    _one_hot(row, ATOM_SLICES["element"], _ATOMIC_NUMBERS.index(number)
             if number in _ATOMIC_NUMBERS else len(_ATOMIC_NUMBERS))
    _one_hot(row, ATOM_SLICES["degree"], atom.GetDegree())
    charge = min(max(atom.GetFormalCharge(), FORMAL_CHARGES[0]), FORMAL_CHARGES[-1])
    _one_hot(row, ATOM_SLICES["formal_charge"], FORMAL_CHARGES.index(charge))
    _one_hot(row, ATOM_SLICES["num_hs"], atom.GetTotalNumHs())
    hybrid = atom.GetHybridization()
    _one_hot(row, ATOM_SLICES["hybridisation"], HYBRIDISATIONS.index(hybrid)
             if hybrid in HYBRIDISATIONS else len(HYBRIDISATIONS))
    row[ATOM_SLICES["aromatic"].start] = float(atom.GetIsAromatic())
    row[ATOM_SLICES["in_ring"].start] = float(atom.IsInRing())
    return row


def bond_features(bond: Chem.Bond) -> list[float]:
    """The ``BOND_FEATURE_DIM`` feature row of one RDKit bond (layout: module doc)."""
    row = [0.0] * BOND_FEATURE_DIM
    kind = bond.GetBondType()
    _one_hot(row, BOND_SLICES["bond_type"],
             BOND_TYPES.index(kind) if kind in BOND_TYPES else len(BOND_TYPES))
    row[BOND_SLICES["conjugated"].start] = float(bond.GetIsConjugated())
    row[BOND_SLICES["in_ring"].start] = float(bond.IsInRing())
    stereo = bond.GetStereo()
    _one_hot(row, BOND_SLICES["stereo"], BOND_STEREO.index(stereo) if stereo in BOND_STEREO else 0)
    return row


def canonical_mol(smiles: str, drug: str) -> Chem.Mol:
    """The molecule of ``smiles`` re-parsed from its RDKit canonical isomeric SMILES,
    so its atom order depends on the molecule only.

    Raises:
        DataError: the SMILES is missing, unparsable or empty (names ``drug``).
    """
    mol = parse_smiles(smiles, drug)
    canonical = Chem.MolToSmiles(mol)
    return parse_smiles(canonical, drug)


@lru_cache(maxsize=8192)
def _graph(smiles: str) -> Data:
    """Graph of one SMILES (memoised by text); ``DataError`` names ``smiles``."""
    from torch_geometric.data import Data

    mol = canonical_mol(smiles, smiles)
    x = torch.tensor([atom_features(atom) for atom in mol.GetAtoms()], dtype=torch.float32)
    index: list[list[int]] = []
    rows: list[list[float]] = []
    for bond in mol.GetBonds():
        begin, end = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        features = bond_features(bond)
        index += [[begin, end], [end, begin]]
        rows += [features, features]
    edge_index = torch.tensor(index, dtype=torch.long).reshape(-1, 2).t().contiguous()
    edge_attr = torch.tensor(rows, dtype=torch.float32).reshape(-1, BOND_FEATURE_DIM)
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr, num_nodes=x.shape[0])


def mol_graph(smiles: str, drug: str) -> Data:
    """Molecular graph of one drug (layout, atom order and hydrogens: module doc).

    Args:
        smiles: the drug's SMILES.
        drug: the drug's id, named in errors.

    Returns:
        a new ``torch_geometric.data.Data`` with ``x`` (n_atoms, ATOM_FEATURE_DIM)
        float32, ``edge_index`` (2, 2 * n_bonds) int64 and ``edge_attr``
        (2 * n_bonds, BOND_FEATURE_DIM) float32 (a bond-less molecule has
        ``edge_index`` (2, 0) and ``edge_attr`` (0, BOND_FEATURE_DIM)).

    Raises:
        DataError: the SMILES is missing or unparsable; the message names ``drug``.
    """
    if not isinstance(smiles, str) or not smiles.strip():
        raise DataError(f"drug {drug!r}: missing or empty SMILES {smiles!r}")
    try:
        return _graph(smiles.strip()).clone()
    except DataError:
        canonical_mol(smiles, drug)  # raises the same error, naming the drug
        raise


def mol_graphs(smiles: pd.Series) -> dict[str, Data]:
    """Molecular graphs of a ``drug -> SMILES`` series, ``{drug: Data}`` in series order.

    Graphs are memoised per process by SMILES text, so folds and models that
    ask for the same drugs share one featurisation; each call returns copies.

    Raises:
        DataError: ``smiles`` is not a Series, repeats a drug, or has a missing
            or unparsable SMILES (the message names the drug).
    """
    if not isinstance(smiles, pd.Series):
        raise DataError(f"expected a pandas Series of SMILES indexed by drug id, "
                        f"got {type(smiles).__name__}")
    repeated = smiles.index[smiles.index.duplicated()]
    if len(repeated):
        raise DataError(f"drug id {repeated[0]!r} appears more than once in the SMILES")
    return {drug: mol_graph(smi, drug) for drug, smi in smiles.items()}
