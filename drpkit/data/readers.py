"""Readers for raw and user-supplied tables, with errors that name the file.

``safe_unpickle`` is the only place drpkit unpickles anything: it is called
on files whose sha256 the source layer has verified, and it additionally
refuses any pickled global outside a small allow-list (torch tensor rebuild
functions), so a tampered file cannot run code even if a hash were wrong.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import pandas as pd

from drpkit.errors import DataError

_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch.storage", "_load_from_bytes"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise DataError(f"refusing to unpickle global {module}.{name}")
        return super().find_class(module, name)


def safe_unpickle(path: Path) -> object:
    """Unpickle a hash-verified file, allowing only plain data and torch tensors."""
    if any(mod.startswith("torch") for mod, _ in _ALLOWED_GLOBALS):
        import torch  # noqa: F401  - tensors in the pickle need torch importable
    with open(path, "rb") as handle:
        return _RestrictedUnpickler(io.BytesIO(handle.read())).load()


def read_table(path: str | Path, *, index_col: int | str | None = None) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file (chosen by suffix) into a DataFrame.

    Raises:
        DataError: the file is missing, has an unknown suffix or cannot be parsed.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if suffixes.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
            if index_col is not None:
                frame = frame.set_index(frame.columns[index_col] if isinstance(index_col, int)
                                        else index_col)
            return frame
        if suffixes.endswith((".tsv", ".tsv.gz", ".txt", ".txt.gz")):
            return pd.read_csv(path, sep="\t", index_col=index_col)
        if suffixes.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path, index_col=index_col)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot be parsed ({exc})") from exc
    raise DataError(f"{path}: unknown file type; use .csv, .tsv or .parquet")


def require_columns(frame: pd.DataFrame, columns: list[str], *, path: str | Path) -> None:
    """Raise DataError naming ``path`` and the missing columns."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; found columns {list(frame.columns)}"
        )
