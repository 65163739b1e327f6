"""Exception types raised by drpkit.

Every error a user can cause (bad files, unknown names, corrupted caches)
derives from :class:`DrpkitError`, so the CLI can print it as one clean line
instead of a traceback.
"""
from __future__ import annotations


class DrpkitError(Exception):
    """Base class of all drpkit errors."""


class DataError(DrpkitError, ValueError):
    """Input data is malformed: missing columns, unknown ids, NaNs, bad SMILES."""


class CacheCorruptError(DrpkitError):
    """A cached or mirrored file does not have the sha256 it was registered with."""


class UnknownNameError(DrpkitError, KeyError):
    """A dataset, model, split or other registered name does not exist."""

    def __init__(self, kind: str, name: str, valid: list[str]):
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.args[0]

    def __reduce__(self):
        # rebuilt from the three constructor arguments: the default (from ``args``, the
        # message alone) fails in the receiving process, so a worker that raised this
        # error used to look like a crashed worker (WorkerDied) to ``drpkit benchmark``
        return type(self), (self.kind, self.name, self.valid)


class SourceUnavailableError(DrpkitError):
    """A data source could not be fetched (no network, package index refused)."""
