"""The one training loop for every torch model in drpkit.

Models define a :class:`TrainingTask` (forward pass, loss, validation score)
and never write their own loop. The trainer runs epochs, evaluates the task
on its *validation* part after each epoch, keeps the best weights by the
monitored validation metric, stops after ``patience`` epochs without
improvement and restores the best weights. The test fold never reaches it.

A *refit* (``TrainerConfig.refit``) is a second, fixed-length run that the
model starts on training + validation pairs once early stopping has chosen the
number of epochs: :meth:`Trainer.fit` with ``epochs`` trains exactly that many
epochs, never validates and keeps the last weights (see
:class:`drpkit.models.base.EarlyStoppingModel`).
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch
from pydantic import BaseModel, ConfigDict
from tqdm.auto import tqdm

from drpkit.train.device import seed_everything, select_device


class TrainerConfig(BaseModel):
    """Optimisation settings shared by all torch models.

    Attributes:
        max_epochs: most epochs of an early-stopping run.
        patience: stop after this many epochs without a validation improvement.
        min_delta: smallest change of the monitored validation metric that
            counts as an improvement.
        lr: learning rate.
        weight_decay: weight decay; what it means depends on ``optimizer``.
        optimizer: ``adam`` (``torch.optim.Adam``: ``weight_decay`` is an L2 penalty
            added to the gradient, so Adam's normalisation pulls any weight whose data
            gradient is smaller than the penalty to 0 by about ``lr`` per step, however
            small the penalty: mmgnn's attention and CSG2A's queries collapsed that way;
            BENCHMARKS.md) or ``adamw`` (``torch.optim.AdamW``, Loshchilov & Hutter
            2019: decay applied to the weights, ``w *= 1 - lr * weight_decay`` per step,
            whatever the gradient; typical values are 1e-4 to 1e-2). Every default is
            ``adam``, the optimiser behind every committed result.
        grad_clip: clip the gradient norm to this value; None = no clipping.
        device: ``auto`` (CUDA when available, else CPU; ``DRPKIT_DEVICE``
            overrides), ``cpu`` or ``cuda:N``.
        progress: show a progress bar; None = only on an interactive terminal.
        eval_every: validate every this many epochs.
        refit: after early stopping, train a fresh network on training +
            validation pairs for the number of epochs validation chose.
        schedule: learning rate per epoch: ``constant``, or ``cosine``: from ``lr``
            down to 0 at ``max_epochs`` (``torch.optim.lr_scheduler.CosineAnnealingLR``;
            a refit follows the same curve), so a short budget of epochs still ends
            with small steps.
        precision: ``fp32``, or ``bf16``: the training forward pass and loss run under
            ``torch.autocast`` with bfloat16 (matrix products in bf16, weights, gradients
            and optimiser state stay fp32; validation and prediction stay fp32). On CPUs
            with AVX512-BF16 or AMX, and on CUDA, it shortens a step; whether the model
            still trains as well is a validation question (BENCHMARKS.md, CSG2A).
        fused_optimizer: use torch's fused Adam/AdamW kernel (``fused=True``, CPU and
            CUDA): one pass over all parameters per step instead of a loop of small
            tensor operations in Python, the same update up to rounding. Off by default so
            that every committed result reproduces to the last digit.
    """

    model_config = ConfigDict(extra="forbid")
    max_epochs: int = 200
    patience: int = 20
    min_delta: float = 0.0
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: Literal["adam", "adamw"] = "adam"
    grad_clip: float | None = None
    device: str = "auto"
    progress: bool | None = None  # None: show a bar only on an interactive terminal
    eval_every: int = 1
    refit: bool = False  # after early stopping, retrain on train + validation for the chosen epochs
    schedule: Literal["constant", "cosine"] = "constant"
    precision: Literal["fp32", "bf16"] = "fp32"
    fused_optimizer: bool = False


class TrainingTask(Protocol):
    """What a model hands the trainer.

    ``module`` is the ``torch.nn.Module`` to optimise; ``batches`` yields the
    training batches of one epoch (already on the device); ``loss`` returns a
    scalar tensor for one batch; ``validate`` returns validation metrics,
    including the monitored one, computed on the validation part only.
    ``mode``: whether a lower (``min``) or higher (``max``) monitored value is
    better. The trainer only reads these three (read-only members: a task may
    hold a subclass of ``Module``).
    """

    @property
    def module(self) -> torch.nn.Module: ...

    @property
    def monitor(self) -> str: ...

    @property
    def mode(self) -> Literal["min", "max"]: ...

    def batches(self, epoch: int, generator: torch.Generator) -> Iterable[Any]: ...

    def loss(self, batch: Any) -> torch.Tensor: ...

    def validate(self) -> dict[str, float]: ...


@dataclass
class History:
    """Per-epoch record of a training run."""

    train_loss: list[float] = field(default_factory=list)
    val: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = math.nan
    seconds: float = 0.0
    epochs_run: int = 0
    refit: History | None = None  # the fixed-length run on training + validation pairs

    def to_dict(self) -> dict:
        out = {"train_loss": self.train_loss, "val": self.val, "best_epoch": self.best_epoch,
               "best_score": self.best_score, "seconds": self.seconds,
               "epochs_run": self.epochs_run}
        if self.refit is not None:
            out["refit"] = {"train_loss": self.refit.train_loss, "seconds": self.refit.seconds,
                            "epochs_run": self.refit.epochs_run}
        return out

    @property
    def total_seconds(self) -> float:
        """Seconds of training, the refit included."""
        return self.seconds + (self.refit.seconds if self.refit is not None else 0.0)


OPTIMISERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def parameter_groups(module: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Optimiser parameter groups: every parameter decayed by ``weight_decay``, except
    those the module names in ``no_weight_decay()`` (the convention of timm), which
    get none. A model uses it for weights whose scale a later normalisation hides:
    decay then shrinks them without limit (CSG2A's per-gene query weights)."""
    names = getattr(module, "no_weight_decay", None)
    exempt: set[str] = set(names()) if callable(names) else set()
    named = list(module.named_parameters())
    unknown = exempt - {name for name, _ in named}
    if unknown:
        raise ValueError(f"no_weight_decay() names unknown parameters: {sorted(unknown)}")
    groups = [{"params": [p for n, p in named if n not in exempt], "weight_decay": weight_decay},
              {"params": [p for n, p in named if n in exempt], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


class Trainer:
    """Fits a :class:`TrainingTask` with Adam (or AdamW) and validation-based early stopping."""

    def __init__(self, config: TrainerConfig | None = None, seed: int = 0):
        self.config = config or TrainerConfig()
        self.seed = seed
        self.device = select_device(self.config.device)

    def fit(self, task: TrainingTask, description: str = "training",
            epochs: int | None = None) -> History:
        """Train ``task``; returns its :class:`History`.

        Without ``epochs``: up to ``max_epochs`` with early stopping on the
        task's validation metric, ending with the best weights. With
        ``epochs`` (a refit): exactly that many epochs, no validation (the task
        may have none), ending with the last weights.
        """
        cfg = self.config
        fixed = epochs is not None
        generator = seed_everything(self.seed)
        module = task.module
        # None, not False, when off: torch then keeps its own default (foreach on CUDA)
        optimiser = OPTIMISERS[cfg.optimizer](parameter_groups(module, cfg.weight_decay),
                                              lr=cfg.lr, fused=cfg.fused_optimizer or None)
        scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=cfg.max_epochs)
                     if cfg.schedule == "cosine" else None)
        history = History()
        best_state = None if fixed else copy.deepcopy(module.state_dict())
        sign = 1.0 if task.mode == "min" else -1.0
        best = math.inf
        stale = 0
        start = time.perf_counter()
        bar = tqdm(range(epochs if epochs is not None else cfg.max_epochs), desc=description,
                   disable=None if cfg.progress is None else not cfg.progress,
                   leave=False, dynamic_ncols=True)
        for epoch in bar:
            module.train()
            total, count = 0.0, 0
            for batch in task.batches(epoch, generator):
                optimiser.zero_grad(set_to_none=True)
                with torch.autocast(self.device.type, dtype=torch.bfloat16,
                                    enabled=cfg.precision == "bf16"):
                    loss = task.loss(batch)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), cfg.grad_clip)
                optimiser.step()
                total += float(loss.detach())
                count += 1
            history.train_loss.append(total / max(count, 1))
            history.epochs_run = epoch + 1
            if scheduler is not None:
                scheduler.step()
            if fixed or (epoch + 1) % cfg.eval_every:
                continue
            module.eval()
            with torch.no_grad():
                metrics = task.validate()
            history.val.append({"epoch": epoch, **metrics})
            score = sign * metrics[task.monitor]
            if score < best - cfg.min_delta:
                best, stale = score, 0
                history.best_epoch, history.best_score = epoch, metrics[task.monitor]
                best_state = copy.deepcopy(module.state_dict())
            else:
                stale += cfg.eval_every
            bar.set_postfix(loss=f"{history.train_loss[-1]:.4f}",
                            **{task.monitor: f"{metrics[task.monitor]:.4f}"})
            if stale >= cfg.patience:
                break
        bar.close()
        if fixed:
            history.best_epoch = history.epochs_run - 1
        else:
            assert best_state is not None  # copied before the first epoch when not fixed
            module.load_state_dict(best_state)
        module.eval()
        history.seconds = time.perf_counter() - start
        return history
