"""The engine: an :class:`Experiment` built from a config (or loaded from a run), the training
loop with selection on validation (:func:`fit`), the final test (:func:`evaluate_run`),
checkpoints, seeding, speed options and the packaged :class:`Predictor`. It never prints and
never imports the CLI, the report layer or the studies."""

from .checks import check_config
from .evaluate import evaluate_run, summarize
from .experiment import Experiment, checkpoint_path
from .fit import FitResult, fit
from .loop import Predictions, infer, predict, predict_batch, train_one_epoch
from .predictor import Predictor
from .rundir import RunExistsError, RunInUseError, RunLock, read_extraction, read_log, read_summary, run_dir_for


def setup(cfg, **kwargs) -> Experiment:
    """``Experiment.build`` (the name of earlier versions)."""
    return Experiment.build(cfg, **kwargs)


def load_setup(path, **kwargs) -> tuple[Experiment, dict]:
    """``Experiment.load`` and its checkpoint metadata (the form of earlier versions)."""
    exp = Experiment.load(path, **kwargs)
    return exp, exp.meta


Setup = Experiment

__all__ = ["Experiment", "FitResult", "Predictions", "Predictor", "RunExistsError", "RunInUseError", "RunLock", "Setup", "check_config",
           "checkpoint_path", "evaluate_run", "fit", "infer", "load_setup", "predict", "predict_batch",
           "read_extraction", "read_log", "read_summary", "run_dir_for", "setup", "summarize", "train_one_epoch"]
