"""Atomic file and directory writes: a reader sees the old state or the new, never half.

Everything drpkit stores (cached data, run directories, benchmark task results,
reports) is written to a hidden sibling first and renamed into place only when
complete, so a killed process leaves no truncated file behind.

``tempfile`` creates its files with mode 0600 and directories with 0700; left as
they are, a report or a cached table written here could not be read by anyone
else sharing the machine or the run directory. The helpers below give the result
the permissions an ordinary ``open``/``mkdir`` would have had (0666 / 0777 masked
by the process umask) before it becomes visible.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    """The process umask (``os.umask`` can only be read by setting it)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


def _hidden_name(path: Path) -> str:
    return f".{path.name}."


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s directory; it replaces ``path`` if the block succeeds.

    On any error (or interrupt) the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=_hidden_name(path), suffix=".partial")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def atomic_new_directory(target: str | Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``target`` only if the block succeeds.

    With ``replace`` an existing ``target`` is removed first (just before the
    rename); without it an existing ``target`` is left as it is and the new
    content is discarded, which is what a writer racing another one for the same
    finished result wants.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=_hidden_name(target),
                                suffix=".partial"))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        if target.exists():
            if not replace:
                return
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
