"""Matching drugs across tables: same structure first, then the same normalised name.

Datasets and users name drugs differently ('Nutlin-3a (-)', 'nutlin3a',
a salt form, a synonym), so a known drug under another name must not be
treated as a new one. Two drugs are the same when the first block of their
InChIKeys (atom connectivity: stereo notation, charges and isotopes aside)
agrees; failing that, when their names agree after :func:`drug_key`
normalisation. The transfer runner and ``drpkit predict`` both use this.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from drpkit.data.ids import drug_key


def structure_key(smiles: object) -> str | None:
    """First block of the InChIKey (atom connectivity), or None if unparsable."""
    from rdkit import Chem, rdBase

    rdBase.DisableLog("rdApp.*")  # = RDLogger.DisableLog, which rdkit's stubs omit
    mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles else None
    if mol is None:
        return None
    key = Chem.MolToInchiKey(mol)
    return key[:14] if key else None


@dataclass(frozen=True)
class DrugMatch:
    """A drug of one table identified with a drug of a reference table.

    Attributes:
        drug: the name in the table being matched.
        reference: the reference table's name for the same drug.
        rule: ``"structure"`` (InChIKey connectivity) or ``"name"``.
    """

    drug: str
    reference: str
    rule: str


def match_drug_names(reference_drugs, reference_smiles: pd.Series, drugs,
                     smiles: pd.Series) -> dict[str, DrugMatch]:
    """Each of ``drugs`` that is one of ``reference_drugs``, by structure then by name.

    Args:
        reference_drugs: names of the reference drugs (e.g. a training set's).
        reference_smiles: SMILES of reference drugs, indexed by name (may miss some).
        drugs: names to match.
        smiles: SMILES of ``drugs``, indexed by name (may miss some).

    Returns:
        drug -> :class:`DrugMatch` for every drug that matched; several drugs
        may match one reference drug (salts, duplicates).
    """
    by_structure: dict[str, str] = {}
    for ref in reference_drugs:
        key = structure_key(reference_smiles.get(ref))
        if key:
            by_structure.setdefault(key, str(ref))
    by_name = {drug_key(ref): str(ref) for ref in reference_drugs}
    out = {}
    for drug in drugs:
        ref = by_structure.get(structure_key(smiles.get(drug)) or "")
        if ref is not None:
            out[str(drug)] = DrugMatch(str(drug), ref, "structure")
            continue
        ref = by_name.get(drug_key(drug))
        if ref is not None:
            out[str(drug)] = DrugMatch(str(drug), ref, "name")
    return out
