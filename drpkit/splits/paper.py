"""Split protocols of published papers, registered as named split kinds.

* ``nihgcn-random``: the protocol of NIHGCN / MTIGCN (and HGACL-DRP): the
  *positive* (sensitive) pairs are divided into k folds at random; test part
  k is positive fold k plus as many negatives drawn at random from the
  negative pairs, so every test part is balanced. Everything else trains.

* ``nihgcn-new-cell`` / ``nihgcn-new-drug``: the papers' "new cell line" and
  "new drug" tests. Only cells (drugs) with at least 10 sensitive pairs are
  ever tested; they are divided into k groups and each test part holds all
  pairs of one group, which never train. Cells (drugs) with fewer positives
  always train. The papers hold out one cell (drug) at a time and average the
  per-cell AUROC; grouping into k folds gives the same per-entity metric
  (``cell_auroc_mean`` / ``drug_auroc_mean``) at a k-fit instead of a
  several-hundred-fit cost.

The balanced test makes AUPRC ~ AUROC-like and is not the class balance a
user meets in practice; it is offered to reproduce the papers' numbers, next
to the honest ``random`` kind that keeps the natural balance.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from drpkit.errors import DataError
from drpkit.splits.kinds import SPLITS, split_traits


@SPLITS.register("nihgcn-random")
def nihgcn_random_split(frame: pd.DataFrame, n_parts: int, rng: np.random.Generator):
    """Positive pairs in k folds; each test part adds an equal number of negatives.

    The negatives of the k test parts are disjoint when there are enough of
    them (a random permutation of the negatives cut into consecutive chunks);
    otherwise each part draws ``min(n_pos_k, n_neg)`` negatives independently,
    as the authors' code does. Unlabelled rows (NaN label) are never tested
    and always train. As every split kind, the same function carves the
    inner validation part, which is then balanced too.

    Args:
        frame: one row per response with columns ``cell``, ``drug`` and
            ``label`` (1 sensitive, 0 resistant, NaN unlabelled).
        n_parts: number of folds k.
        rng: random generator (seeded by the caller).

    Returns:
        k pairs ``(train_rows, test_rows)`` of sorted positional indices.

    Raises:
        DataError: without a ``label`` column, or with fewer positives than parts.
    """
    if "label" not in frame:
        raise DataError("split 'nihgcn-random' needs the response labels: the split frame has "
                        "no 'label' column")
    label = pd.to_numeric(frame["label"], errors="coerce").to_numpy(float)
    positives = np.flatnonzero(label == 1)
    negatives = np.flatnonzero(label == 0)
    if len(positives) < n_parts:
        raise DataError(f"cannot make {n_parts} parts from {len(positives)} positive pairs")
    if not len(negatives):
        raise DataError("split 'nihgcn-random' needs negative (label 0) pairs")
    pos_parts = np.array_split(rng.permutation(positives), n_parts)
    sizes = [len(p) for p in pos_parts]
    if sum(sizes) <= len(negatives):
        shuffled = rng.permutation(negatives)
        ends = np.cumsum(sizes)
        neg_parts = [shuffled[end - size:end] for size, end in zip(sizes, ends, strict=True)]
    else:
        neg_parts = [rng.choice(negatives, size=min(size, len(negatives)), replace=False)
                     for size in sizes]
    out = []
    all_rows = np.arange(len(frame))
    for pos, neg in zip(pos_parts, neg_parts, strict=True):
        test = np.sort(np.concatenate([pos, neg]))
        out.append((np.setdiff1d(all_rows, test, assume_unique=True), test))
    return out


# only positives + as many negatives are tested
split_traits(nihgcn_random_split, covers_all_pairs=False)


MIN_POSITIVES = 10  # the papers' eligibility rule for new-cell / new-drug tests


def _new_entity_split(column: str):
    """Split function holding out groups of ``column`` values with >= 10 positives."""

    def split(frame: pd.DataFrame, n_parts: int, rng: np.random.Generator):
        if "label" not in frame:
            raise DataError(f"split 'nihgcn-new-{column}' needs the response labels: the split "
                            "frame has no 'label' column")
        label = pd.to_numeric(frame["label"], errors="coerce")
        positives = (label == 1).groupby(frame[column]).sum()
        eligible = np.sort(positives.index[positives >= MIN_POSITIVES].to_numpy())
        if len(eligible) < n_parts:
            raise DataError(f"split 'nihgcn-new-{column}' needs {n_parts} {column}s with at "
                            f"least {MIN_POSITIVES} sensitive pairs; there are {len(eligible)}")
        groups = np.array_split(rng.permutation(eligible), n_parts)
        ids = frame[column].to_numpy()
        out = []
        for group in groups:
            held_out = np.isin(ids, group)
            out.append((np.flatnonzero(~held_out), np.flatnonzero(held_out)))
        return out

    split.__doc__ = (f"Groups of {column}s with >= {MIN_POSITIVES} positives held out whole "
                     f"(the NIHGCN/MTIGCN new-{column} test).")
    # entities with few positives are never tested
    split_traits(split, blind_on=(column,), covers_all_pairs=False)
    return split


SPLITS.add("nihgcn-new-cell", _new_entity_split("cell"))
SPLITS.add("nihgcn-new-drug", _new_entity_split("drug"))
