"""LINCS L1000 phase 1 (GEO GSE92742) read into a pretraining set for CSG2A.

CSG2A pretrains on compound-perturbed expression: from a *basal* profile, a compound's SMILES,
its dose and time it predicts the *perturbed* profile. As in the CSG2A paper the basal profile
of a treated sample is the mean of the DMSO vehicle controls of the same batch (``rna_plate`` by
default), so plate effects cancel between input and target.

The four files come from https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc=GSE92742 (gunzip
them into one directory):

- ``GSE92742_Broad_LINCS_Level3_INF_mlr12k_n1319138x12328.gctx``: Level 3 expression, HDF5 of
  about 49 GB; the matrix ``/0/DATA/0/matrix`` is stored (instances, genes), row ids are Entrez
  ids, column ids instance ids. Only the needed columns are read, ``chunk`` at a time, and of
  them the span of the requested rows (at worst 20,000 x 12,328 float32, ~1 GB, per read).
- ``GSE92742_Broad_LINCS_inst_info.txt``: one row per instance (~1.3M): plate, perturbagen,
  dose, time and cell line. DMSO controls are ``ctl_vehicle``/``DMSO``; compounds ``trt_cp``.
- ``GSE92742_Broad_LINCS_pert_info.txt``: compound SMILES (``-666`` where unknown).
- ``GSE92742_Broad_LINCS_gene_info.txt``: Entrez id, symbol, ``pr_is_lm`` = 1 for 978 landmarks.

The GCTX is read with h5py in the layout cmapPy documents, not with ``cmapPy.parse``: for fewer
rows than columns cmapPy reads ``matrix[:, rows]`` over *every* instance (a full 49 GB pass per
call), and under pandas 3 it fails on metadata fields (``to_numeric(errors="ignore")``).
:func:`write_lincs_example` writes with h5py too, because cmapPy's writer uses ``np.string_``,
removed in numpy 2; the tests check that cmapPy reads those files like this module does.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from drpkit.errors import DataError

GEO_URL = "https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc=GSE92742"
_PREFIX = "GSE92742_Broad_LINCS_"
PATTERNS: dict[str, tuple[str, ...]] = {  # per file, glob patterns tried in order
    "gctx": (f"{_PREFIX}Level3_*.gctx",),
    **{key: (f"{_PREFIX}{key}.txt", f"{_PREFIX}{key}.txt.gz")
       for key in ("inst_info", "pert_info", "gene_info")},
}
_MATRIX, _ROW_IDS, _COL_IDS = "0/DATA/0/matrix", "0/META/ROW/id", "0/META/COL/id"
_INST_COLUMNS = ("inst_id", "pert_id", "pert_iname", "pert_type", "pert_dose", "pert_dose_unit",
                 "pert_time", "pert_time_unit", "cell_id")
_DOSE_UNITS = {"µm": 1.0, "μm": 1.0, "um": 1.0, "nm": 1e-3}  # to µM; keys lower-cased
_TIME_UNITS = {"h": 1.0, "hr": 1.0, "hrs": 1.0, "hours": 1.0}
_MISSING = {"", "-666", "nan"}
_EXAMPLE_SMILES = {  # PubChem canonical SMILES of six approved drugs (as in GDSC)
    "imatinib": "CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)C5=CN=CC=C5",
    "gefitinib": "COC1=C(C=C2C(=C1)N=CN=C2NC3=CC(=C(C=C3)F)Cl)OCCCN4CCOCC4",
    "paclitaxel": "CC1=C2C(C(=O)C3(C(CC4C(C3C(C(C2(C)C)(CC1OC(=O)C(C(C5=CC=CC=C5)NC(=O)C6=CC=CC"
                  "=C6)O)O)OC(=O)C7=CC=CC=C7)(CO4)OC(=O)C)O)C)OC(=O)C",
    "fluorouracil": "C1=C(C(=O)NC(=O)N1)F",
    "tamoxifen": "CCC(=C(C1=CC=CC=C1)C2=CC=C(C=C2)OCCN(C)C)C3=CC=CC=C3",
    "erlotinib": "COCCOC1=C(C=C2C(=C1)C(=NC=N2)NC3=CC=CC(=C3)C#C)OCCOC",
}


class LincsError(DataError):
    """A LINCS file is missing, unreadable or inconsistent with the others."""


@dataclass
class PerturbationSet:
    """Treated L1000 profiles with the basal (DMSO) profile of their batch: CSG2A pretraining."""

    genes: list[str]  # gene symbols, the columns of basal/perturbed
    basal: np.ndarray  # (n_groups, G) float32: mean DMSO profile of each basal group
    perturbed: np.ndarray  # (n, G) float32: treated profiles
    group: np.ndarray  # (n,) int64 row of `basal` for each treated profile
    drug: np.ndarray  # (n,) str pert_id
    smiles: dict[str, str]  # pert_id -> canonical SMILES
    dose_um: np.ndarray  # (n,) float64 dose in µM
    time_h: np.ndarray  # (n,) float64 time in hours
    cell: np.ndarray  # (n,) str cell_id
    summary: dict[str, int]  # counts: read, controls, kept, dropped per reason, groups

    def __len__(self) -> int:
        return len(self.perturbed)


def find_lincs_files(directory: str | Path, **overrides: str | Path | None) -> dict[str, Path]:
    """Paths of the GSE92742 files (keys gctx, inst_info, pert_info, gene_info) in ``directory``.

    A keyword (``gctx=...``) gives a file explicitly; the others are globbed by their GEO name.
    """
    unknown = sorted(set(overrides) - set(PATTERNS))
    if unknown:
        raise TypeError(f"unknown LINCS file key(s) {unknown}; valid: {', '.join(PATTERNS)}")
    directory, found = Path(directory), {}
    for key, patterns in PATTERNS.items():
        given = overrides.get(key)
        if given is not None:
            found[key] = Path(given)
            if not found[key].is_file():
                raise LincsError(f"{given}: {key} file not found (given as {key}=)")
            continue
        where = f"no file matching {' or '.join(patterns)} in {directory}"
        if not directory.is_dir():
            raise LincsError(f"{directory}: directory not found ({where}); the LINCS L1000 files "
                             f"come from GEO GSE92742: {GEO_URL}")
        for pattern in patterns:
            matches = sorted(path for path in directory.glob(pattern) if path.is_file())
            if len(matches) > 1:
                raise LincsError(f"{directory}: several {key} files match {pattern}: "
                                 f"{', '.join(path.name for path in matches)}; pass {key}=PATH")
            if matches:
                found[key] = matches[0]
                break
        else:
            packed = key == "gctx" and any(directory.glob(patterns[0] + ".gz"))
            raise LincsError(f"{where}; download it from GEO GSE92742 ({GEO_URL})"
                             + ("; a .gctx.gz is there: gunzip it first" if packed else ""))
    return found


def _missing(values: pd.Series) -> pd.Series:
    """True where a metadata value is absent (NaN, empty or CMap's "-666")."""
    return values.isna() | values.astype(str).str.strip().str.lower().isin(_MISSING)


def _read_table(path: Path, columns: Sequence[str], what: str) -> pd.DataFrame:
    """The named columns of a tab-separated file as strings; LincsError names the file/column."""
    for encoding in ("utf-8", "latin-1"):  # GEO files are UTF-8 ("µM"); accept re-saved ones
        try:
            header = pd.read_csv(path, sep="\t", nrows=0, encoding=encoding).columns
            if all(column in header for column in columns):
                return pd.read_csv(path, sep="\t", usecols=list(dict.fromkeys(columns)),
                                   dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except (OSError, ValueError) as err:
            raise LincsError(f"{path}: cannot read the {what} table: {err}") from err
        missing = [column for column in columns if column not in header]
        raise LincsError(f"{path}: {what} lacks column(s) {', '.join(missing)} "
                         f"(has {', '.join(map(str, header[:12]))})")
    raise LincsError(f"{path}: {what} is neither UTF-8 nor Latin-1 text")


def _ids(values: np.ndarray) -> np.ndarray:
    """HDF5 id strings (fixed-length bytes, or variable-length read as bytes objects) as str."""
    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8")
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=str)


def _gctx_ids(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Row (Entrez) and column (instance) ids of a GCTX, checked against the matrix shape."""
    try:
        with h5py.File(path, "r") as handle:
            rows, cols = _ids(handle[_ROW_IDS][:]), _ids(handle[_COL_IDS][:])
            shape = handle[_MATRIX].shape
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise LincsError(f"{path}: not a readable GCTX file (HDF5 with {_MATRIX}, {_ROW_IDS} and "
                         f"{_COL_IDS}): {err}; re-download it from GEO GSE92742") from err
    if tuple(shape) != (len(cols), len(rows)):
        raise LincsError(f"{path}: {_MATRIX} has shape {tuple(shape)}, expected (columns, rows) "
                         f"= ({len(cols)}, {len(rows)})")
    return rows, cols


def _select_genes(files: dict[str, Path], genes: Sequence[str] | None,
                  row_ids: np.ndarray) -> tuple[list[str], np.ndarray, int]:
    """Found symbols (requested order), their GCTX row positions, and how many were missing."""
    info = _read_table(files["gene_info"], ("pr_gene_id", "pr_gene_symbol", "pr_is_lm"),
                       "gene info")
    landmark = info["pr_is_lm"].str.strip().isin(["1", "1.0", "True", "true"])
    if genes is None:
        genes = info.loc[landmark, "pr_gene_symbol"].tolist()
    info = info.assign(lm=landmark).sort_values("lm", ascending=False, kind="stable")
    entrez = dict(zip(info["pr_gene_symbol"][::-1], info["pr_gene_id"].str.strip()[::-1]))
    row_of = {gene_id: i for i, gene_id in enumerate(row_ids)}
    requested = list(dict.fromkeys(genes))
    found = [g for g in requested if entrez.get(g) in row_of]
    absent = [g for g in requested if g not in entrez]
    no_row = [g for g in requested if g in entrez and entrez[g] not in row_of]
    detail = (f"{len(absent)} not in {files['gene_info'].name} (e.g. {absent[:5]}), "
              f"{len(no_row)} without a row in {files['gctx'].name} (e.g. {no_row[:5]})")
    if not found:
        raise LincsError(f"none of the {len(requested)} requested genes is in the LINCS files: "
                         f"{detail}")
    if absent or no_row:
        warnings.warn(f"LINCS: {len(absent) + len(no_row)} of {len(requested)} requested genes "
                      f"are missing: {detail}", stacklevel=3)
    rows = np.array([row_of[entrez[g]] for g in found], dtype=np.int64)
    return found, rows, len(absent) + len(no_row)


def _in_units(values: pd.Series, units: pd.Series, scale: dict[str, float]) -> pd.Series:
    """Numeric values times the unit's factor; NaN for an unknown unit or a non-number."""
    factor = units.str.strip().str.lower().map(scale).astype(float)
    return pd.to_numeric(values, errors="coerce").astype(float) * factor


def read_lincs(directory: str | Path, genes: Sequence[str] | None = None, *,
               basal_group: str = "rna_plate", max_treatments: int | None = None, seed: int = 0,
               chunk: int = 20000, progress: bool | None = None,
               **paths: str | Path | None) -> PerturbationSet:
    """Compound-treated profiles with the mean DMSO profile of their ``basal_group`` as basal.

    Args:
        directory: folder with the GSE92742 files (see :func:`find_lincs_files`; ``paths``
            override single files).
        genes: symbols to keep, in this order; default all landmark genes of gene_info.
        basal_group: inst_info column whose DMSO controls form a treated profile's basal.
        max_treatments: keep a random (``seed``) subset of treatments to bound memory.
        chunk: GCTX columns read at a time; progress: tqdm bar (None: only on a terminal).

    Treatments are dropped (counted in ``summary``) in this order: unknown compound, missing
    SMILES, bad dose (unit not µM/nM, missing or <= 0), bad time, no DMSO control in the group.
    """
    if chunk < 1 or (max_treatments is not None and max_treatments < 1):
        raise ValueError("chunk and max_treatments must be >= 1")
    files = find_lincs_files(directory, **paths)
    row_ids, col_ids = _gctx_ids(files["gctx"])
    symbols, rows, n_missing = _select_genes(files, genes, row_ids)
    inst_path = files["inst_info"]
    inst = _read_table(inst_path, (*_INST_COLUMNS, basal_group), "instance info")
    columns = pd.Index(col_ids)
    if not columns.is_unique:
        raise LincsError(f"{files['gctx']}: duplicated column ids, e.g. "
                         f"{columns[columns.duplicated()][:3].tolist()}")
    absent = ~columns.isin(inst["inst_id"])
    if absent.any():
        raise LincsError(f"{files['gctx']}: {int(absent.sum())} column id(s) are absent from "
                         f"{inst_path} (column inst_id), e.g. {columns[absent][:3].tolist()}; "
                         "use the inst_info of the same GEO series (GSE92742)")
    inst = inst[inst["inst_id"].isin(columns)].drop_duplicates("inst_id")
    inst = inst.assign(pos=columns.get_indexer(inst["inst_id"]))
    control = inst[(inst["pert_type"] == "ctl_vehicle") & (inst["pert_iname"] == "DMSO")
                   & ~_missing(inst[basal_group])]
    if control.empty:
        raise LincsError(f"{inst_path}: no DMSO controls (pert_type ctl_vehicle, pert_iname DMSO "
                         f"with a {basal_group}) among the instances of {files['gctx'].name}")
    treated = inst[inst["pert_type"] == "trt_cp"]
    summary = {"instances": len(col_ids), "controls": len(control), "treatments": len(treated),
               "genes": len(symbols), "genes_missing": n_missing}
    pert = _read_table(files["pert_info"], ("pert_id", "canonical_smiles"), "compound info")
    pert = pert.drop_duplicates("pert_id")
    smiles_of = dict(zip(pert["pert_id"], pert["canonical_smiles"].str.strip()))
    with_smiles = pert.loc[~_missing(pert["canonical_smiles"]), "pert_id"]
    dose = _in_units(treated["pert_dose"], treated["pert_dose_unit"], _DOSE_UNITS)
    time = _in_units(treated["pert_time"], treated["pert_time_unit"], _TIME_UNITS)
    keep = pd.Series(True, index=treated.index)
    for reason, ok in (("unknown_compound", treated["pert_id"].isin(pert["pert_id"])),
                       ("missing_smiles", treated["pert_id"].isin(with_smiles)),
                       ("bad_dose", dose.gt(0)), ("bad_time", time.gt(0)),
                       ("no_control", treated[basal_group].isin(control[basal_group]))):
        summary[f"dropped_{reason}"] = int((keep & ~ok).sum())
        keep &= ok
    treated = treated[keep]
    if treated.empty:
        raise LincsError(f"{inst_path}: no trt_cp treatments left to read ({summary})")
    if max_treatments is not None and len(treated) > max_treatments:
        pick = np.random.default_rng(seed).choice(len(treated), max_treatments, replace=False)
        treated = treated.iloc[np.sort(pick)]
    summary["dropped_max_treatments"] = int(keep.sum()) - len(treated)
    treated = treated.sort_values("pos")
    names = pd.Index(sorted(set(treated[basal_group])))
    control = control[control[basal_group].isin(names)]
    summary.update(treatments_kept=len(treated), controls_used=len(control), groups=len(names))
    basal, perturbed = _read_profiles(files["gctx"], rows, control["pos"].to_numpy(),
                                      names.get_indexer(control[basal_group]),
                                      treated["pos"].to_numpy(), len(names), chunk, progress)
    drugs = treated["pert_id"].to_numpy(dtype=str)
    return PerturbationSet(
        genes=symbols, basal=basal, perturbed=perturbed,
        group=names.get_indexer(treated[basal_group]).astype(np.int64), drug=drugs,
        smiles={str(drug): smiles_of[drug] for drug in dict.fromkeys(drugs)},
        dose_um=dose[treated.index].to_numpy(dtype=np.float64),
        time_h=time[treated.index].to_numpy(dtype=np.float64),
        cell=treated["cell_id"].to_numpy(dtype=str), summary=summary)


def _read_profiles(path: Path, rows: np.ndarray, control_pos: np.ndarray,
                   control_group: np.ndarray, treated_pos: np.ndarray, n_groups: int, chunk: int,
                   progress: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """Group means of the control columns and the treated columns, ``chunk`` columns a read.

    Columns are read in file order (h5py needs increasing indices; HDF5 chunks are visited once)
    and only the span of the wanted rows: memory ~ chunk x row span, never the whole matrix.
    """
    positions = np.concatenate([control_pos, treated_pos])
    order = np.argsort(positions, kind="stable")
    n_control, lo, hi = len(control_pos), int(rows.min()), int(rows.max()) + 1
    sums = np.zeros((n_groups, len(rows)), dtype=np.float64)
    perturbed = np.empty((len(treated_pos), len(rows)), dtype=np.float32)
    try:
        with h5py.File(path, "r") as handle, tqdm(
                total=len(order), desc="LINCS GCTX", unit="profile",
                disable=None if progress is None else not progress) as bar:
            matrix = handle[_MATRIX]
            for start in range(0, len(order), chunk):
                take = order[start:start + chunk]
                block = matrix[positions[take], lo:hi][:, rows - lo].astype(np.float32)
                is_control = take < n_control
                np.add.at(sums, control_group[take[is_control]], block[is_control])
                perturbed[take[~is_control] - n_control] = block[~is_control]
                bar.update(len(take))
    except (OSError, KeyError, ValueError) as err:
        raise LincsError(f"{path}: reading {_MATRIX} failed: {err}") from err
    counts = np.bincount(control_group, minlength=n_groups)
    return (sums / counts[:, None]).astype(np.float32), perturbed


def write_lincs_example(directory: str | Path, *, genes: Sequence[str], n_plates: int = 4,
                        n_compounds: int = 6, seed: int = 0,
                        smiles: Sequence[str] | None = None) -> dict[str, Path]:
    """Write a small GSE92742-format set (the four files, GEO names) for tests and demos.

    Each plate holds 3 DMSO controls, 1 untreated control and every compound at 10 µM and
    500 nM; one extra compound has SMILES "-666". A treated profile is the plate's DMSO mean
    plus ``effect[compound] * log1p(dose_um) * sqrt(time_h / 24)`` plus small noise, so it is
    learnable. Gene rows are fake Entrez ids 1000+i (two extra non-landmark genes follow).
    ``smiles`` replaces the six default drugs; the first ``n_compounds`` of it are used.
    """
    genes = list(dict.fromkeys(genes))
    table = list(smiles) if smiles is not None else list(_EXAMPLE_SMILES.values())
    names = list(_EXAMPLE_SMILES) if smiles is None else [f"compound-{i}" for i in range(len(table))]
    if not genes or n_plates < 1 or not 1 <= n_compounds <= len(table):
        raise ValueError(f"need genes, n_plates >= 1 and 1 <= n_compounds <= {len(table)} (the "
                         f"number of SMILES); got {len(genes)} genes, {n_plates}, {n_compounds}")
    directory, rng = Path(directory), np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    symbols = genes + ["NONLANDMARK1", "NONLANDMARK2"]
    entrez = [str(1000 + i) for i in range(len(symbols))]
    perts = [(f"BRD-K{90000001 + i}", names[i], table[i]) for i in range(n_compounds)]
    perts.append((f"BRD-K{90000001 + n_compounds}", "unknown-structure", "-666"))
    cells = ("A375", "MCF7", "PC3", "HT29")
    base = {cell: rng.normal(8.0, 1.5, len(symbols)) for cell in cells}
    effect = rng.normal(0.0, 1.0, (len(perts), len(symbols)))
    records, profiles = [], []
    for p in range(n_plates):
        cell, hours = cells[p % len(cells)], (6, 24)[p % 2]
        plate = f"EXM{p + 1:03d}_{cell}_{hours}H_X1_B{p + 1}"
        mean = base[cell] + rng.normal(0.0, 0.5, len(symbols))  # batch effect of the plate
        wells = [f"{r}{c:02d}" for r in "ABCDEFGHIJKLMNOP" for c in range(1, 25)]
        plate_rows = [("DMSO", "DMSO", "ctl_vehicle", "-666", "-666", mean)] * 3 + [
            ("CMAP-000", "UnTrt", "ctl_untrt", "-666", "-666", mean + rng.normal(0, 1, len(mean)))]
        for k, (pert_id, iname, _) in enumerate(perts):
            for dose_um, dose, unit in ((10.0, "10", "µM"), (0.5, "500", "nM")):
                shift = effect[k] * np.log1p(dose_um) * np.sqrt(hours / 24)
                plate_rows.append((pert_id, iname, "trt_cp", dose, unit, mean + shift))
        for well, (pert_id, iname, kind, dose, unit, profile) in zip(wells, plate_rows):
            records.append((f"{plate}:{well}", plate, well, pert_id, iname, kind, dose, unit,
                            str(hours), "h", cell))
            profiles.append(profile + rng.normal(0.0, 0.05, len(symbols)))
    inst = pd.DataFrame(records, columns=["inst_id", "rna_plate", "rna_well", *_INST_COLUMNS[1:]])
    files = {key: directory / patterns[0] for key, patterns in PATTERNS.items()}
    files["gctx"] = directory / f"{_PREFIX}Level3_INF_mlr12k_n{len(inst)}x{len(symbols)}.gctx"
    col_order, row_order = rng.permutation(len(inst)), rng.permutation(len(symbols))
    matrix = np.asarray(profiles, dtype=np.float32)[col_order][:, row_order]
    with h5py.File(files["gctx"], "w") as handle:
        handle.attrs["version"] = np.bytes_("GCTX1.0")
        handle.create_dataset(_MATRIX, data=matrix)
        handle.create_dataset(_ROW_IDS, data=np.array(entrez, dtype="S")[row_order])
        handle.create_dataset(_COL_IDS, data=inst["inst_id"].to_numpy(dtype="S")[col_order])
    inst.to_csv(files["inst_info"], sep="\t", index=False, encoding="utf-8")
    pert_rows = [("DMSO", "DMSO", "ctl_vehicle", "CS(C)=O")] + [
        (pert_id, iname, "trt_cp", smi) for pert_id, iname, smi in perts]
    pd.DataFrame([(pid, name, kind, 0, "-666", "-666", smi, "-666")
                  for pid, name, kind, smi in pert_rows],
                 columns=["pert_id", "pert_iname", "pert_type", "is_touchstone",
                          "inchi_key_prefix", "inchi_key", "canonical_smiles", "pubchem_cid"]
                 ).to_csv(files["pert_info"], sep="\t", index=False)
    pd.DataFrame({"pr_gene_id": entrez, "pr_gene_symbol": symbols,
                  "pr_gene_title": [f"{s} (example)" for s in symbols],
                  "pr_is_lm": [1] * len(genes) + [0, 0], "pr_is_bing": 1}
                 ).to_csv(files["gene_info"], sep="\t", index=False)
    return files
