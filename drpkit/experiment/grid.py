"""Benchmark grids: models x datasets x split kinds x folds x seeds, as tasks.

A grid is described once (:class:`GridConfig`, from a TOML or YAML file, from
``drpkit benchmark`` flags, or both) and expanded into :class:`Task` objects.
Every task is one unit of work with a **stable id**: the same model, settings,
data, split, fold and seed always give the same id, so a run directory can
tell which tasks are finished and a killed benchmark resumes where it stopped.

Three kinds of task:

* ``cv``: fit on a fold's training part (its validation part for early
  stopping and thresholds), score the test part (:func:`run_fold`);
* ``trial``: one hyperparameter setting of a model under search, fitted on a
  fold's training part and scored on its *validation* part only; the ``cv``
  task of that fold then uses the setting with the best validation score;
* ``member``: one member of a deep ensemble (``uncertainty.method =
  "ensemble"``), fitted on a fold with its own seed; the ``cv`` task of that
  fold combines the members' validation and test outputs, so the K fits run in
  parallel on the executor instead of one after the other inside one task
  (``ensemble_tasks = false`` keeps them inside);
* ``transfer``: fit on all of one dataset, predict another
  (:mod:`drpkit.experiment.transfer`; ensembles fit their members inside it).

Example config (TOML)::

    name = "gdsc2"
    datasets = ["gdsc2"]
    models = ["naive-drug", "ridge", "gbm", "mtigcn"]
    splits = ["random", "cell-blind", "drug-blind", "disjoint"]
    folds = 5
    only_folds = [0, 1]         # optional: run only these folds of the 5 (default: all)
    seeds = [0]

    [params.mtigcn]                 # per-model hyperparameters
    trainer = { patience = 30 }

    [search.mlp]                    # optional search, validation part only
    trials = 8
    space = { "trainer.lr" = { log_uniform = [1e-4, 1e-2] }, dropout = { uniform = [0.0, 0.5] } }

    [[transfer]]                    # train on one dataset, predict another
    source = "gdsc2"
    target = "ccle"
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drpkit.data.spec import DataSpec
from drpkit.errors import DataError
from drpkit.params import deep_merge, nest

TaskKind = Literal["cv", "trial", "member", "transfer"]


# ---------------------------------------------------------------- search space
class SearchConfig(BaseModel):
    """Random search over a model's hyperparameters, within the training folds.

    Attributes:
        trials: settings sampled per fold.
        metric: validation metric that picks the setting (e.g. ``auroc``,
            ``pcc``, ``rmse``); default ``auroc`` for classifiers, ``pcc``
            for models that predict values.
        space: dotted hyperparameter name -> distribution, one of
            ``{"choice": [...]}``, ``{"uniform": [lo, hi]}``,
            ``{"log_uniform": [lo, hi]}`` or ``{"int": [lo, hi]}`` (inclusive).
    """

    model_config = ConfigDict(extra="forbid")
    trials: int = Field(default=8, ge=1)
    metric: str | None = None
    space: dict[str, dict[str, list[Any]]]

    @field_validator("space")
    @classmethod
    def _check_space(cls, space: dict[str, dict[str, list[Any]]]):
        for name, dist in space.items():
            if len(dist) != 1 or next(iter(dist)) not in SAMPLERS:
                raise ValueError(f"search space entry {name!r} must be one of "
                                 f"{sorted(SAMPLERS)} with its values, got {dist!r}")
            kind, values = next(iter(dist.items()))
            if kind != "choice" and (len(values) != 2 or values[0] > values[1]):
                raise ValueError(f"search space entry {name!r}: {kind} needs [low, high]")
            if kind == "log_uniform" and values[0] <= 0:
                raise ValueError(f"search space entry {name!r}: log_uniform needs low > 0")
        return space

    def sample(self, seed: int) -> list[dict[str, Any]]:
        """``trials`` settings (nested dicts), the same for the same seed."""
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(self.trials):
            flat = {name: SAMPLERS[kind](rng, values)
                    for name, dist in sorted(self.space.items())
                    for kind, values in dist.items()}
            out.append(nest(flat))
        return out


def _choice(rng: np.random.Generator, values: list[Any]) -> Any:
    return values[int(rng.integers(len(values)))]


SAMPLERS = {
    "choice": _choice,
    "uniform": lambda rng, v: float(rng.uniform(v[0], v[1])),
    "log_uniform": lambda rng, v: float(math.exp(rng.uniform(math.log(v[0]), math.log(v[1])))),
    "int": lambda rng, v: int(rng.integers(v[0], v[1] + 1)),
}


# ---------------------------------------------------------------------- config
def _as_spec(value: str | dict | DataSpec) -> DataSpec:
    if isinstance(value, DataSpec):
        return value
    return DataSpec(dataset=value) if isinstance(value, str) else DataSpec(**value)


class TransferConfig(BaseModel):
    """Train on ``source`` (all of it, a validation part carved out), predict ``target``."""

    model_config = ConfigDict(extra="forbid")
    source: DataSpec
    target: DataSpec

    @field_validator("source", "target", mode="before")
    @classmethod
    def _spec(cls, value):
        return _as_spec(value)


class GridConfig(BaseModel):
    """What a benchmark runs and how.

    Attributes:
        name: a label for the report.
        datasets: built-in dataset names or :class:`DataSpec` tables (user files).
        models: registered model names.
        params: model -> hyperparameters (nested, as in ``create_model``).
        splits: split kinds (``drpkit.splits.SPLITS``).
        folds: k of k-fold cross-validation.
        only_folds: run only these folds (0-based) of the k, e.g. the first two of a
            slow model's ten; the folds are the same as in the full run (a later run
            without it resumes and adds the rest), and tables count the folds they hold.
        seeds: split and model seeds; each seed is a full k-fold run.
        search: model -> :class:`SearchConfig` (optional).
        transfer: cross-dataset pairs (optional).
        executor: ``local`` (processes on this machine) or ``ray``.
        workers: tasks run at once (default: CPU cores // threads).
        threads: torch / BLAS threads per task.
        ray_address: address of a Ray cluster; None starts a local Ray instance.
        ensemble_tasks: a model with ``uncertainty.method = "ensemble"`` fits each
            member as a ``member`` task of its own (in parallel); false: inside
            its fold's task, one after the other (that task then also keeps the
            first member's explanation artifacts).
    """

    model_config = ConfigDict(extra="forbid")
    name: str = "benchmark"
    datasets: list[DataSpec] = Field(default_factory=list)
    models: list[str] = Field(min_length=1)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    splits: list[str] = Field(default_factory=lambda: ["random"])
    folds: int = Field(default=5, ge=2)
    only_folds: list[int] | None = Field(default=None, min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    search: dict[str, SearchConfig] = Field(default_factory=dict)
    transfer: list[TransferConfig] = Field(default_factory=list)
    executor: str = "local"
    workers: int | None = Field(default=None, ge=1)
    threads: int = Field(default=1, ge=1)
    ray_address: str | None = None
    ensemble_tasks: bool = True

    @field_validator("datasets", mode="before")
    @classmethod
    def _specs(cls, value):
        return [_as_spec(v) for v in value]

    def fold_indices(self) -> list[int]:
        """The folds this grid runs: ``only_folds`` (checked against ``folds``) or all."""
        if self.only_folds is None:
            return list(range(self.folds))
        bad = [f for f in self.only_folds if not 0 <= f < self.folds]
        if bad:
            raise DataError(f"only_folds {bad} outside the {self.folds} folds (0 to "
                            f"{self.folds - 1})")
        return sorted(set(self.only_folds))

    def check(self) -> GridConfig:
        """Raise :class:`DataError` for unknown models, split kinds, settings a
        model rejects, or a grid with nothing to run. (The executor is checked by
        ``run_grid``, which owns the executors: this module imports none of them.)"""
        from drpkit.data.datasets import DATASETS
        from drpkit.models import MODELS, create_model
        from drpkit.splits import SPLITS

        for name in self.models:
            MODELS.get(name)
        for spec in [*self.datasets, *(s for t in self.transfer for s in (t.source, t.target))]:
            if spec.dataset and not spec.responses:
                DATASETS.get(spec.dataset)  # an unknown name fails now, not in every task
        for name in self.splits:
            SPLITS.get(name)
        self.fold_indices()
        for name in [*self.params, *self.search]:
            if name not in self.models:
                raise DataError(f"settings given for model {name!r}, which is not among the "
                                f"grid's models ({', '.join(self.models)})")
        for name in self.models:
            create_model(name, self.params.get(name, {}))  # a bad setting fails now
        for name, search in self.search.items():
            if self.ensemble_tasks and ensemble_size(self.params.get(name, {})):
                raise DataError(f"model {name!r}: a hyperparameter search and an ensemble "
                                "split into member tasks do not combine; set "
                                "ensemble_tasks = false")
            for setting in search.sample(0):
                create_model(name, deep_merge(self.params.get(name, {}), setting))
        if not self.datasets and not self.transfer:
            raise DataError("the grid has no datasets and no transfer pairs: nothing to run")
        return self

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> GridConfig:
        """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) config; ``overrides``
        (non-None values) replace its top-level entries."""
        path = Path(path)
        if not path.exists():
            raise DataError(f"{path}: no such config file")
        text = path.read_text()
        try:
            if path.suffix == ".toml":
                raw = tomllib.loads(text)
            elif path.suffix in (".yaml", ".yml"):
                import yaml

                try:
                    raw = yaml.safe_load(text) or {}
                except yaml.YAMLError as exc:  # no ValueError: caught here, one line
                    raise DataError(f"{path}: not a valid YAML file ("
                                    f"{' '.join(str(exc).split())})") from None
            else:
                raise DataError(f"{path}: config files are .toml, .yaml or .yml")
        except (tomllib.TOMLDecodeError, ValueError) as exc:
            raise DataError(f"{path}: not a valid config file ({exc})") from None
        if not isinstance(raw, dict):
            raise DataError(f"{path}: the config must be a table of settings")
        return cls.build({**raw, **{k: v for k, v in overrides.items() if v is not None}},
                         source=str(path))

    @classmethod
    def build(cls, raw: dict[str, Any], source: str = "flags") -> GridConfig:
        """Validate a dict of settings, naming ``source`` in errors."""
        try:
            return cls(**raw)
        except ValidationError as exc:
            raise DataError(f"{source}: invalid benchmark config: {exc}") from None

    # -------------------------------------------------------------- expansion
    def tasks(self) -> list[Task]:
        """Every task of the grid, trials before the ``cv`` tasks that use them."""
        out: list[Task] = []
        for spec in self.datasets:
            for split in self.splits:
                for seed in self.seeds:
                    for fold in self.fold_indices():
                        for model in self.models:
                            out.extend(self._fold_tasks(spec, split, seed, fold, model))
        for pair in self.transfer:
            for seed in self.seeds:
                for model in self.models:
                    out.append(Task(kind="transfer", model=model,
                                    params={"seed": seed, **self.params.get(model, {})},
                                    data=pair.source, target=pair.target, seed=seed))
        return out

    def _fold_tasks(self, spec: DataSpec, split: str, seed: int, fold: int,
                    model: str) -> list[Task]:
        params = {"seed": seed, **self.params.get(model, {})}
        common = {"model": model, "data": spec, "split": split, "folds": self.folds,
                  "fold": fold, "seed": seed}
        search = self.search.get(model)
        size = ensemble_size(params) if self.ensemble_tasks else None
        if size:
            members = [Task(kind="member", params=params, member=k, **common)
                       for k in range(size)]
            return [*members, Task(kind="cv", params=params, ensemble=size,
                                   after=[t.id for t in members], **common)]
        if search is None:
            return [Task(kind="cv", params=params, **common)]
        trials = [Task(kind="trial", params=deep_merge(params, setting), trial=i, **common)
                  for i, setting in enumerate(search.sample(seed * 1000 + fold))]
        final = Task(kind="cv", params=params, search=search.model_dump(),
                     after=[t.id for t in trials], **common)
        return [*trials, final]


# ------------------------------------------------------------------------ task
class Task(BaseModel):
    """One unit of a benchmark, identified by a hash of everything that defines it.

    Attributes:
        kind: ``cv``, ``trial`` or ``transfer``.
        model: registered model name.
        params: hyperparameters (the trial's setting included).
        data: the dataset (the source, for ``transfer``).
        split, folds, fold, seed: which fold (``cv`` and ``trial``).
        trial: index of the setting (``trial`` only).
        member: index of the ensemble member (``member`` only; seed ``seed + member``).
        ensemble: ensemble size of a ``cv`` task that combines its ``member`` tasks.
        search: the search whose trials pick this ``cv`` task's setting.
        after: ids of the tasks this one needs first (its trials).
        target: the dataset predicted by a ``transfer`` task.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: TaskKind
    model: str
    params: dict[str, Any] = Field(default_factory=dict)
    data: DataSpec
    split: str | None = None
    folds: int = 5
    fold: int = 0
    seed: int = 0
    trial: int | None = None
    member: int | None = None
    ensemble: int | None = None
    search: dict[str, Any] | None = None
    after: list[str] = Field(default_factory=list)
    target: DataSpec | None = None

    @property
    def id(self) -> str:
        """``kind-model-dataset-split-sSEED-fFOLD-HASH``: readable, and unique
        because the hash covers every field."""
        # fields added later enter the hash only when set, so earlier runs' ids hold
        unset = {name for name in ("member", "ensemble") if getattr(self, name) is None}
        payload = self.model_dump(mode="json", exclude={"after", *unset})
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
        parts = [self.kind, self.model, dataset_label(self.data)]
        if self.kind == "transfer" and self.target is not None:
            parts.append(f"to-{dataset_label(self.target)}")
        else:
            parts += [self.split or "", f"s{self.seed}", f"f{self.fold}"]
        if self.trial is not None:
            parts.append(f"t{self.trial}")
        if self.member is not None:
            parts.append(f"m{self.member}")
        readable = "-".join(p for p in parts if p)
        return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', readable)}-{digest}"


def ensemble_size(params: dict[str, Any]) -> int | None:
    """Members of a deep ensemble set in ``params`` (``uncertainty.method =
    "ensemble"``; the config's default size when not given), else None."""
    from drpkit.uncertainty import UncertaintyConfig

    settings = params.get("uncertainty") or {}
    if settings.get("method") != "ensemble":
        return None
    return UncertaintyConfig(**settings).members


def dataset_label(spec: DataSpec) -> str:
    """Short name of a dataset spec: the built-in name or the responses file's stem."""
    if spec.dataset:
        return spec.dataset + (f".{spec.measure}" if spec.measure else "")
    return Path(spec.responses or "custom").stem
