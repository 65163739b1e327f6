"""Built-in datasets assembled from real sources, and the label rules."""
from __future__ import annotations

import numpy as np
import pytest

from drpkit.data import DATASETS, load_dataset
from drpkit.errors import DataError, UnknownNameError


def test_gdsc2_counts_and_views(gdsc2):
    info = gdsc2.info()
    assert info["cells"] == 921 and info["drugs"] == 228  # DATA.md: 921 cells, 228 drugs
    assert info["pairs"] > 150_000
    assert not gdsc2.responses.duplicated(["cell", "drug"]).any()
    assert gdsc2.cell_view("expression").shape[1] > 6000
    assert set(gdsc2.cells) <= set(gdsc2.cell_view("expression").index)
    assert set(gdsc2.drugs) <= set(gdsc2.smiles.index)
    assert gdsc2.cell_info.loc[gdsc2.cells, "tissue"].notna().mean() > 0.95
    # z < -0.8 per drug marks roughly a fifth of pairs as sensitive
    assert 0.15 < info["sensitive_fraction"] < 0.25


def test_label_rules(gdsc2):
    fixed = gdsc2.with_labels("value:0")
    assert np.array_equal(fixed.responses["label"], (gdsc2.responses["value"] < 0).astype(float))
    with pytest.raises(DataError, match="threshold table"):
        gdsc2.with_labels("threshold-table")
    with pytest.raises(UnknownNameError, match="zscore"):
        gdsc2.with_labels("median")


def test_nihgcn_gdsc_matches_paper_matrices():
    data = load_dataset("gdsc-nihgcn")
    assert len(data.drugs) == 228
    assert data.drug_view("pubchem920").shape == (228, 920)
    # labels given upstream agree with the per-drug threshold table
    relabelled = data.with_labels("threshold-table").responses["label"]
    assert (relabelled == data.responses["label"]).mean() > 0.999
    assert 20_000 < data.responses["label"].sum() < 21_000  # 20,851 positives upstream


def test_ccle_nihgcn_keeps_cells_with_expression():
    data = load_dataset("ccle-nihgcn")
    assert len(data.cells) == 328 and len(data.drugs) == 24
    assert any("328 of 436" in note for note in data.notes)


def test_unknown_dataset_and_measure():
    with pytest.raises(UnknownNameError) as err:
        load_dataset("gdsc3")
    for name in DATASETS.names():
        assert name in str(err.value)
    with pytest.raises(DataError, match="measures"):
        load_dataset("gdsc2", measure="ic90")


def test_combine_joins_parts_and_refuses_overlapping_pairs(gdsc2):
    first, second = gdsc2.subset(np.arange(0, 100)), gdsc2.subset(np.arange(100, 150))
    both = first.combine(second)
    assert len(both) == 150 and both.cell_views is gdsc2.cell_views
    with pytest.raises(DataError, match="in both"):
        first.combine(gdsc2.subset(np.arange(90, 120)))
