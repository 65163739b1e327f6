"""Split kinds, registered by name.

A split kind partitions the rows of a response table into ``n_parts`` test
parts and, for each, says which of the remaining rows may train:

* ``random``: pairs are assigned to parts at random (cells and drugs recur).
* ``cell-blind``: cells are assigned to parts; a test cell never trains.
* ``drug-blind``: drugs are assigned to parts; a test drug never trains.
* ``disjoint``: cells and drugs are both assigned to parts; part k tests the
  pairs of (cells of k) x (drugs of k) and trains on pairs whose cell *and*
  drug are outside k, so pairs with only one held-out side are left unused.
* ``tissue-blind``: whole tissues are assigned to parts (greedy, balancing
  the number of pairs); a test tissue never trains.

Each function returns a list of ``(train_rows, test_rows)`` positional arrays.
A split whose test parts do not cover every pair sets the function attribute
``covers_all_pairs = False``; one that holds out whole cells, drugs or
tissues names those columns in ``blind_on`` (checked by ``check_fold``).
The same function carves the inner validation part out of a training part,
so validation is as "blind" as the test.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from drpkit.errors import DataError
from drpkit.registry import Registry

Splitter = Callable[[pd.DataFrame, int, np.random.Generator], list[tuple[np.ndarray, np.ndarray]]]
SPLITS: Registry[Splitter] = Registry("split kind")


def split_traits(split: Any, *, blind_on: tuple[str, ...] | None = None,
                 covers_all_pairs: bool | None = None) -> None:
    """Set a split function's ``blind_on`` / ``covers_all_pairs`` attributes (see
    above); ``split`` is typed Any as type checkers do not model function attributes."""
    if blind_on is not None:
        split.blind_on = blind_on
    if covers_all_pairs is not None:
        split.covers_all_pairs = covers_all_pairs


def _group_parts(groups: np.ndarray, n_parts: int, rng: np.random.Generator,
                 what: str) -> np.ndarray:
    """Assign each distinct group to one of ``n_parts`` parts at random (near-equal counts)."""
    unique = np.unique(groups)
    if len(unique) < n_parts:
        raise DataError(f"cannot make {n_parts} parts from {len(unique)} {what}s")
    shuffled = rng.permutation(unique)
    part_of = {g: i % n_parts for i, g in enumerate(shuffled)}
    return np.array([part_of[g] for g in groups])


def _by_row_part(part: np.ndarray, n_parts: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.flatnonzero(part != k), np.flatnonzero(part == k)) for k in range(n_parts)]


@SPLITS.register("random")
def random_split(frame: pd.DataFrame, n_parts: int, rng: np.random.Generator):
    """Pairs assigned to parts at random."""
    if len(frame) < n_parts:
        raise DataError(f"cannot make {n_parts} parts from {len(frame)} pairs")
    part = rng.permutation(np.arange(len(frame)) % n_parts)
    return _by_row_part(part, n_parts)


@SPLITS.register("cell-blind")
def cell_blind_split(frame: pd.DataFrame, n_parts: int, rng: np.random.Generator):
    """Cells assigned to parts; all pairs of a test cell are held out."""
    return _by_row_part(_group_parts(frame["cell"].to_numpy(), n_parts, rng, "cell"), n_parts)


split_traits(cell_blind_split, blind_on=("cell",))


@SPLITS.register("drug-blind")
def drug_blind_split(frame: pd.DataFrame, n_parts: int, rng: np.random.Generator):
    """Drugs assigned to parts; all pairs of a test drug are held out."""
    return _by_row_part(_group_parts(frame["drug"].to_numpy(), n_parts, rng, "drug"), n_parts)


split_traits(drug_blind_split, blind_on=("drug",))


@SPLITS.register("disjoint")
def disjoint_split(frame: pd.DataFrame, n_parts: int, rng: np.random.Generator):
    """Test = unseen cells x unseen drugs; train = seen cells x seen drugs."""
    cell_part = _group_parts(frame["cell"].to_numpy(), n_parts, rng, "cell")
    drug_part = _group_parts(frame["drug"].to_numpy(), n_parts, rng, "drug")
    out = []
    for k in range(n_parts):
        test = np.flatnonzero((cell_part == k) & (drug_part == k))
        train = np.flatnonzero((cell_part != k) & (drug_part != k))
        out.append((train, test))
    return out


# pairs with one held-out side are never tested
split_traits(disjoint_split, blind_on=("cell", "drug"), covers_all_pairs=False)


@SPLITS.register("tissue-blind")
def tissue_blind_split(frame: pd.DataFrame, n_parts: int, rng: np.random.Generator):
    """Whole tissues held out; tissues balanced over parts by pair count."""
    if "tissue" not in frame:
        raise DataError("tissue-blind split needs a 'tissue' per cell; this dataset has none")
    tissue = frame["tissue"].fillna("unknown").astype(str).to_numpy()
    names, counts = np.unique(tissue, return_counts=True)
    if len(names) < n_parts:
        raise DataError(f"cannot make {n_parts} parts from {len(names)} tissues")
    order = np.lexsort((rng.random(len(names)), -counts))  # largest first, ties at random
    load = np.zeros(n_parts)
    part_of = {}
    for i in order:
        k = int(np.argmin(load))
        part_of[names[i]] = k
        load[k] += counts[i]
    part = np.array([part_of[t] for t in tissue])
    return _by_row_part(part, n_parts)


split_traits(tissue_blind_split, blind_on=("tissue",))
