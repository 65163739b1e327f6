"""One trainer for all torch models, device choice, seeding and checkpoints."""
from drpkit.train.checkpoint import load_weights, save_weights
from drpkit.train.device import seed_everything, select_device
from drpkit.train.trainer import History, Trainer, TrainerConfig, TrainingTask

__all__ = ["History", "Trainer", "TrainerConfig", "TrainingTask", "load_weights",
           "save_weights", "seed_everything", "select_device"]
