"""LINCS L1000 (GSE92742) reader: files written in the real GEO layout by write_lincs_example.

Expected values are recomputed here from the raw files (h5py and pandas, and cmapPy's own reader
as a second opinion on the GCTX layout), not from the reader's code paths.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from drpkit.data.lincs import (
    LincsError,
    PerturbationSet,
    find_lincs_files,
    read_lincs,
    write_lincs_example,
)
from drpkit.errors import DataError

GENES = ["DDR1", "PAX8", "RPS5", "ABCF1", "SPAG7", "HSPA1A"]
N_PLATES, N_COMPOUNDS = 4, 6
NO_SMILES = "BRD-K90000007"  # the example's compound whose SMILES is "-666"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> dict[str, Path]:
    return write_lincs_example(tmp_path_factory.mktemp("lincs"), genes=GENES, n_plates=N_PLATES,
                               n_compounds=N_COMPOUNDS)


@pytest.fixture(scope="module")
def full(example) -> PerturbationSet:
    return read_lincs(example["gctx"].parent)


@pytest.fixture
def copy(example, tmp_path) -> dict[str, Path]:
    """A private copy of the example to damage."""
    target = tmp_path / "lincs"
    shutil.copytree(example["gctx"].parent, target)
    return find_lincs_files(target)


def _tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _edit(path: Path, change) -> None:
    frame = _tsv(path)
    frame = change(frame)
    frame.to_csv(path, sep="\t", index=False)


def _raw(files: dict[str, Path]):
    """Matrix (instances x genes), row ids, column ids and inst_info read by hand."""
    with h5py.File(files["gctx"], "r") as handle:
        matrix = handle["0/DATA/0/matrix"][:]
        rows = [value.decode() for value in handle["0/META/ROW/id"][:]]
        cols = [value.decode() for value in handle["0/META/COL/id"][:]]
    gene_info = _tsv(files["gene_info"])
    entrez = dict(zip(gene_info["pr_gene_symbol"], gene_info["pr_gene_id"]))
    gene_rows = [rows.index(entrez[gene]) for gene in GENES]
    inst = _tsv(files["inst_info"]).set_index("inst_id").loc[cols]
    return matrix[:, gene_rows], cols, inst


def test_reads_example_against_manual_h5py(example, full):
    matrix, cols, inst = _raw(example)
    n = N_PLATES * N_COMPOUNDS * 2
    assert len(full) == n and full.perturbed.shape == (n, len(GENES))
    assert full.genes == GENES and full.basal.shape == (N_PLATES, len(GENES))
    assert full.basal.dtype == full.perturbed.dtype == np.float32
    assert full.group.dtype == np.int64 and full.dose_um.dtype == full.time_h.dtype == np.float64
    # treated columns in GCTX order, with SMILES
    treated = np.flatnonzero((inst["pert_type"] == "trt_cp") & (inst["pert_id"] != NO_SMILES))
    np.testing.assert_array_equal(full.perturbed, matrix[treated])
    np.testing.assert_array_equal(full.drug, inst["pert_id"].to_numpy()[treated])
    np.testing.assert_array_equal(full.cell, inst["cell_id"].to_numpy()[treated])
    dose = inst["pert_dose"].astype(float) / np.where(inst["pert_dose_unit"] == "nM", 1000, 1)
    np.testing.assert_array_equal(full.dose_um, dose.to_numpy()[treated])
    assert set(full.dose_um) == {10.0, 0.5}  # 500 nM -> 0.5 µM
    np.testing.assert_array_equal(full.time_h, inst["pert_time"].astype(float).to_numpy()[treated])
    assert set(full.time_h) == {6.0, 24.0}
    # basal: the mean of each plate's DMSO columns only (the plate also holds an untreated one)
    plates = sorted(set(inst["rna_plate"]))
    np.testing.assert_array_equal(
        full.group, [plates.index(plate) for plate in inst["rna_plate"].to_numpy()[treated]])
    for g, plate in enumerate(plates):
        dmso = ((inst["rna_plate"] == plate) & (inst["pert_iname"] == "DMSO")).to_numpy()
        assert dmso.sum() == 3
        np.testing.assert_allclose(full.basal[g], matrix[dmso].mean(axis=0), rtol=1e-6)
    # the "-666" compound is dropped and counted; the others keep their pert_info SMILES
    assert NO_SMILES not in set(full.drug)
    assert full.summary["dropped_missing_smiles"] == N_PLATES * 2
    pert = _tsv(example["pert_info"]).set_index("pert_id")["canonical_smiles"]
    assert full.smiles == {drug: pert[drug] for drug in set(full.drug)}
    assert full.summary["treatments_kept"] == n and full.summary["groups"] == N_PLATES
    assert full.summary["controls_used"] == 3 * N_PLATES
    assert full.summary["instances"] == len(cols)
    assert all(type(value) is int for value in full.summary.values())  # JSON-ready


def test_cmappy_reads_the_example_like_the_reader(example, full):
    from cmapPy.pandasGEXpress import parse  # the reference reader of the GCTX layout

    _, cols, inst = _raw(example)
    gene_info = _tsv(example["gene_info"]).set_index("pr_gene_symbol")["pr_gene_id"]
    treated = [c for c in cols if inst.loc[c, "pert_type"] == "trt_cp"
               and inst.loc[c, "pert_id"] != NO_SMILES]
    rid = [gene_info[gene] for gene in GENES]
    frame = parse.parse(str(example["gctx"]), rid=rid, cid=treated).data_df
    np.testing.assert_array_equal(full.perturbed, frame.loc[rid, treated].to_numpy().T)


def test_example_is_learnable(full):
    """Perturbed - basal depends on compound, dose and time only (plus small noise)."""
    shift = full.perturbed - full.basal[full.group]
    keys = pd.Series(list(zip(full.drug, full.dose_um, full.time_h)))
    for rows in keys.groupby(keys).groups.values():
        assert len(rows) == 2  # two plates per time point
        assert np.abs(shift[rows[0]] - shift[rows[1]]).max() < 0.4
    size = np.abs(shift).mean(axis=1)
    assert size[full.dose_um == 10].mean() > 3 * size[full.dose_um == 0.5].mean()


def test_max_treatments_is_a_seeded_subset(example, full):
    first = read_lincs(example["gctx"].parent, max_treatments=10, seed=1)
    again = read_lincs(example["gctx"].parent, max_treatments=10, seed=1)
    other = read_lincs(example["gctx"].parent, max_treatments=10, seed=2)
    assert len(first) == 10 and first.summary["dropped_max_treatments"] == len(full) - 10
    np.testing.assert_array_equal(first.perturbed, again.perturbed)
    assert not np.array_equal(first.perturbed, other.perturbed)
    for row, group in zip(first.perturbed, first.group):  # each a real row with its own basal
        match = np.flatnonzero((full.perturbed == row).all(axis=1))
        assert len(match) == 1
        np.testing.assert_array_equal(first.basal[group], full.basal[full.group[match[0]]])
    assert len(first.basal) == len(set(first.group))  # only the groups in use are read


def test_chunked_reading_equals_one_chunk(example):
    one = read_lincs(example["gctx"].parent, chunk=10**6, max_treatments=20)
    small = read_lincs(example["gctx"].parent, chunk=3, max_treatments=20)
    for name in ("basal", "perturbed", "group", "drug", "dose_um", "time_h", "cell"):
        np.testing.assert_array_equal(getattr(one, name), getattr(small, name), err_msg=name)


def test_genes_subset_keeps_requested_order(example, full):
    part = read_lincs(example["gctx"].parent, genes=["SPAG7", "DDR1"])
    assert part.genes == ["SPAG7", "DDR1"]
    columns = [GENES.index("SPAG7"), GENES.index("DDR1")]
    np.testing.assert_array_equal(part.perturbed, full.perturbed[:, columns])
    np.testing.assert_allclose(part.basal, full.basal[:, columns], rtol=1e-6)


def test_default_genes_are_the_landmarks(example, full):
    assert "NONLANDMARK1" not in full.genes  # in the GCTX and gene_info but pr_is_lm == 0
    assert read_lincs(example["gctx"].parent, genes=["NONLANDMARK1"]).genes == ["NONLANDMARK1"]


def test_unknown_genes_are_reported(example):
    with pytest.warns(UserWarning, match="NOT_A_GENE"):
        part = read_lincs(example["gctx"].parent, genes=["NOT_A_GENE", "PAX8"])
    assert part.genes == ["PAX8"] and part.summary["genes_missing"] == 1
    with pytest.raises(LincsError, match="none of the 2 requested genes"):
        read_lincs(example["gctx"].parent, genes=["NOT_A_GENE", "ALSO_NOT"])


def test_missing_directory_or_file_names_pattern_and_geo(tmp_path, copy):
    with pytest.raises(LincsError, match=r"GSE92742_Broad_LINCS_Level3_\*\.gctx.*GSE92742"):
        read_lincs(tmp_path / "nowhere")
    copy["pert_info"].unlink()
    with pytest.raises(LincsError, match=r"GSE92742_Broad_LINCS_pert_info\.txt.*GEO GSE92742"):
        read_lincs(copy["gctx"].parent)
    assert issubclass(LincsError, DataError)


def test_gzipped_gctx_gets_a_gunzip_hint(copy):
    copy["gctx"].rename(copy["gctx"].with_name(copy["gctx"].name + ".gz"))
    with pytest.raises(LincsError, match="gunzip"):
        find_lincs_files(copy["gctx"].parent)


def test_explicit_paths_override_the_globs(example, tmp_path):
    renamed = {key: tmp_path / f"my_{key}{path.suffix}" for key, path in example.items()}
    for key, path in example.items():
        shutil.copy(path, renamed[key])
    data = read_lincs(tmp_path / "elsewhere", **renamed)  # directory unused
    assert len(data) == N_PLATES * N_COMPOUNDS * 2
    with pytest.raises(LincsError, match="no_such.gctx"):
        read_lincs(example["gctx"].parent, gctx=tmp_path / "no_such.gctx")


@pytest.mark.parametrize("damage", ["truncate", "text"])
def test_broken_gctx_names_the_file(copy, damage):
    if damage == "truncate":
        data = copy["gctx"].read_bytes()
        copy["gctx"].write_bytes(data[: len(data) // 2])
    else:
        copy["gctx"].write_text("id\tA375\n5720\t1.0\n")
    with pytest.raises(LincsError, match=copy["gctx"].name):
        read_lincs(copy["gctx"].parent)


def test_inst_info_missing_column_is_named(copy):
    _edit(copy["inst_info"], lambda f: f.drop(columns="pert_dose_unit"))
    with pytest.raises(LincsError, match=r"inst_info\.txt.*pert_dose_unit"):
        read_lincs(copy["gctx"].parent)
    with pytest.raises(LincsError, match="batch_id"):
        read_lincs(copy["gctx"].parent, basal_group="batch_id")


def test_gctx_instance_absent_from_inst_info(copy):
    lost = _tsv(copy["inst_info"])["inst_id"].iloc[5]
    _edit(copy["inst_info"], lambda f: f[f["inst_id"] != lost])
    with pytest.raises(LincsError, match=f"inst_id.*{lost}"):
        read_lincs(copy["gctx"].parent)


def test_no_dmso_controls_raises(copy):
    _edit(copy["inst_info"], lambda f: f.assign(
        pert_iname=f["pert_iname"].replace("DMSO", "PBS")))
    with pytest.raises(LincsError, match="no DMSO controls"):
        read_lincs(copy["gctx"].parent)


def test_no_treatments_left_raises(copy):
    _edit(copy["pert_info"], lambda f: f.assign(canonical_smiles="-666"))
    with pytest.raises(LincsError, match="no trt_cp treatments left"):
        read_lincs(copy["gctx"].parent)


def test_plate_without_dmso_drops_its_treatments(copy):
    plate = _tsv(copy["inst_info"])["rna_plate"].iloc[0]
    _edit(copy["inst_info"], lambda f: f.assign(pert_type=f["pert_type"].mask(
        (f["rna_plate"] == plate) & (f["pert_iname"] == "DMSO"), "ctl_untrt")))
    data = read_lincs(copy["gctx"].parent)
    assert data.summary["dropped_no_control"] == N_COMPOUNDS * 2
    assert data.summary["groups"] == N_PLATES - 1 and len(data.basal) == N_PLATES - 1


def test_dose_units_and_missing_smiles_variants(copy):
    kept = ["paclitaxel", "fluorouracil", "tamoxifen", "erlotinib"]  # imatinib, gefitinib damaged

    def damage(frame: pd.DataFrame) -> pd.DataFrame:
        rows = frame.index[frame["pert_iname"].isin(kept) & (frame["pert_dose_unit"] == "µM")]
        frame.loc[rows[0], "pert_dose_unit"] = "mg"  # unknown unit
        frame.loc[rows[1], "pert_dose"] = "-666"  # missing dose
        frame.loc[rows[2], "pert_dose"] = "0"
        frame.loc[rows[3], "pert_time_unit"] = "d"
        frame.loc[rows[4], "pert_dose_unit"] = "uM"  # accepted spellings
        frame.loc[rows[5], ["pert_dose", "pert_dose_unit"]] = ["2500", "nm"]
        return frame

    _edit(copy["inst_info"], damage)
    _edit(copy["pert_info"], lambda f: f.assign(canonical_smiles=f["canonical_smiles"].mask(
        f["pert_iname"] == "imatinib", "")).loc[f["pert_iname"] != "gefitinib"])
    data = read_lincs(copy["gctx"].parent)
    per_compound = N_PLATES * 2
    assert data.summary["dropped_unknown_compound"] == per_compound  # gefitinib not in pert_info
    assert data.summary["dropped_missing_smiles"] == 2 * per_compound  # "" and "-666"
    assert data.summary["dropped_bad_dose"] == 3 and data.summary["dropped_bad_time"] == 1
    assert len(data) == len(kept) * per_compound - 4
    assert sorted(set(data.dose_um)) == [0.5, 2.5, 10.0]
    # 10 µM rows: 4 dropped, one turned into 2500 nm, the "uM" one still counts
    assert (data.dose_um == 10.0).sum() == len(kept) * N_PLATES - 5


def test_variable_length_string_ids(copy, full):
    """GCTX ids stored as variable-length strings (h5py reads them as bytes objects)."""
    with h5py.File(copy["gctx"], "r+") as handle:
        for name in ("0/META/ROW/id", "0/META/COL/id"):
            ids = [value.decode() for value in handle[name][:]]
            del handle[name]
            handle.create_dataset(name, data=ids, dtype=h5py.string_dtype())
    data = read_lincs(copy["gctx"].parent)
    np.testing.assert_array_equal(data.perturbed, full.perturbed)
    np.testing.assert_array_equal(data.drug, full.drug)


def test_example_with_given_smiles(tmp_path):
    given = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O"]
    files = write_lincs_example(tmp_path, genes=GENES[:3], n_plates=2, n_compounds=2, seed=3,
                                smiles=given)
    data = read_lincs(tmp_path, progress=True)
    assert sorted(data.smiles.values()) == sorted(given[:2]) and len(data) == 2 * 2 * 2
    assert files["gctx"].name.startswith("GSE92742_Broad_LINCS_Level3_INF_mlr12k_n")
    with pytest.raises(ValueError, match="n_compounds"):
        write_lincs_example(tmp_path / "more", genes=GENES, n_compounds=4, smiles=given)
