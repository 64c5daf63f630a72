"""train.precision = "auto": the per-device choice, its reason in the run, and the
retained-memory allocator setting."""

from __future__ import annotations

import json

import pytest
import torch

from mmib.engine import fit
from mmib.engine import speed
from mmib.engine.speed import choose_precision, cpu_bf16_capability, retain_freed_memory

from conftest import tiny_config

CPU = torch.device("cpu")


@pytest.fixture
def probe(monkeypatch):
    """A fresh capability probe with the CPU's flags and measured matmul rates as given."""
    monkeypatch.delenv("MMIB_CPU_BF16", raising=False)
    cpu_bf16_capability.cache_clear()

    def set_machine(flags, fp32=100.0, bf16=100.0):
        monkeypatch.setattr(speed, "cpu_flags", lambda: set(flags))
        monkeypatch.setattr(speed, "_matmul_gflops", lambda dtype, **kw: bf16 if dtype == torch.bfloat16 else fp32)
        cpu_bf16_capability.cache_clear()
    yield set_machine
    cpu_bf16_capability.cache_clear()


def test_auto_is_fp32_on_a_cpu_without_bf16_instructions(probe):
    probe({"avx2", "fma"}, fp32=140, bf16=1.5)
    dtype, why = choose_precision("auto", CPU)
    assert dtype is None
    assert why.startswith("auto: fp32") and "no native bf16" in why


def test_auto_is_bf16_where_the_units_exist_and_the_probe_measures_a_gain(probe):
    probe({"avx2", "avx512f", "avx512_bf16"}, fp32=190, bf16=850)
    dtype, why = choose_precision("auto", CPU)
    assert dtype is torch.bfloat16
    assert "avx512_bf16" in why and "4.5x" in why


def test_auto_stays_fp32_when_the_flag_is_there_but_bf16_is_not_faster(probe):
    probe({"amx_bf16", "amx_tile"}, fp32=190, bf16=230)
    dtype, why = choose_precision("auto", CPU)
    assert dtype is None and "below the 1.5x" in why


def test_the_environment_overrides_the_probe(probe, monkeypatch):
    probe({"avx2"})
    monkeypatch.setenv("MMIB_CPU_BF16", "1")
    cpu_bf16_capability.cache_clear()
    assert choose_precision("auto", CPU) == (torch.bfloat16, "auto: bf16 autocast, MMIB_CPU_BF16=1")
    monkeypatch.setenv("MMIB_CPU_BF16", "0")
    cpu_bf16_capability.cache_clear()
    assert choose_precision("auto", CPU)[0] is None


def test_an_explicit_precision_is_kept_and_says_so():
    assert choose_precision("bf16", CPU) == (torch.bfloat16, "train.precision = 'bf16'")
    assert choose_precision("fp32", CPU) == (None, "train.precision = 'fp32'")


def test_the_real_probe_runs_and_gives_a_reason(monkeypatch):
    monkeypatch.delenv("MMIB_CPU_BF16", raising=False)  # this machine's real flags and a real measurement
    cpu_bf16_capability.cache_clear()
    try:
        ok, why = cpu_bf16_capability()
    finally:
        cpu_bf16_capability.cache_clear()
    assert isinstance(ok, bool) and why
    if not {"avx512_bf16", "amx_bf16"} & speed.cpu_flags():
        assert not ok


def test_the_run_records_the_precision_and_why(tmp_path, probe, monkeypatch):
    probe({"avx512_bf16"}, fp32=100, bf16=400)
    res = fit(tiny_config(tmp_path, "train.epochs=1"))
    rec = json.loads((res.run_dir / "summary.json").read_text())["precision"]
    assert rec["used"] == "bf16" and "avx512_bf16" in rec["why"] and "4.0x" in rec["why"]
    res = fit(tiny_config(tmp_path, "train.epochs=1", "train.precision='fp32'", "name='pinned'"))
    rec = json.loads((res.run_dir / "summary.json").read_text())["precision"]
    assert rec == {"used": "fp32", "why": "train.precision = 'fp32'"}


def test_retaining_freed_memory_applies_on_linux():
    import sys

    assert retain_freed_memory() is sys.platform.startswith("linux")


def test_auto_trains_the_cached_path_in_fp32_and_builds_its_cache_in_bf16(tmp_path, probe):
    from mmib.engine import Experiment

    probe({"avx512_bf16"}, fp32=100, bf16=400)
    cfg = tiny_config(tmp_path, "model.freeze_text_encoder=true", f"train.cache_dir='{tmp_path}/cache'")
    exp = Experiment.build(cfg)
    assert exp.text_cache is not None and exp.text_cache.dtype is torch.bfloat16
    assert exp.amp is None and "trained on it run in fp32" in exp.precision_note
    exp = Experiment.build(tiny_config(tmp_path, "model.freeze_text_encoder=true", "train.precision='bf16'",
                                       f"train.cache_dir='{tmp_path}/cache'"))
    assert exp.amp is torch.bfloat16  # an explicit choice is kept


def test_a_resume_where_auto_chooses_another_precision_says_so(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path, "name='moved'", "train.epochs=2", "train.keep_state=true")
    fit(cfg)  # auto = fp32 here (MMIB_CPU_BF16=0)
    run = tmp_path / "moved"
    (run / "summary.json").unlink()  # as if stopped after its last epoch's state was written
    monkeypatch.setenv("MMIB_CPU_BF16", "1")  # "another machine": auto now picks bf16
    cpu_bf16_capability.cache_clear()
    lines: list[str] = []
    try:
        fit(cfg, run_dir=run, resume=True, log=lines.append)
    finally:
        cpu_bf16_capability.cache_clear()
    note = [x for x in lines if x.startswith("note: epochs 1-2 ran in fp32")]
    assert note and "the rest runs in bf16" in note[0] and "MMIB_CPU_BF16=1" in note[0]
