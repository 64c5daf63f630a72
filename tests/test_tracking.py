"""Trackers: a tiny run's TensorBoard events and MLflow run hold exactly metrics.jsonl's numbers,
read back with each library's own reader; sweeps log a run per cell with its grid values."""

from __future__ import annotations

import json

import pytest
from conftest import tiny_config

from mmib.config import ConfigError
from mmib.engine import check_config, fit
from mmib.tracking import LOGGERS, epoch_metrics, flatten


def _jsonl(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_flatten_keeps_numbers_and_nesting():
    rec = {"epoch": 2, "seconds": 1.5, "selected": True,
           "train": {"loss": 0.5, "kl/fused": 0.1}, "valid": {"MAE": 0.9, "name": "x"}}
    assert epoch_metrics(rec, [("model", 1e-3)]) == {
        "seconds": 1.5, "train/loss": 0.5, "train/kl/fused": 0.1, "valid/MAE": 0.9, "lr/model": 1e-3}
    assert flatten({"a": {"b": {"c": 1}}}) == {"a/b/c": 1.0}


def test_unknown_or_uninstalled_loggers_are_config_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"train.loggers: unknown logger 'wandbx'; expected one of .*tensorboard"):
        check_config(tiny_config(tmp_path, "train.loggers=['wandbx']"))
    with pytest.raises(ConfigError, match="train.loggers: expected a list of distinct"):
        tiny_config(tmp_path, "train.loggers=['mlflow', 'mlflow']")
    spec = LOGGERS.get("mlflow")
    monkeypatch.setattr(type(spec), "missing", lambda self: ["mlflow"])
    with pytest.raises(ConfigError, match=r"pip install 'mmib\[track\]'"):
        check_config(tiny_config(tmp_path, "train.loggers=['mlflow']"))


@pytest.mark.slow
def test_no_tracker_library_is_imported_by_default(tmp_path):
    import subprocess
    import sys

    code = ("import sys, mmib.engine, mmib.tracking; "
            "print(any(m.split('.')[0] in ('mlflow', 'tensorboard') or m == 'torch.utils.tensorboard' "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
def test_tensorboard_and_mlflow_hold_the_metrics_of_metrics_jsonl(tmp_path):
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    uri = f"sqlite:///{tmp_path / 'ml.db'}"
    cfg = tiny_config(tmp_path, "train.loggers=['tensorboard', 'mlflow']", f"train.tracking_uri='{uri}'",
                      "name='tracked'")
    res = fit(cfg, run_dir=tmp_path / "tracked")
    run_dir = res.run_dir
    records = _jsonl(run_dir)
    assert len(records) == 2
    expected = {r["epoch"]: epoch_metrics(r) for r in records}
    assert any(k.startswith("train/kl/") for k in expected[1])  # KL per bottleneck
    assert "valid/MAE" in expected[1] and "train/loss" in expected[1]

    # TensorBoard, through its own event reader
    ea = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"tensors": 0}).Reload()
    tags = set(ea.Tags()["tensors"])
    for epoch, metrics in expected.items():
        for k, v in metrics.items():
            got = {e.step: float(make_ndarray(e.tensor_proto)) for e in ea.Tensors(k)}
            assert got[epoch] == v, k
    assert {"lr/model", "lr/text_encoder", "test/MAE"} <= tags
    test_mae = {e.step: float(make_ndarray(e.tensor_proto)) for e in ea.Tensors("test/MAE")}
    assert test_mae == {res.summary["best_epoch"]: res.summary["test"]["MAE"]}

    # MLflow, through its own client
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("mmib").experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    run = runs[0]
    for k in expected[1]:
        if k == "seconds":
            continue
        hist = {m.step: m.value for m in client.get_metric_history(run.info.run_id, k)}
        assert hist == {e: expected[e][k] for e in expected}, k
    assert run.data.metrics["test/Corr"] == res.summary["test"]["Corr"]
    assert run.data.params["model.variant"] == "cmib" and run.data.params["train.epochs"] == "2"
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.jsonl", "summary.json", "best.safetensors", "config.toml"} <= arts
    assert "state.pt" not in arts
    assert (tmp_path / "mlartifacts").is_dir()  # beside the store, never in the working directory


@pytest.mark.slow
def test_a_sweep_logs_each_cell_as_a_run_with_its_grid_values(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from mmib.studies import run_sweep

    uri = f"sqlite:///{tmp_path / 'ml.db'}"
    cfg = tiny_config(tmp_path, "train.loggers=['mlflow']", f"train.tracking_uri='{uri}'", "train.epochs=1",
                      "name='sw'")
    run_sweep(cfg, {"objective.beta": [0.0, 0.01]}, seeds=1)
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("mmib").experiment_id])
    got = sorted((r.data.params["run.objective.beta"], r.data.params["run.seed"]) for r in runs)
    assert got == [("0.0", "0"), ("0.01", "0")]
    assert all(r.info.status == "FINISHED" for r in runs)


@pytest.mark.slow
def test_a_resumed_run_continues_its_mlflow_run(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from mmib.engine import faults

    uri = f"sqlite:///{tmp_path / 'ml.db'}"
    cfg = tiny_config(tmp_path, "train.loggers=['mlflow']", f"train.tracking_uri='{uri}'", "name='res'")
    monkeypatch.setattr(faults, "_COUNTER", faults._Counter())
    monkeypatch.setenv(faults.ENV, "epoch_end:1:oserror")  # a disk-full stop after epoch 1
    with pytest.raises(OSError):
        fit(cfg, run_dir=tmp_path / "res")
    monkeypatch.delenv(faults.ENV)
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.get_experiment_by_name("mmib").experiment_id
    assert [r.info.status for r in client.search_runs([exp_id])] == ["FAILED"]
    fit(cfg, run_dir=tmp_path / "res", resume=True)
    runs = client.search_runs([exp_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    hist = {m.step: m.value for m in client.get_metric_history(runs[0].info.run_id, "valid/loss")}
    assert hist == {r["epoch"]: r["valid"]["loss"] for r in _jsonl(tmp_path / "res")}
