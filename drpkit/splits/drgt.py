"""The leave-one-out protocols of drGT (Inoue et al., arXiv 2405.08979), in k groups.

drGT's "unseen cell" and "unseen drug" tests hold out one cell line (drug) at a
time, train on everything else and score all of its labelled pairs; a cell
(drug) is tested only if it passes the authors' filter (``filter_target`` in
their code): at least 10 labelled pairs, at least 2% of them sensitive and at
least 2% resistant. Entities failing the filter always train.

* ``drgt-new-cell``: the eligible cells are divided into k groups at random;
  test part k holds every pair of the cells of group k, which never train.
* ``drgt-new-drug``: the same for drugs.

Holding out k groups instead of one entity at a time gives the same
per-entity metrics (``cell_auroc_mean`` / ``drug_auroc_mean``, each entity
scored by a model that never saw it) for k fits instead of hundreds; each fit
sees ``(k-1)/k`` of the eligible entities instead of all but one, which makes
the test slightly harder than the paper's. The paper's "random" test is the
``random`` split kind (k-fold over labelled pairs) and its "zero-shot" test
is ``disjoint`` (unseen cells x unseen drugs).

As every split kind, the same function carves each fold's validation part
(early stopping, thresholds): the public code instead picked epochs and
Optuna trials on the held-out entity, which drpkit never does.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from drpkit.errors import DataError
from drpkit.splits.kinds import SPLITS, split_traits

MIN_PAIRS = 10
MIN_SHARE = 0.02


def eligible(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Sorted ids of ``column`` (cell or drug) passing drGT's filter: >= 10
    labelled pairs with >= 2% sensitive and >= 2% resistant ones."""
    label = pd.to_numeric(frame["label"], errors="coerce")
    grouped = pd.DataFrame({"pos": label == 1, "neg": label == 0}).groupby(frame[column].to_numpy())
    counts = grouped.sum()
    total = counts["pos"] + counts["neg"]
    ok = (total >= MIN_PAIRS) & (counts["pos"] >= MIN_SHARE * total) \
        & (counts["neg"] >= MIN_SHARE * total)
    return np.sort(counts.index[ok.to_numpy()].to_numpy())


def _leave_out_split(column: str):
    name = f"drgt-new-{column}"

    def split(frame: pd.DataFrame, n_parts: int, rng: np.random.Generator):
        if "label" not in frame:
            raise DataError(f"split {name!r} needs the response labels: the split frame has "
                            "no 'label' column")
        ids = eligible(frame, column)
        if len(ids) < n_parts:
            raise DataError(f"split {name!r} needs {n_parts} {column}s with >= {MIN_PAIRS} "
                            f"labelled pairs and >= {MIN_SHARE:.0%} of each class; there are "
                            f"{len(ids)}")
        values = frame[column].to_numpy()
        out = []
        for group in np.array_split(rng.permutation(ids), n_parts):
            held_out = np.isin(values, group)
            out.append((np.flatnonzero(~held_out), np.flatnonzero(held_out)))
        return out

    split.__doc__ = (f"Groups of eligible {column}s held out whole (drGT's leave-one-{column}-"
                     "out test in k groups).")
    # entities failing the filter always train
    split_traits(split, blind_on=(column,), covers_all_pairs=False)
    return split


SPLITS.add("drgt-new-cell", _leave_out_split("cell"))
SPLITS.add("drgt-new-drug", _leave_out_split("drug"))
