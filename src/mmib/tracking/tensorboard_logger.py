"""TensorBoard: event files under ``<run_dir>/tensorboard/`` (``tensorboard --logdir runs``).

Scalars are written as float64 tensors, so what TensorBoard's own reader returns equals
metrics.jsonl exactly; the resolved config is the run's hparams (with the selected
epoch's test metrics as the hparams metrics) and, as TOML, a text summary.
"""

from __future__ import annotations

from typing import Any

from .registry import LOGGERS, LoggerSpec, RunInfo
from .session import final_metrics

LOG_DIR = "tensorboard"


def _hparam_value(v: Any) -> Any:
    return v if isinstance(v, (bool, int, float, str)) else str(v)


class TensorBoardLogger:
    def __init__(self, info: RunInfo):
        # needs the tensorboard package (mmib[track])
        from torch.utils.tensorboard import SummaryWriter

        self.info = info
        self.writer = SummaryWriter(log_dir=str(info.run_dir / LOG_DIR))
        self.step = info.resumed_from
        if not info.resumed_from:
            self.writer.add_text("config", "```toml\n" + info.config_toml + "\n```", 0)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, step, new_style=True, double_precision=True)
        self.step = step
        self.writer.flush()

    def finish(self, summary: dict[str, Any] | None, ok: bool) -> None:
        if summary is not None:
            from torch.utils.tensorboard.summary import hparams

            final = final_metrics(summary)
            step = int(summary.get("best_epoch", self.step))
            for k, v in final.items():
                self.writer.add_scalar(k, v, step, new_style=True, double_precision=True)
            params = {k: _hparam_value(v) for k, v in {**self.info.params, **self.info.extra}.items()
                      if v is not None}
            for s in hparams(params, {f"hparam/{k}": v for k, v in final.items()}):
                self.writer.file_writer.add_summary(s)
            for k, v in final.items():  # the metric tags the hparams view reads
                self.writer.add_scalar(f"hparam/{k}", v, step)
        self.writer.close()


LOGGERS.add("tensorboard", LoggerSpec(
    "TensorBoard event files in <run_dir>/tensorboard/ (every loss term, KL per bottleneck, validation "
    "metrics, learning rates, the config as hparams)", TensorBoardLogger, requires=("tensorboard",)))
