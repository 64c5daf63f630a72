"""MLflow: a run per mmib run in a local store (SQLite by default, or any tracking URI).

The store is ``train.tracking_uri`` (default ``sqlite:///<out_dir>/mlflow.db``), the
experiment ``train.tracking_experiment``; the run gets the resolved config as params (dotted
keys; a sweep's grid values and a group's seed too), every epoch's metrics at step = epoch,
the selected epoch's test metrics at the end and the run folder as artifacts (resume states
left out; a SQLite store keeps them in ``mlartifacts/`` beside its file). On ``--resume`` the same MLflow run continues (its id is kept in tracking.json).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .registry import LOGGERS, LoggerSpec, RunInfo
from .session import final_metrics, read_state, write_state

_SKIP = ("state.pt", "state.prev.pt", ".lock")
MAX_PARAM = 500  # MLflow limits a param value's length


def default_uri(out_dir: str | Path) -> str:
    return f"sqlite:///{Path(out_dir).expanduser().resolve() / 'mlflow.db'}"


def artifact_location(uri: str) -> str | None:
    """Artifacts of a SQLite store go beside its file (``mlartifacts/``), not into the working
    directory (MLflow's default); other stores (a server) decide for themselves (None)."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri[len("sqlite:///"):]).parent / "mlartifacts").resolve().as_uri()


class MLflowLogger:
    def __init__(self, info: RunInfo):
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        for name in ("mlflow", "alembic"):  # table creation logs at INFO on every new store
            logging.getLogger(name).setLevel(logging.WARNING)

        self._metric, self._param = Metric, Param
        self.info = info
        self.client = MlflowClient(tracking_uri=info.tracking_uri)
        exp = self.client.get_experiment_by_name(info.experiment)
        exp_id = exp.experiment_id if exp is not None else \
            self.client.create_experiment(info.experiment, artifact_location=artifact_location(info.tracking_uri))
        old = read_state(info.run_dir).get("mlflow", {})
        if info.resumed_from and old.get("uri") == info.tracking_uri and old.get("run_id"):
            self.run_id = old["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            run = self.client.create_run(exp_id, run_name=info.name, tags={"mmib.run_dir": str(info.run_dir)})
            self.run_id = run.info.run_id
            write_state(info.run_dir, "mlflow", {"uri": info.tracking_uri, "run_id": self.run_id})
            params = {**info.params, **{f"run.{k}": v for k, v in info.extra.items()}}
            batch = [Param(k, str(v)[:MAX_PARAM]) for k, v in params.items()]
            for i in range(0, len(batch), 100):  # MLflow takes at most 100 params per call
                self.client.log_batch(self.run_id, params=batch[i:i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        import time

        now = int(time.time() * 1000)
        batch = [self._metric(k, v, now, step) for k, v in metrics.items()]
        for i in range(0, len(batch), 1000):
            self.client.log_batch(self.run_id, metrics=batch[i:i + 1000])

    def finish(self, summary: dict[str, Any] | None, ok: bool) -> None:
        if summary is not None:
            self.log_metrics(final_metrics(summary), int(summary.get("best_epoch", 0)))
            run_dir = Path(self.info.run_dir)
            for f in sorted(run_dir.iterdir()):
                if f.name in _SKIP or f.name.startswith("."):
                    continue
                if f.is_dir():
                    self.client.log_artifacts(self.run_id, str(f), artifact_path=f.name)
                else:
                    self.client.log_artifact(self.run_id, str(f))
        self.client.set_terminated(self.run_id, status="FINISHED" if ok else "FAILED")


LOGGERS.add("mlflow", LoggerSpec(
    "MLflow run in a local store (train.tracking_uri, default sqlite:///<out_dir>/mlflow.db): config as "
    "params, every metric per epoch, the run folder as artifacts", MLflowLogger,
    requires=("mlflow", "sqlalchemy", "alembic")))
