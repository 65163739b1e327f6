"""Run directories: written atomically, so a failed run leaves nothing behind.

A run directory holds ``config.json`` (what was run, on which data, with which
package versions), ``metrics.json``, ``predictions.csv`` and the saved model.
It is assembled in a hidden sibling directory and renamed into place only when
everything was written; on any error the partial directory is removed.
"""
from __future__ import annotations

import contextlib
import json
import platform
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from drpkit.atomic import atomic_new_directory
from drpkit.errors import DataError

PACKAGES = ("drpkit", "torch", "torch-geometric", "numpy", "pandas", "scikit-learn", "rdkit")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape results (recorded in every run)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


@contextlib.contextmanager
def atomic_directory(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``target`` only if the block succeeds."""
    target = Path(target)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise DataError(f"{target} already exists and is not empty; choose another --out "
                        "or pass --overwrite")
    with atomic_new_directory(target, replace=True) as tmp:
        yield tmp


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, default=_jsonable))


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
