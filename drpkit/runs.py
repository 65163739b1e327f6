"""Run directories: written atomically, so a failed run leaves nothing behind.

A run directory holds ``config.json`` (what was run, on which data, with which
package versions), ``metrics.json``, ``predictions.csv`` and the saved model.
It is assembled in a hidden sibling directory and renamed into place only when
everything was written; on any error the partial directory is removed.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial"))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling file and a rename,
    so a reader never sees a half-written file (even if the writer is killed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, default=_jsonable))


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
