"""``DataSpec``: a serialisable description of where a dataset comes from.

The CLI builds one from its flags, a run directory stores it in
``config.json``, and ``drpkit predict`` uses it to rebuild the training views.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from drpkit.data.container import DrugResponseData
from drpkit.data.datasets import load_dataset
from drpkit.errors import DataError


class DataSpec(BaseModel):
    """A built-in dataset by name, or user files (responses + expression + drugs)."""

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

    def load(self) -> DrugResponseData:
        """Build the dataset this spec describes."""
        if self.responses:
            if self.dataset:
                raise DataError("give either a built-in --dataset or --responses files, not both")
            return DrugResponseData.from_files(
                self.responses, self.expression, self.drugs, cnv=self.cnv,
                mutation=self.mutation, cell_info=self.cell_info,
                name=Path(self.responses).stem, measure=self.measure or "value",
                sensitive_if=self.sensitive_if, label_rule=self.labels or "zscore")
        if not self.dataset:
            raise DataError("no data given: pass --dataset NAME or --responses FILE")
        return load_dataset(self.dataset, self.measure, self.labels)
