"""``dti``: drug-target interactions, matched to a dataset's drugs.

Two tables are available offline:

* ``drugbank``: drGT's DrugBank drug-target table (mirror ``drgt/full_table.csv``:
  drug name, DrugBank id, SMILES, target gene symbol), with drGT's synonym
  table (``drgt/drugSynonym.csv``, names across NCI60/CTRP/GDSC/...);
* ``chembl``: drug2cell 0.1.2's ChEMBL drug -> target genes dictionaries (by ATC
  group; a pickle, hash-checked first, then read with ``safe_unpickle``). It has
  names but no structures.

Datasets and these tables name drugs differently, so a dataset drug is matched
to a table's drugs by the first rule that finds one:

1. ``structure``: the first InChIKey block (atom connectivity) of its SMILES
   equals that of a table drug (DrugBank only), as in
   :mod:`drpkit.data.drug_matching`;
2. ``name``: the same :func:`drpkit.data.ids.drug_key` (case and punctuation
   ignored);
3. ``synonym``: drGT's synonym table puts both names in one row.

InChIKeys of the DrugBank SMILES take a few seconds; they are a pure function
of the verified file, so they are cached as a Parquet table named after the
file's sha256.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from drpkit.data.drug_matching import structure_key
from drpkit.data.ids import drug_key
from drpkit.data.readers import require_columns, safe_unpickle
from drpkit.data.sources import SOURCES
from drpkit.data.tables import cached_table
from drpkit.errors import DataError
from drpkit.resources.base import Resource, expression_genes, percent

DTI_SOURCES = ("drugbank", "chembl")
MATCH_RULES = ("structure", "name", "synonym")
TARGET_COLUMNS = ["drug", "gene", "source", "match_rule", "reference"]


def _synonym_groups(path) -> dict[str, set[str]]:
    """drug_key -> the drug_keys of every name in the same drGT synonym row."""
    table = pd.read_csv(path, dtype=str)
    require_columns(table, ["NAME_SET"], path=path)
    groups: dict[str, set[str]] = defaultdict(set)
    for row in table.itertuples(index=False):
        names = [n for cell in row if isinstance(cell, str) for n in cell.split("|")]
        keys = {drug_key(n) for n in names if n.strip() and not n.strip().isdigit()}
        keys.discard("")
        for key in keys:
            groups[key] |= keys
    return dict(groups)


class DTI(Resource):
    """Drug-target interactions from DrugBank (drGT) and ChEMBL (drug2cell)."""

    name = "dti"
    description = ("drug-target interactions: DrugBank (drGT's table, + synonyms) and ChEMBL "
                   "(drug2cell); matched to a dataset by structure, name, synonym")
    licence = ("drGT: MIT (DrugBank terms apply: CC BY-NC 4.0); drug2cell: non-commercial "
               "licence (ChEMBL CC BY-SA 3.0)")
    files = (("drgt", "full_table.csv"), ("drgt", "drugSynonym.csv"),
             ("drug2cell", "drug-target_dicts.pkl"))

    def _load(self) -> dict[str, Any]:
        path = self.path("drgt", "full_table.csv")
        raw = pd.read_csv(path, dtype=str)
        require_columns(raw, ["Drug Name", "DrugBank ID", "SMILES", "Gene"], path=path)
        raw = raw.dropna(subset=["Drug Name", "Gene"])
        drugbank = pd.DataFrame({"reference": raw["Drug Name"].str.strip(),
                                 "ref_id": raw["DrugBank ID"], "smiles": raw["SMILES"],
                                 "gene": raw["Gene"].str.strip(), "source": "drugbank"})
        drugbank = drugbank.drop_duplicates(["reference", "gene"]).reset_index(drop=True)
        keys = self._structure_keys(drugbank["smiles"])
        drugbank["structure_key"] = drugbank["smiles"].map(keys)

        chembl_raw = safe_unpickle(self.path("drug2cell", "drug-target_dicts.pkl"))
        if not isinstance(chembl_raw, dict):
            raise DataError("drug2cell drug-target_dicts.pkl: expected a dict of dicts")
        rows = [(name.split("|", 1)[-1].strip(), name.split("|", 1)[0], str(gene))
                for group in chembl_raw.values() for name, genes in group.items()
                for gene in genes]
        chembl = pd.DataFrame(rows, columns=["reference", "ref_id", "gene"]).assign(
            smiles=None, source="chembl", structure_key=None)
        chembl = chembl.drop_duplicates(["reference", "gene"]).reset_index(drop=True)
        table = pd.concat([drugbank, chembl[drugbank.columns]], ignore_index=True)
        table["name_key"] = table["reference"].map(drug_key)
        return {"table": table,
                "synonyms": _synonym_groups(self.path("drgt", "drugSynonym.csv"))}

    def _structure_keys(self, smiles: pd.Series) -> pd.Series:
        """SMILES -> InChIKey connectivity block, cached per sha256 of the source file."""
        sha = SOURCES.get("drgt").files["full_table.csv"].sha256[:16]

        def build() -> pd.DataFrame:
            unique = smiles.dropna().unique()
            return pd.DataFrame({"smiles": unique,
                                 "structure_key": [structure_key(s) for s in unique]})

        frame = cached_table(f"dti_drugbank_structure_keys_{sha}", build)
        return frame.set_index("smiles")["structure_key"]

    def table(self, source: str | None = None) -> pd.DataFrame:
        """All interactions: ``reference, ref_id, smiles, gene, source, structure_key, name_key``."""
        table = self.load()["table"]
        if source is None:
            return table
        if source not in DTI_SOURCES:
            raise DataError(f"unknown dti source {source!r}; use one of {list(DTI_SOURCES)}")
        return table.loc[table["source"] == source]

    def match(self, drugs, smiles: pd.Series | None = None,
              sources: tuple[str, ...] = DTI_SOURCES) -> pd.DataFrame:
        """Targets of named drugs (SMILES optional), by structure, then name, then synonym.

        Args:
            drugs: drug names.
            smiles: SMILES indexed by drug name (drugs without one skip the
                structure rule).
            sources: which tables to search (``drugbank``, ``chembl``).

        Returns:
            DataFrame ``drug, gene, source, match_rule, reference``, one row per
            drug, target and source; per source each drug takes the first rule
            that matched at least one table drug.
        """
        smiles = pd.Series(dtype=str) if smiles is None else smiles
        synonyms = self.load()["synonyms"]
        frames = []
        for source in sources:
            table = self.table(source)
            by_structure = table.dropna(subset=["structure_key"]).groupby("structure_key")
            by_name = table.groupby("name_key")
            for drug in pd.unique(pd.Index(drugs).astype(str)):
                hit, rule = self._first_hit(drug, smiles.get(drug), by_structure, by_name,
                                            synonyms)
                if hit is not None:
                    frames.append(pd.DataFrame({
                        "drug": drug, "gene": hit["gene"].to_numpy(), "source": source,
                        "match_rule": rule, "reference": hit["reference"].to_numpy()}))
        if not frames:
            return pd.DataFrame(columns=TARGET_COLUMNS)
        out = pd.concat(frames, ignore_index=True)
        return out.drop_duplicates(["drug", "gene", "source"]).reset_index(drop=True)

    @staticmethod
    def _first_hit(drug: str, smi, by_structure, by_name, synonyms):
        key = structure_key(smi) if isinstance(smi, str) else None
        if key is not None and key in by_structure.groups:
            return by_structure.get_group(key), "structure"
        name = drug_key(drug)
        if name in by_name.groups:
            return by_name.get_group(name), "name"
        found = [by_name.get_group(k) for k in sorted(synonyms.get(name, ()))
                 if k in by_name.groups]
        if found:
            return pd.concat(found), "synonym"
        return None, None

    def targets(self, data, sources: tuple[str, ...] = DTI_SOURCES) -> pd.DataFrame:
        """Targets of a dataset's drugs (see :meth:`match`), using its SMILES."""
        return self.match(data.drugs, data.smiles, sources)

    def _info(self, dataset) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for source in DTI_SOURCES:
            table = self.table(source)
            out[f"{source}: interactions"] = len(table)
            out[f"{source}: drugs"] = table["reference"].nunique()
            out[f"{source}: targets (genes)"] = table["gene"].nunique()
        if dataset is None:
            return out
        found = self.targets(dataset)
        drugs, genes = list(dataset.drugs), set(expression_genes(dataset))
        out["dataset"] = f"{dataset.name} ({len(drugs)} drugs, {len(genes)} expression genes)"
        out["drugs with >= 1 target"] = percent(found["drug"].nunique(), len(drugs))
        for source in DTI_SOURCES:
            part = found.loc[found["source"] == source]
            rules = part.drop_duplicates("drug")["match_rule"].value_counts()
            out[f"{source}: drugs with >= 1 target"] = percent(part["drug"].nunique(), len(drugs))
            out[f"{source}: by rule"] = ", ".join(f"{r} {int(rules.get(r, 0))}"
                                                  for r in MATCH_RULES)
        targets = set(found["gene"])
        out["distinct targets of the dataset's drugs"] = len(targets)
        out["targets among expression genes"] = percent(len(targets & genes), len(targets))
        with_expr = found.loc[found["gene"].isin(genes), "drug"].nunique()
        out["drugs with a target among expression genes"] = percent(with_expr, len(drugs))
        return out

