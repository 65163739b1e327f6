"""``DataSpec``: a serialisable description of where a dataset comes from.

The CLI builds one from its flags, a run directory stores it in
``config.json``, and ``drpkit predict`` uses it to rebuild the training views.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_serializer

from drpkit.data.container import DrugResponseData
from drpkit.data.datasets import load_dataset
from drpkit.errors import DataError


class DataSpec(BaseModel):
    """A built-in dataset by name, or user files (responses + expression + drugs).

    ``on_missing`` (``error``/``drop``) and ``impute`` (``none``/``median``) are
    the missing-data policy of user files (:mod:`drpkit.data.user_files`). At
    their defaults they are left out of the serialised spec, so configs,
    run directories and benchmark task ids written before they existed are
    unchanged.
    """

    model_config = ConfigDict(extra="forbid")
    dataset: str | None = None
    measure: str | None = None
    labels: str | None = None
    responses: str | None = None
    expression: str | None = None
    drugs: str | None = None
    cnv: str | None = None
    mutation: str | None = None
    cell_info: str | None = None
    sensitive_if: str = "low"
    on_missing: Literal["error", "drop"] = "error"
    impute: Literal["none", "median"] = "none"

    @model_serializer(mode="wrap")
    def _without_new_defaults(self, handler) -> dict[str, Any]:
        out = handler(self)
        for key, default in (("on_missing", "error"), ("impute", "none")):
            if out.get(key) == default:
                out.pop(key)
        return out

    def load(self, *, defer_missing: bool = False) -> DrugResponseData:
        """Build the dataset this spec describes; ``defer_missing``: a transfer
        target, whose cells may still borrow the source's features."""
        if self.responses:
            if self.dataset:
                raise DataError("give either a built-in --dataset or --responses files, not both")
            return DrugResponseData.from_files(
                self.responses, self.expression, self.drugs, cnv=self.cnv,
                mutation=self.mutation, cell_info=self.cell_info,
                name=Path(self.responses).stem, measure=self.measure or "value",
                sensitive_if=self.sensitive_if, label_rule=self.labels,
                on_missing=self.on_missing, impute=self.impute, defer_missing=defer_missing)
        if not self.dataset:
            raise DataError("no data given: pass --dataset NAME or --responses FILE")
        return load_dataset(self.dataset, self.measure, self.labels)
