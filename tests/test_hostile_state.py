"""Hostile files, round 2 (issue 33): HDF5 links out of the file, run state checked by meaning,
full disks and folders that cannot be written, and a sample of the fuzz harness."""

from __future__ import annotations

import builtins
import json
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from conftest import tiny_config
from mmib.cli import main
from mmib.engine import fit
from mmib.engine.checkpoint import CorruptFileError, record, save_state
from mmib.extract.csd import load_folds

ROOT = Path(__file__).resolve().parents[1]
FOLDS = load_folds("mosi")
VIDS = [FOLDS["train"][0], FOLDS["valid"][0], FOLDS["test"][0]]


def _err_line(capsys, path, only: bool = True) -> str:
    """The one error line (``only``: the only line; else the last, after the repairs printed)."""
    out = capsys.readouterr()
    text = out.out + out.err
    lines = [x for x in text.strip().splitlines() if x.strip()]
    assert "Traceback" not in text and (len(lines) == 1 or not only) and str(path) in lines[-1], text
    return lines[-1]


# ----------------------------------------------------------------------------- 3: HDF5 / .csd

def _csd(path, name, link=None, other=None):
    with h5py.File(path, "w") as f:
        g = f.create_group(name)
        for vid in VIDS:
            v = g.create_group(f"data/{vid}")
            v.create_dataset("intervals", data=np.array([[0.0, 2.0]]))
            if link == "external" and vid == VIDS[0]:
                v["features"] = h5py.ExternalLink(str(other), f"/{name}/data/{VIDS[1]}/features")
            elif link == "virtual" and vid == VIDS[0]:
                lay = h5py.VirtualLayout((1, 1), "f8")
                lay[:] = h5py.VirtualSource(str(other), f"/{name}/data/{VIDS[1]}/features", shape=(1, 1))
                v.create_virtual_dataset("features", lay)
            elif link == "huge" and vid == VIDS[0]:
                v.create_dataset("features", shape=(2**32, 1), dtype="f8", chunks=(4096, 1), compression="gzip")
            else:
                v.create_dataset("features", data=np.array([[2.5]]))
    return path


@pytest.mark.parametrize("link,said", [
    ("external", "is an external link to"), ("virtual", "is a virtual dataset reading"),
    ("huge", "declared shape (4294967296, 1) of float64) needs 32768.0 MiB more than the file's memory budget"),
])
def test_hdf5_links_out_of_the_file_and_huge_datasets_are_refused_by_name(tmp_path, capsys, link, said):
    other = _csd(tmp_path / "other.csd", "Labels")
    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps({"train": [VIDS[0]], "valid": [VIDS[1]], "test": [VIDS[2]]}))
    f = _csd(tmp_path / "labels.csd", "Labels", link, other)
    args = ["data", "csd", "--labels", str(f), "--unaligned", "--folds", str(folds), "-o", str(tmp_path / "o.safetensors")]
    assert main(args) == 2
    line = _err_line(capsys, f)
    assert said in line and f"'Labels/data/{VIDS[0]}/features'" in line
    if link != "huge":  # the flag follows them, for files one trusts
        assert "--allow-links" in line and main(args + ["--allow-links"]) == 0


# ----------------------------------------------------------------------------- 4: run state by meaning

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("state")
    fit(tiny_config(tmp, "name='r'", "train.epochs=1", "train.keep_state=true"))
    (tmp / "r" / "summary.json").unlink()  # as if stopped after its last epoch
    return tmp / "r"


def _copy(trained, tmp_path) -> Path:
    run = tmp_path / "r"
    shutil.copytree(trained, run)
    return run


@pytest.mark.parametrize("change,said", [
    (lambda s: s.update(epoch=10**9), "the resume state says 1000000000 epochs are done; expected a number in [0, 1]"),
    (lambda s: s.update(epoch=-5), "says -5 epochs are done"),
    (lambda s: s.pop("rng"), "the resume state has no 'rng' (the random generators' states)"),
    (lambda s: s.update(best_epoch="1"), "'best_epoch' in the resume state is a str"),
])
def test_an_impossible_resume_state_with_a_matching_checksum_is_named(trained, tmp_path, capsys, change, said):
    run = _copy(trained, tmp_path)
    state = torch.load(run / "state.pt", weights_only=True)
    change(state)
    torch.save(state, run / "state.pt")
    record(run / "state.pt")  # the checksum matches: only the meaning is wrong
    assert main(["train", "--resume", str(run), "-q"]) == 2
    assert said in _err_line(capsys, run / "state.pt")


