"""The part convention shared by every encoder: config, hparams, registry lookup."""
from __future__ import annotations

from itertools import pairwise
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from drpkit.errors import DataError, UnknownNameError
from drpkit.registry import Registry


class PartConfig(BaseModel):
    """Settings every part has.

    Attributes:
        dim: width of the output embedding (and of tokens, where noted).
        dropout: dropout after each hidden layer (on tokens for pathway tokens).
    """

    model_config = ConfigDict(extra="forbid")
    dim: int = Field(default=128, ge=1)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)


def mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    """Linear-ReLU-Dropout stack ending in a plain linear layer to ``sizes[-1]``."""
    layers: list[nn.Module] = []
    for d_in, d_out in pairwise(sizes[:-1]):
        layers += [nn.Linear(d_in, d_out), nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))


P = TypeVar("P", bound="Part")


def _lookup(registry: Registry[type[P]], name: str) -> type[P]:
    try:
        return registry.get(name)
    except UnknownNameError as exc:
        raise DataError(str(exc)) from None


class Part(nn.Module):
    """Base of encoder parts (the convention is in the module docstring).

    Class attributes:
        name: registry name, also ``hparams["cls"]``.
        Config: pydantic settings class.
        resources: prior-knowledge resources ``prepare`` reads (``data.resource``).
        views: drug views ``prepare`` reads (see :meth:`needs`).
        fitted: names of the data-derived constructor arguments that ``fit``
            sets and ``hparams`` records (sizes, gene lists).
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[PartConfig]] = PartConfig
    resources: ClassVar[tuple[str, ...]] = ()
    views: ClassVar[tuple[str, ...]] = ()
    fitted: ClassVar[tuple[str, ...]] = ()
    registry: ClassVar[Registry]

    def __init__(self, config: PartConfig | dict | None = None, **fitted: Any) -> None:
        super().__init__()
        self.config = self.make_config(config)
        unknown = sorted(set(fitted) - set(self.fitted))
        if unknown:
            raise DataError(f"{self.name!r} takes fitted values {list(self.fitted)}, "
                            f"not {unknown}")
        for key in self.fitted:
            setattr(self, key, fitted.get(key))
        if self.is_fitted:
            self._build()

    @classmethod
    def make_config(cls, config: PartConfig | dict | None) -> PartConfig:
        """``config`` validated as a ``Config``; DataError naming the part if invalid."""
        if isinstance(config, PartConfig):
            config = config.model_dump()
        try:
            return cls.Config(**(config or {}))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors())
            raise DataError(f"invalid settings for {cls.registry.kind} {cls.name!r}: "
                            f"{problems}") from None

    @classmethod
    def needs(cls, config: PartConfig) -> tuple[str, ...]:
        """Drug views ``prepare`` reads under ``config`` (``smiles``, a fingerprint)."""
        return cls.views

    @property
    def is_fitted(self) -> bool:
        """Whether the data-derived sizes are known (and so the weights exist)."""
        return all(getattr(self, key) is not None for key in self.fitted)

    def _build(self) -> None:
        """Create the submodules from config + fitted values, then reset them."""
        raise NotImplementedError

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise DataError(f"{self.registry.kind} {self.name!r} is not fitted; call fit first")

    def reset_parameters(self) -> None:
        """Re-initialise every learnable submodule."""
        for module in self.modules():
            # getattr, not hasattr: torch types Module attributes as Tensor | Module
            reset = getattr(module, "reset_parameters", None)
            if module is not self and reset is not None:
                reset()

    @property
    def hparams(self) -> dict[str, Any]:
        """``{"cls": name, **config, **fitted values}``: rebuilds the part (JSON-safe)."""
        return {"cls": self.name, **self.config.model_dump(mode="json"),
                **{key: getattr(self, key) for key in self.fitted}}

    @classmethod
    def from_hparams(cls, hparams: dict[str, Any]) -> Part:
        """The part ``hparams`` describes, with fresh weights (load a state dict next)."""
        hparams = dict(hparams)
        part = _lookup(cls.registry, hparams.pop("cls"))
        fitted = {key: hparams.pop(key) for key in part.fitted if key in hparams}
        return part(hparams, **fitted)

    def __repr__(self) -> str:
        changed = self.config.model_dump(exclude_defaults=True)
        args = [f"{k}={v!r}" for k, v in changed.items()] + [
            f"{key}={_short(getattr(self, key))}" for key in self.fitted]
        return f"{type(self).__name__}({', '.join(args)})"


def _short(value: Any) -> str:
    return f"<{len(value)}>" if isinstance(value, list | dict) else repr(value)


