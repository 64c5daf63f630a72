"""Tiny trained runs shared by the evaluation tests (trained once per test session).

Layout under one temporary folder:
  cm/            a 2-seed C-MIB group made by ``mmib train --seeds 2`` (seed-0, seed-1)
  bm/            one B-MIB run (no IB) scored with the mmsa convention, test logged every epoch
  iem/           a C-MIB run on a Multimodal-Transformer-format IEMOCAP file (glove text)
  iemocap.pkl    that file
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TINY
from fixtures_data import write_mult
from mmib.cli import main

_CACHE: dict[str, Path] = {}


def tiny_args() -> list[str]:
    args = []
    for item in TINY:
        args += ["--set", item]
    return args + ["-q"]


@pytest.fixture(scope="session")
def eval_runs(tmp_path_factory) -> Path:
    if "root" not in _CACHE:
        root = tmp_path_factory.mktemp("eval_runs")
        out = ["--out-dir", str(root)]
        assert main(["train", *tiny_args(), *out, "--name", "cm", "--seeds", "2"]) == 0
        assert main(["train", *tiny_args(), *out, "--name", "bm", "--variant", "bmib",
                     "--set", "eval.convention='mmsa'", "--set", "train.log_test_every_epoch=true",
                     "--epochs", "3"]) == 0
        data = write_mult(root / "iemocap.pkl", kind="iemocap")
        assert main(["train", *tiny_args(), *out, "--name", "iem", "--dataset", "iemocap", "--data-path", str(data),
                     "--text-encoder", "glove", "--set", "data.max_len=20", "--epochs", "1"]) == 0
        _CACHE["root"] = root
    return _CACHE["root"]
