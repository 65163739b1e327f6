"""Checkpoints without pickled code: safetensors weights + JSON metadata."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from drpkit.errors import DataError

WEIGHTS_FILE = "weights.safetensors"


def save_weights(module: torch.nn.Module, directory: Path, extra: dict | None = None) -> None:
    """Write the module's state dict (and optional JSON-able metadata)."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE))
    if extra is not None:
        (directory / "weights.json").write_text(json.dumps(extra))


def load_weights(module: torch.nn.Module, directory: Path) -> dict:
    """Load weights saved by :func:`save_weights` into ``module``; returns the metadata."""
    path = directory / WEIGHTS_FILE
    if not path.exists():
        raise DataError(f"{directory}: no {WEIGHTS_FILE}")
    try:
        state = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise DataError(f"{path}: unreadable weights ({exc})") from None
    module.load_state_dict(state)
    meta = directory / "weights.json"
    return json.loads(meta.read_text()) if meta.exists() else {}
