"""Nested hyperparameter dicts: dotted names and deep merges.

Model settings are nested (``{"trainer": {"lr": 1e-3}}``); users write them
as dotted names (``trainer.lr=1e-3`` on the command line, search spaces in a
grid config), and partial settings are merged onto defaults without
replacing a whole nested block. These two helpers are the one place that
does either.
"""
from __future__ import annotations

from typing import Any


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"trainer.lr": 1e-3, "k": 5}`` -> ``{"trainer": {"lr": 1e-3}, "k": 5}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def deep_merge(base: dict[str, Any], *updates: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by each dict in turn; nested dicts are merged, not replaced."""
    out = dict(base)
    for update in updates:
        for key, value in update.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = deep_merge(out[key], value)
            else:
                out[key] = value
    return out
