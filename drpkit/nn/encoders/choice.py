"""Parts chosen by name in a model config, built by name, and what they need."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drpkit.nn.encoders.base import Part, _lookup
from drpkit.nn.encoders.cells import CELL_ENCODERS, CellEncoder
from drpkit.nn.encoders.drugs import DRUG_ENCODERS, DrugEncoder
from drpkit.registry import Registry


def requirements(*parts: Part | PartSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(drug_views, resources)`` that ``parts`` (built, or specs: nothing is
    built) need, in order, without repeats: a model's declarations."""
    views: list[str] = []
    resources: list[str] = []
    for part in parts:
        if isinstance(part, PartSpec):
            cls = _lookup(part.kind, part.name)
            views += cls.needs(cls.make_config(part.config))
        else:
            cls = type(part)
            views += cls.needs(part.config)
        resources += cls.resources
    return tuple(dict.fromkeys(views)), tuple(dict.fromkeys(resources))




def build_drug_encoder(name: str, config: dict | None = None, **fitted: Any) -> DrugEncoder:
    """Drug encoder ``name`` with ``config``; DataError listing valid names if unknown."""
    return _lookup(DRUG_ENCODERS, name)(config, **fitted)


def build_cell_encoder(name: str, config: dict | None = None, **fitted: Any) -> CellEncoder:
    """Cell encoder ``name`` with ``config``; DataError listing valid names if unknown."""
    return _lookup(CELL_ENCODERS, name)(config, **fitted)


class PartSpec(BaseModel):
    """A part chosen by name in a model's config, e.g. ``{"name": "mol-gnn",
    "config": {"layers": 4}}``; name and settings are checked when made.
    A model's default should set only settings every part has (``dim``,
    ``dropout``) in ``config``, so switching ``name`` alone stays valid.

    Attributes:
        name: registered part name.
        config: the part's settings; omitted ones take the part's defaults.
    """

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[Registry]
    name: str
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> PartSpec:
        _lookup(self.kind, self.name).make_config(self.config)  # builds nothing
        return self

    def build(self, **fitted: Any) -> Part:
        """The part, unfitted unless ``fitted`` values are given."""
        return _lookup(self.kind, self.name)(self.config, **fitted)


class DrugEncoderSpec(PartSpec):
    """A drug encoder chosen by name (``DRUG_ENCODERS``) with its settings."""

    kind = DRUG_ENCODERS


class CellEncoderSpec(PartSpec):
    """A cell encoder chosen by name (``CELL_ENCODERS``) with its settings."""

    kind = CELL_ENCODERS
