"""Experiment trackers (TensorBoard, MLflow) as a registry: ``train.loggers = ["tensorboard"]``.

Off by default; a tracker's library is imported only when a run opens it. metrics.jsonl
stays the source of truth: trackers receive the same numbers (:mod:`mmib.tracking.session`).
Adding a tracker is one file registering a :class:`LoggerSpec`.
"""

from ..registry import import_parts
from .registry import LOGGERS, Logger, LoggerSpec, RunInfo, need_packages
from .session import Trackers, TrackerWarning, epoch_metrics, final_metrics, flat_params, flatten

import_parts(__name__)

__all__ = ["LOGGERS", "Logger", "LoggerSpec", "RunInfo", "TrackerWarning", "Trackers", "epoch_metrics",
           "final_metrics", "flat_params", "flatten", "need_packages"]
