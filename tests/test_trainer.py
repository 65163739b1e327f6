"""The shared trainer: loss falls, early stopping on validation restores the best epoch."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from drpkit.train import Trainer, TrainerConfig, select_device


class _Task:
    monitor, mode = "val_loss", "min"

    def __init__(self, module, x, y, xv, yv):
        self.module, self.x, self.y, self.xv, self.yv = module, x, y, xv, yv

    def batches(self, epoch, generator):
        yield self.x, self.y

    def loss(self, batch):
        x, y = batch
        return nn.functional.mse_loss(self.module(x).squeeze(-1), y)

    def validate(self):
        return {"val_loss": float(nn.functional.mse_loss(self.module(self.xv).squeeze(-1),
                                                         self.yv))}


def _data(n=64, d=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, generator=g)
    return x, x @ w


def test_loss_falls_below_bound():
    x, y = _data()
    module = nn.Linear(10, 1)
    history = Trainer(TrainerConfig(max_epochs=300, patience=300, lr=0.05, progress=False)).fit(
        _Task(module, x, y, x, y))
    assert history.train_loss[-1] < 0.01 * history.train_loss[0]


def test_early_stopping_restores_best_validation_epoch():
    # tiny noisy training set, large validation set: validation loss turns up (overfit)
    torch.manual_seed(0)
    x, y = _data(n=12, d=40)
    y = y + torch.randn(12)
    xv, yv = _data(n=400, d=40, seed=1)
    module = nn.Sequential(nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 1))
    history = Trainer(TrainerConfig(max_epochs=400, patience=15, lr=0.01, progress=False)).fit(
        _Task(module, x, y, xv, yv))
    assert history.epochs_run < 400
    assert history.epochs_run == history.best_epoch + 1 + 15
    with torch.no_grad():
        final = float(nn.functional.mse_loss(module(xv).squeeze(-1), yv))
    best = min(v["val_loss"] for v in history.val)
    assert abs(final - best) < 1e-6


def test_device_is_chosen_not_hard_coded():
    device = select_device("auto")
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert select_device("cpu").type == "cpu"


class _NoValidation(_Task):
    def validate(self):
        raise AssertionError("a refit must not validate")


def test_fixed_epochs_run_exactly_and_keep_the_last_weights():
    x, y = _data()
    module = nn.Linear(10, 1)
    history = Trainer(TrainerConfig(max_epochs=500, patience=1, lr=0.05, progress=False)).fit(
        _NoValidation(module, x, y, x, y), epochs=7)
    assert history.epochs_run == 7 and history.best_epoch == 6 and not history.val
    # the weights are those after the 7th step: one more step changes the loss from there
    with torch.no_grad():
        last = float(nn.functional.mse_loss(module(x).squeeze(-1), y))
    assert last < history.train_loss[-1]  # the logged loss is before the 7th update


def test_cosine_schedule_falls_from_lr_to_zero_over_max_epochs(monkeypatch):
    import math

    seen = []
    original = torch.optim.Adam.step

    def step(self, *args, **kwargs):  # the lr of every optimiser step
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    x, y = _data()
    for schedule in ("constant", "cosine"):
        seen.clear()
        Trainer(TrainerConfig(max_epochs=8, patience=100, lr=0.1, schedule=schedule,
                              progress=False)).fit(_Task(nn.Linear(10, 1), x, y, x, y))
        expected = [0.1 if schedule == "constant" else 0.05 * (1 + math.cos(math.pi * k / 8))
                    for k in range(8)]
        assert seen == [pytest.approx(e) for e in expected], schedule
    seen.clear()  # a refit of 3 epochs follows the first 3 epochs of the same curve
    Trainer(TrainerConfig(max_epochs=8, lr=0.1, schedule="cosine", progress=False)).fit(
        _NoValidation(nn.Linear(10, 1), x, y, x, y), epochs=3)
    assert seen == [pytest.approx(0.05 * (1 + math.cos(math.pi * k / 8))) for k in range(3)]


class _IdleWeight(nn.Module):
    """A linear model plus one weight whose data gradient is exactly 0 (it enters the
    loss multiplied by 0), like an attention key that no longer changes the output."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 1)
        self.idle = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.linear(x) + 0.0 * self.idle


@pytest.mark.parametrize("optimizer, lowest, highest", [("adam", 0.0, 0.1), ("adamw", 0.99, 1.0)])
def test_coupled_l2_collapses_an_idle_weight_decoupled_decay_does_not(optimizer, lowest, highest):
    # Adam + L2: the gradient of the idle weight is weight_decay * w, which Adam
    # normalises to a step of about lr towards 0 whatever weight_decay is: 1 -> ~0 in
    # a few 1/lr steps. AdamW multiplies it by 1 - lr * weight_decay per step instead.
    x, y = _data()
    module = _IdleWeight()
    Trainer(TrainerConfig(max_epochs=500, patience=500, lr=1e-2, weight_decay=1e-5,
                          optimizer=optimizer, progress=False)).fit(_Task(module, x, y, x, y))
    assert lowest <= abs(module.idle.item()) <= highest


class _DtypeTask(_Task):
    """Records the dtype of the module's output in training and in validation."""

    def __init__(self, *args):
        super().__init__(*args)
        self.train_dtypes, self.val_dtypes = set(), set()

    def loss(self, batch):
        x, y = batch
        out = self.module(x).squeeze(-1)
        self.train_dtypes.add(out.dtype)
        return nn.functional.mse_loss(out.float(), y)

    def validate(self):
        out = self.module(self.xv).squeeze(-1)
        self.val_dtypes.add(out.dtype)
        return {"val_loss": float(nn.functional.mse_loss(out.float(), self.yv))}


def test_bf16_precision_runs_training_products_in_bf16_and_keeps_fp32_weights():
    x, y = _data()
    for precision, expected in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        module = nn.Linear(10, 1)
        task = _DtypeTask(module, x, y, x, y)
        history = Trainer(TrainerConfig(max_epochs=200, patience=200, lr=0.05,
                                        precision=precision, progress=False)).fit(task)
        assert task.train_dtypes == {expected}, precision
        assert task.val_dtypes == {torch.float32}, precision  # validation stays fp32
        assert module.weight.dtype == torch.float32
        # bf16 products still learn the linear map (bf16 keeps ~3 significant digits)
        assert history.train_loss[-1] < 0.01 * history.train_loss[0], precision


def test_fused_optimizer_is_used_when_asked_and_takes_the_same_steps(monkeypatch):
    fused_flags = []
    original = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        fused_flags.append(bool(self.defaults.get("fused")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    x, y = _data()
    weights = {}
    for fused in (False, True):
        fused_flags.clear()
        torch.manual_seed(0)
        module = nn.Linear(10, 1)
        Trainer(TrainerConfig(max_epochs=20, patience=100, lr=0.05, fused_optimizer=fused,
                              progress=False)).fit(_NoValidation(module, x, y, x, y), epochs=20)
        assert fused_flags == [fused] * 20
        weights[fused] = module.weight.detach().clone()
    # the same update up to rounding
    assert torch.allclose(weights[False], weights[True], atol=1e-5)
