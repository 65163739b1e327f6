"""Device choice and seeding for torch models (never hard-code a device)."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from drpkit.errors import DataError


def select_device(preference: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; or an explicit ``cpu``/``cuda:N``.

    ``DRPKIT_DEVICE`` in the environment overrides ``auto``.
    """
    preference = os.environ.get("DRPKIT_DEVICE", preference) if preference == "auto" else preference
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DataError(f"device {preference!r} requested but CUDA is not available")
    return device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator for data order."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
