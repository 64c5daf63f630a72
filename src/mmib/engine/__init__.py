"""The training engine: fit, evaluate, checkpoints, seeding (separate from models and objectives)."""

from .evaluate import evaluate_run, load_setup
from .fit import RunExistsError, Setup, fit, setup
from .loop import Predictions, predict, train_one_epoch

__all__ = ["Predictions", "RunExistsError", "Setup", "evaluate_run", "fit", "load_setup", "predict",
           "setup", "train_one_epoch"]
