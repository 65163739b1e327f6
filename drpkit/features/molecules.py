"""Drug featurisers computed from SMILES: molecular graphs and fingerprints.

Everything here is stateless: a drug's features depend on its SMILES only, so
they can be computed once for a whole dataset without any risk of leaking
information between the folds of a split. Every function that parses SMILES
reports failures as :class:`~drpkit.errors.DataError` naming the drug id, so a
bad row in a user's table can be found immediately.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from rdkit import Chem, rdBase
from rdkit.Chem import rdFingerprintGenerator, rdMolDescriptors

from drpkit.errors import DataError

if TYPE_CHECKING:  # torch_geometric is slow to import; only mol_to_graph needs it
    from torch_geometric.data import Data

# Elements given their own one-hot slot; anything else falls into "other".
# The organic subset plus the metals and metalloids that occur in approved or
# screened anticancer compounds (platinum drugs, arsenic trioxide, ...).
ATOM_ELEMENTS: tuple[str, ...] = (
    "C", "N", "O", "S", "F", "Cl", "Br", "I", "P", "B", "Si", "Se", "H",
    "Li", "Na", "K", "Mg", "Ca", "Al", "Ga", "Ge", "As", "Sb", "Bi", "Sn",
    "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Pd", "Pt", "Ag",
    "Au", "Hg", "Gd",
)
_ATOMIC_NUMBERS: tuple[int, ...] = tuple(
    Chem.GetPeriodicTable().GetAtomicNumber(symbol) for symbol in ATOM_ELEMENTS)
_DEGREES = 6  # 0, 1, 2, 3, 4, 5+
_FORMAL_CHARGES = (-2, -1, 0, 1, 2)  # values beyond are clipped to the ends
_NUM_HS = 5  # 0, 1, 2, 3, 4+
_HYBRIDISATIONS = (
    Chem.HybridizationType.SP,
    Chem.HybridizationType.SP2,
    Chem.HybridizationType.SP3,
    Chem.HybridizationType.SP3D,
    Chem.HybridizationType.SP3D2,
)  # plus one "other" slot
_BOND_TYPES = (
    Chem.BondType.SINGLE,
    Chem.BondType.DOUBLE,
    Chem.BondType.TRIPLE,
    Chem.BondType.AROMATIC,
)

#: Width of a node feature row of :func:`mol_to_graph`.
ATOM_FEATURE_DIM: int = (len(ATOM_ELEMENTS) + 1 + _DEGREES + len(_FORMAL_CHARGES)
                         + _NUM_HS + len(_HYBRIDISATIONS) + 1 + 2)
#: Width of an edge feature row of :func:`mol_to_graph`.
BOND_FEATURE_DIM: int = len(_BOND_TYPES) + 2

#: Column offsets of the boolean atom flags (useful for tests and inspection).
ATOM_AROMATIC_COLUMN: int = ATOM_FEATURE_DIM - 2
ATOM_IN_RING_COLUMN: int = ATOM_FEATURE_DIM - 1

MORGAN_RADIUS = 2
MORGAN_BITS = 2048
PUBCHEM_BITS = 881
MACCS_BITS = 167


@contextmanager
def _rdkit_logs_silenced() -> Iterator[None]:
    """Mute RDKit's C++ log channels, then restore those that were enabled.

    RDKit prints parse errors straight to stderr; drpkit reports them as a
    :class:`DataError` instead, so the raw log lines would only be noise.
    """
    enabled = [line.split(":")[0] for line in rdBase.LogStatus().splitlines()
               if line.endswith(":enabled")]
    # rdBase's functions are the ones RDLogger re-exports (its stubs omit them)
    rdBase.DisableLog("rdApp.*")
    try:
        yield
    finally:
        for channel in enabled:
            rdBase.EnableLog(channel)


def parse_smiles(smiles: str, drug_id: str) -> Chem.Mol:
    """Parse and sanitise one SMILES string.

    Args:
        smiles: The SMILES string.
        drug_id: The drug's id, used only to make error messages actionable.

    Returns:
        The sanitised RDKit molecule (implicit hydrogens, no explicit H atoms).

    Raises:
        DataError: if ``smiles`` is not a non-empty string, RDKit cannot parse
            or sanitise it, or it describes a molecule without atoms. The
            message names ``drug_id`` and the SMILES.
    """
    if not isinstance(smiles, str) or not smiles.strip():
        raise DataError(f"drug {drug_id!r}: missing or empty SMILES {smiles!r}")
    with _rdkit_logs_silenced():
        mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None:
        raise DataError(f"drug {drug_id!r}: RDKit cannot parse SMILES {smiles!r}")
    if mol.GetNumAtoms() == 0:
        raise DataError(f"drug {drug_id!r}: SMILES {smiles!r} has no atoms")
    return mol


def _one_hot(index: int, width: int) -> list[float]:
    row = [0.0] * width
    row[index] = 1.0
    return row


def _atom_features(atom: Chem.Atom) -> list[float]:
    """Feature row of one atom; the layout is documented in :func:`mol_to_graph`."""
    number = atom.GetAtomicNum()
    element = _ATOMIC_NUMBERS.index(number) if number in _ATOMIC_NUMBERS else len(_ATOMIC_NUMBERS)
    charge = min(max(atom.GetFormalCharge(), _FORMAL_CHARGES[0]), _FORMAL_CHARGES[-1])
    hybrid = atom.GetHybridization()
    hybrid_slot = (_HYBRIDISATIONS.index(hybrid) if hybrid in _HYBRIDISATIONS
                   else len(_HYBRIDISATIONS))
    return (_one_hot(element, len(ATOM_ELEMENTS) + 1)
            + _one_hot(min(atom.GetDegree(), _DEGREES - 1), _DEGREES)
            + _one_hot(_FORMAL_CHARGES.index(charge), len(_FORMAL_CHARGES))
            + _one_hot(min(atom.GetTotalNumHs(), _NUM_HS - 1), _NUM_HS)
            + _one_hot(hybrid_slot, len(_HYBRIDISATIONS) + 1)
            + [float(atom.GetIsAromatic()), float(atom.IsInRing())])


def _bond_features(bond: Chem.Bond) -> list[float]:
    """Feature row of one bond: type one-hot (zeros for exotic types), conjugated, in ring."""
    kind = bond.GetBondType()
    types = [float(kind == t) for t in _BOND_TYPES]
    return types + [float(bond.GetIsConjugated()), float(bond.IsInRing())]


def mol_to_graph(smiles: str, drug_id: str) -> Data:
    """Molecular graph of a drug for graph neural networks.

    Heavy atoms are nodes (hydrogens are implicit and counted in a feature);
    each bond becomes two directed edges, ``2*i`` (begin -> end) and
    ``2*i + 1`` (end -> begin) for RDKit bond ``i``, so message passing is
    symmetric.

    Node feature layout (``ATOM_FEATURE_DIM`` columns, in this order):
    one-hot element over ``ATOM_ELEMENTS`` + "other"; one-hot degree 0..5+;
    one-hot formal charge -2..2 (clipped); one-hot total H count 0..4+;
    one-hot hybridisation SP, SP2, SP3, SP3D, SP3D2, other; aromatic flag
    (column ``ATOM_AROMATIC_COLUMN``); in-ring flag (``ATOM_IN_RING_COLUMN``).

    Edge feature layout (``BOND_FEATURE_DIM`` columns): one-hot bond type
    single, double, triple, aromatic (all zero for rarer types such as
    dative); conjugated flag; in-ring flag.

    Args:
        smiles: The drug's SMILES.
        drug_id: The drug's id (for error messages).

    Returns:
        ``Data`` with ``x`` float32 of shape (n_atoms, ATOM_FEATURE_DIM),
        ``edge_index`` int64 of shape (2, 2 * n_bonds) and ``edge_attr``
        float32 of shape (2 * n_bonds, BOND_FEATURE_DIM). A molecule without
        bonds (a single atom, or a salt written as disconnected ions) gives
        ``edge_index`` of shape (2, 0) and ``edge_attr`` of shape (0, BOND_FEATURE_DIM).

    Raises:
        DataError: if the SMILES cannot be parsed (names the drug id).
    """
    from torch_geometric.data import Data

    mol = parse_smiles(smiles, drug_id)
    x = torch.tensor([_atom_features(atom) for atom in mol.GetAtoms()], dtype=torch.float32)
    sources: list[int] = []
    targets: list[int] = []
    edge_rows: list[list[float]] = []
    for bond in mol.GetBonds():
        begin, end = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        features = _bond_features(bond)
        sources += [begin, end]
        targets += [end, begin]
        edge_rows += [features, features]
    edge_index = torch.tensor([sources, targets], dtype=torch.long).reshape(2, -1)
    edge_attr = torch.tensor(edge_rows, dtype=torch.float32).reshape(-1, BOND_FEATURE_DIM)
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr, num_nodes=x.shape[0])


def _parse_all(smiles: pd.Series) -> list[Chem.Mol]:
    """Parse every SMILES of a drug-indexed Series (errors name the drug)."""
    if not isinstance(smiles, pd.Series):
        raise DataError(f"expected a pandas Series of SMILES indexed by drug id, "
                        f"got {type(smiles).__name__}")
    duplicated = smiles.index[smiles.index.duplicated()]
    if len(duplicated):
        raise DataError(f"drug id {duplicated[0]!r} appears more than once in the SMILES")
    return [parse_smiles(smi, drug) for drug, smi in smiles.items()]


def _bits_frame(rows: list[np.ndarray], smiles: pd.Series, prefix: str,
                n_bits: int) -> pd.DataFrame:
    """Stack per-drug bit vectors into a drugs x bits uint8 DataFrame."""
    matrix = (np.vstack(rows).astype(np.uint8) if rows
              else np.zeros((0, n_bits), dtype=np.uint8))
    columns = [f"{prefix}_{i}" for i in range(n_bits)]
    return pd.DataFrame(matrix, index=smiles.index.copy(), columns=columns)


def morgan_fingerprints(smiles: pd.Series, radius: int = MORGAN_RADIUS,
                        n_bits: int = MORGAN_BITS) -> pd.DataFrame:
    """Morgan (ECFP-like) bit fingerprints, folded to ``n_bits``.

    Uses RDKit's ``rdFingerprintGenerator`` Morgan generator with its default
    atom invariants, which gives the same bits as the deprecated
    ``AllChem.GetMorganFingerprintAsBitVect(mol, radius, nBits=n_bits)``.

    Args:
        smiles: SMILES strings indexed by drug id.
        radius: Neighbourhood radius (2 ~ ECFP4).
        n_bits: Fingerprint length.

    Returns:
        DataFrame of shape (n_drugs, n_bits), dtype uint8, index = drug ids,
        columns ``morgan_0 ... morgan_{n_bits-1}``.

    Raises:
        DataError: on an unparsable SMILES (names the drug) or bad parameters.
    """
    if int(radius) != radius or radius < 0 or int(n_bits) != n_bits or n_bits < 1:
        raise DataError(f"Morgan fingerprints need radius >= 0 and n_bits >= 1, "
                        f"got radius={radius!r}, n_bits={n_bits!r}")
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=int(radius), fpSize=int(n_bits))
    rows = [generator.GetFingerprintAsNumPy(mol) for mol in _parse_all(smiles)]
    return _bits_frame(rows, smiles, "morgan", int(n_bits))


def pubchem_fingerprints(smiles: pd.Series) -> pd.DataFrame:
    """881-bit PubChem (CACTVS) substructure fingerprints via scikit-fingerprints.

    Column ``pubchem_i`` is bit ``i`` of the PubChem specification as
    implemented by ``skfp.fingerprints.PubChemFingerprint`` (RDKit aromaticity,
    so a few bits can differ from PubChem's own service). Known quirks of
    scikit-fingerprints 2.1: the aromatic-ring-count keys 255-262 over-count
    (benzene sets ">= 2/3/4 aromatic rings") and the "heteroatom-containing
    ring" keys fire on carbon-only rings; the element, ring-size and SMARTS
    keys are reliable.

    Args:
        smiles: SMILES strings indexed by drug id.

    Returns:
        DataFrame of shape (n_drugs, 881), dtype uint8, index = drug ids.

    Raises:
        DataError: on an unparsable SMILES (names the drug).
    """
    from skfp.fingerprints import PubChemFingerprint

    mols = _parse_all(smiles)
    rows = list(PubChemFingerprint().transform(mols)) if mols else []
    return _bits_frame(rows, smiles, "pubchem", PUBCHEM_BITS)


def maccs_fingerprints(smiles: pd.Series) -> pd.DataFrame:
    """167-bit MACCS keys (RDKit's layout: bit 0 is unused and always 0).

    Args:
        smiles: SMILES strings indexed by drug id.

    Returns:
        DataFrame of shape (n_drugs, 167), dtype uint8, index = drug ids;
        column ``maccs_i`` is MACCS key ``i``.

    Raises:
        DataError: on an unparsable SMILES (names the drug).
    """
    rows = []
    for mol in _parse_all(smiles):
        bits = np.zeros(MACCS_BITS, dtype=np.uint8)
        # = MACCSkeys.GenMACCSKeys (an alias of this function the stubs lack)
        bits[list(rdMolDescriptors.GetMACCSKeysFingerprint(mol).GetOnBits())] = 1
        rows.append(bits)
    return _bits_frame(rows, smiles, "maccs", MACCS_BITS)


#: Drug fingerprint featurisers by name: each maps a drug-indexed SMILES Series
#: to a drugs x bits uint8 DataFrame.
DRUG_FINGERPRINTS: dict[str, Callable[..., pd.DataFrame]] = {
    "morgan": morgan_fingerprints,
    "pubchem": pubchem_fingerprints,
    "maccs": maccs_fingerprints,
}


def drug_fingerprints(smiles: pd.Series, kind: str, **kwargs) -> pd.DataFrame:
    """Compute the fingerprint named ``kind`` (a key of ``DRUG_FINGERPRINTS``).

    Args:
        smiles: SMILES strings indexed by drug id.
        kind: Fingerprint name, e.g. ``"morgan"``.
        **kwargs: Passed to the featuriser (e.g. ``radius``, ``n_bits`` for Morgan).

    Returns:
        Drugs x bits uint8 DataFrame indexed by drug id.

    Raises:
        DataError: for an unknown ``kind`` (listing the valid ones) or an
            unparsable SMILES.
    """
    featuriser = DRUG_FINGERPRINTS.get(kind)
    if featuriser is None:
        raise DataError(f"unknown drug fingerprint {kind!r}; valid kinds: "
                        f"{', '.join(sorted(DRUG_FINGERPRINTS))}")
    return featuriser(smiles, **kwargs)
