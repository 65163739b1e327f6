"""The package type-checks: ``python -m mypy drpkit`` with the ``[tool.mypy]``
settings of pyproject.toml (also run by ``make lint``)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy is not installed (pip install -e '.[dev]')")
def test_mypy_passes_on_the_package():
    # run from the repository root so that pyproject.toml's [tool.mypy] applies;
    # the incremental cache (.mypy_cache) makes a repeated run take seconds
    done = subprocess.run([sys.executable, "-m", "mypy", "drpkit"], cwd=REPO, check=False,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"mypy found problems:\n{done.stdout}{done.stderr}"