def test_checksums_of_the_wrong_shape_and_meta_of_the_wrong_type_are_errors(trained, tmp_path, capsys):
    run = _copy(trained, tmp_path)
    (run / "checksums.json").write_text("[]")  # was: verification silently off
    assert main(["evaluate", str(run)]) == 2
    assert "expected an object {file name: [sha256, ...]}, got list" in _err_line(capsys, run / "checksums.json")
    from safetensors import safe_open
    from safetensors.torch import save_file

    run = _copy(trained, tmp_path / "b")
    with safe_open(str(run / "best.safetensors"), framework="pt") as f:
        meta, state = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file(state, str(run / "best.safetensors"), metadata={**meta, "meta": "[1, 2]"})
    record(run / "best.safetensors")
    assert main(["evaluate", str(run)]) == 2  # was: a TypeError traceback
    assert "its 'meta' metadata is a JSON list; expected an object" in _err_line(capsys, run / "best.safetensors")


def test_a_full_disk_while_writing_the_state_says_so_naming_the_file(tmp_path, monkeypatch):
    from mmib.engine import checkpoint

    def full(path, mode="r", *args, **kw):  # writes reach a real full device: the kernel says ENOSPC
        return builtins.open("/dev/full", mode) if mode == "wb" else builtins.open(path, mode, *args, **kw)

    monkeypatch.setattr(checkpoint, "open", full, raising=False)
    with pytest.raises(OSError) as e:
        save_state(tmp_path / "state.pt", {"epoch": 1, "model": {"w": torch.zeros(1000)}})
    assert str(e.value) == f"[Errno 28] cannot write it (No space left on device): '{tmp_path / 'state.pt'}'"
    assert not list(tmp_path.glob(".*.tmp"))


def test_convert_onto_a_full_disk_or_into_a_file_is_one_line(tmp_path, capsys, monkeypatch):
    from fixtures_data import write_mmsa
    from mmib.data.readers import converted

    src = write_mmsa(tmp_path / "m.pkl", sizes=(3, 2, 2))
    out = tmp_path / "m.safetensors"
    monkeypatch.setattr(converted, "open", lambda p, mode="r": builtins.open("/dev/full", mode), raising=False)
    assert main(["data", "convert", str(src), str(out)]) == 2  # was: a SafetensorError traceback
    assert "cannot write it (No space left on device)" in _err_line(capsys, out, only=False)
    monkeypatch.undo()
    (tmp_path / "afile").write_text("")  # a file where the folder should be (root ignores chmod)
    assert main(["data", "convert", str(src), str(tmp_path / "afile" / "m.safetensors")]) == 2
    assert "cannot write it (Not a directory)" in _err_line(capsys, tmp_path / "afile" / "m.safetensors", only=False)
    assert not list(tmp_path.glob("*.tmp"))


# ----------------------------------------------------------------------------- 5: the harness, a sample

@pytest.mark.slow
def test_a_sample_of_the_file_fuzzer_has_no_failure():
    """Each input in a child process under a 2 GB address-space cap and a CPU-time cap (one child
    for the whole sample of 240); scripts/fuzz_files.py runs 10,000 per layout."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import fuzz_files

    summary = fuzz_files.run(["mmsa", "mult", "magbert", "converted", "csd", "manifest"], 40, seed=33, batch=240,
                             echo=lambda m: None)
    failures = {lay: s["failure_examples"] for lay, s in summary["layouts"].items() if s["failures"]}
    assert not failures
    assert all(s["inputs"] == 40 for s in summary["layouts"].values())
    assert all(s["outcomes"].get("named error", 0) for s in summary["layouts"].values())


@pytest.mark.parametrize("fault,said", [("hang", "HDF5 did not finish reading it within 1 s"),
                                        ("segfault", "HDF5 crashed reading it (signal 11)")])
def test_a_parser_that_hangs_or_crashes_in_c_is_one_line(tmp_path, monkeypatch, fault, said):
    """libhdf5 looped forever on an attribute of a fuzzed .csd (input 8048 of seed 0): the
    parser runs in a child process under a time limit, and a signal there is reported."""
    import os
    import signal
    import time

    from mmib.data.validate import DataError
    from mmib.extract.isolate import isolated

    f = tmp_path / "x.csd"
    f.write_bytes(b"")
    monkeypatch.setenv("MMIB_HDF5_TIMEOUT", "1")

    def work():
        if fault == "hang":
            time.sleep(60)  # as a C loop would: nothing in the child returns
        os.kill(os.getpid(), signal.SIGSEGV)

    t0 = time.monotonic()
    with pytest.raises(DataError) as e:
        isolated(work, f)
    assert str(e.value).startswith(f"{f}: {said}") and time.monotonic() - t0 < 10
