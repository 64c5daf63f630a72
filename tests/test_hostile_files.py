"""Hostile files, round 2 (issue 33): one crafted file per class, each ending in one line that
names the file and what was wrong, exit status 1 or 2, never a signal, never a traceback."""

from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest

from mmib.cli import main
from mmib.data.readers import converted, load_corpus

SPLITS = ("train", "valid", "test")
_CORE = getattr(np, "_core", None) or np.core


class _Reduce:
    """Pickles as ``fn(*args)`` then BUILD(state): how a hostile file is made without building it."""

    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


def _objarr(items):
    return _Reduce(_CORE.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                   (1, (len(items),), np.dtype("O"), False, list(items)))


def _one_line(out: str, path) -> str:
    lines = [x for x in out.strip().splitlines() if x.strip()]
    assert "Traceback" not in out and str(path) in lines[-1], out
    return lines[-1]


def _inspect(path, capsys) -> tuple[int, str]:
    rc = main(["data", "inspect", str(path)])
    out = capsys.readouterr()
    return rc, out.out + out.err


# ----------------------------------------------------------------------------- 1: one budget per file

def test_nested_object_arrays_are_refused_and_the_process_exits_cleanly(tmp_path):
    """Was: the right refusal, then a segmentation fault (exit 139) while the data was freed."""
    x = 1
    for _ in range(3000):
        x = _objarr([x])
    f = tmp_path / "deep.pkl"
    sys.setrecursionlimit(20_000)
    f.write_bytes(pickle.dumps({s: {"raw_text": x, "regression_labels": np.zeros(2)} for s in SPLITS}, protocol=4))
    r = subprocess.run([sys.executable, "-m", "mmib", "data", "inspect", str(f)], capture_output=True, text=True)
    assert r.returncode == 1, (r.returncode, r.stderr[-500:])
    assert "nested deeper than 100 levels" in _one_line(r.stdout + r.stderr, f)


@pytest.mark.parametrize("name", ["bytes-call", "bytearray8", "shared-list", "deep-tuple-key", "laughs"])
def test_memory_bombs_are_refused_before_allocating(tmp_path, capsys, name):
    big = list(range(100_000))
    x = ["lol"] * 10
    for _ in range(9):
        x = [x] * 10
    data = {
        # 37 bytes calling builtins.bytes(2**31 - 2**24): was 5.9 GB and growing
        "bytes-call": b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x8c\x05bytes\x93J\x00\x00"
                      b"\x00\x7f\x85R.",
        "bytearray8": b"\x80\x05\x96" + struct.pack("<Q", 2**40) + b".",
        # many object arrays sharing one list: was counted per array, minutes for 2 MB
        "shared-list": lambda: pickle.dumps({"train": [_objarr([big]) for _ in range(3000)]}, protocol=4),
        # hashing a deep tuple (a dict key) recurses in C
        "deep-tuple-key": b"\x80\x04}" + b")" + b"\x85" * 5000 + b"K\x01s.",
        "laughs": lambda: pickle.dumps({"train": x}, protocol=4),
    }[name]
    f = tmp_path / f"{name}.pkl"
    f.write_bytes(data if isinstance(data, bytes) else data())
    rc, out = _inspect(f, capsys)
    line = _one_line(out, f)
    assert rc == 1 and "refused to load it" in line
    assert ("memory budget" in line) or ("nested deeper" in line) or ("BYTEARRAY8 declares" in line), line
    assert len(line) < 600  # never the whole object


def test_the_budget_is_settable(tmp_path, capsys, monkeypatch):
    from fixtures_data import write_mmsa

    f = write_mmsa(tmp_path / "ok.pkl", sizes=(3, 2, 2))
    monkeypatch.setenv("MMIB_LOAD_BUDGET", "0.5,0")  # half the file's size: its arrays do not fit
    rc, out = _inspect(f, capsys)
    assert rc == 1 and "MMIB_LOAD_BUDGET=FACTOR,EXTRA_MIB" in _one_line(out, f)
    monkeypatch.setenv("MMIB_LOAD_BUDGET", "2,0")
    assert load_corpus(f, log=False).sizes == {"train": 3, "valid": 2, "test": 2}


# ----------------------------------------------------------------------------- 2: converted files checked alike

def _defective_pickle(path):
    """An MMSA file with every defect a file can have and still be usable."""
    rng = np.random.default_rng(0)
    obj = {}
    for k, s in enumerate(SPLITS):
        n = 4
        audio = rng.normal(size=(n, 6, 3))
        audio[0, 1, 0], audio[1, 2, 1], audio[2, 0, 2] = np.nan, np.inf, 3e9  # repaired and counted
        audio[3, 5] = -np.inf
        vision = rng.normal(size=(n, 60, 2))
        vision[1] = 0
        vl = np.full(n, 60)
        vl[1] = 0  # no valid step
        y = np.linspace(-2, 2, n)
        y[0] = 4.5 if s == "train" else y[0]  # outside [-3, 3]
        ids = [f"{s}{i}" for i in range(n)]
        ids[1] = ids[2] if s == "train" else ("train0" if s == "test" else ids[1])  # duplicate; shared
        obj[s] = {"regression_labels": y, "audio": audio, "vision": vision, "text": np.ones((n, 5, 4)),
                  "audio_lengths": np.full(n, 6), "vision_lengths": vl, "id": ids}
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


def test_inspect_on_a_converted_file_lists_the_same_problems_as_on_its_pickle(tmp_path, capsys):
    src = _defective_pickle(tmp_path / "bad.pkl")
    out = tmp_path / "bad.safetensors"
    assert main(["data", "convert", str(src), str(out)]) == 0
    capsys.readouterr()
    assert main(["data", "inspect", "--json", str(src)]) == 0
    from_pickle = json.loads(capsys.readouterr().out)["problems"]
    assert main(["data", "inspect", "--json", str(out)]) == 0
    from_converted = json.loads(capsys.readouterr().out)["problems"]
    assert from_converted == from_pickle
    text = " | ".join(from_pickle)
    for kind in ("non-finite values: audio", "no valid step", "longer than max_len", "outside [-3, 3]",
                 "duplicate id", "also in split", "text_vectors: every feature is constant"):
        assert kind in text, (kind, text)


def _tamper(path, key, index, value):
    """Overwrite one element of tensor ``key`` in a converted file (its checks are the reader's)."""
    data = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    h = json.loads(data[8:8 + n])[key]
    fmt = {"F32": "<f", "I64": "<q"}[h["dtype"]]
    at = 8 + n + h["data_offsets"][0] + index * struct.calcsize(fmt)
    data[at:at + struct.calcsize(fmt)] = struct.pack(fmt, value)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("key,index,value,said", [
    ("valid.sentiment", 1, float("nan"), "split 'valid', field 'sentiment', index 1: expected a finite sentiment"),
    ("train.sentiment", 0, float("inf"), "field 'sentiment', index 0"),
    ("test.text_ids.values", 3, -7, "split 'test', field 'text_ids', index 0: expected token ids in [0, 2147483647]"),
    ("train.text_ids.values", 0, 10**12, "token ids in [0, 2147483647], got 1000000000000"),
    ("train.audio.lengths", 0, -3, "field 'audio.lengths', index 0: expected a size >= 0"),
    ("train.ids.nbytes", 1, -2, "field 'ids.nbytes', index 1: expected a size >= 0"),
])
def test_bad_values_in_a_converted_file_are_named(tmp_path, capsys, key, index, value, said):
    from fixtures_data import write_mmsa

    f = converted.write(load_corpus(write_mmsa(tmp_path / "m.pkl", sizes=(3, 2, 2)), log=False), tmp_path / "m.safetensors")
    _tamper(f, key, index, value)
    rc, out = _inspect(f, capsys)
    assert rc == 1 and said in _one_line(out, f)


def test_non_finite_features_in_a_converted_file_are_repaired_and_reported(tmp_path, capsys):
    from fixtures_data import write_mmsa

    f = converted.write(load_corpus(write_mmsa(tmp_path / "m.pkl", sizes=(3, 2, 2)), log=False), tmp_path / "m.safetensors")
    before = load_corpus(f, log=False).repairs.get("audio", {}).get("valid", {})
    _tamper(f, "valid.audio.values", 2, float("nan"))
    _tamper(f, "valid.audio.values", 3, 3e38)
    after = load_corpus(f, log=False).repairs["audio"]["valid"]
    assert after["nan"] == before.get("nan", 0) + 1 and after.get("huge", 0) == before.get("huge", 0) + 1
    rc, out = _inspect(f, capsys)
    assert rc == 0 and "non-finite values: audio" in out


@pytest.mark.parametrize("damage", ["json", "length", "offsets", "dtype"])
def test_a_damaged_safetensors_header_is_reported_as_such(tmp_path, capsys, damage):
    from fixtures_data import write_mmsa

    f = converted.write(load_corpus(write_mmsa(tmp_path / "m.pkl", sizes=(3, 2, 2)), log=False), tmp_path / "m.safetensors")
    data = bytearray(f.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    if damage == "json":
        data[8 + n // 2] = ord("\\")
    elif damage == "length":
        data[:8] = struct.pack("<Q", n + 4)
    else:
        key = next(k for k in header if k.endswith("sentiment"))
        header[key]["data_offsets" if damage == "offsets" else "dtype"] = [0, 1 << 40] if damage == "offsets" else "ZZ"
        raw = json.dumps(header).encode()
        data = bytearray(struct.pack("<Q", len(raw)) + raw + data[8 + n:])
    f.write_bytes(bytes(data))
    rc, out = _inspect(f, capsys)
    assert rc == 1 and "damaged safetensors header" in _one_line(out, f) and "pickle" not in _one_line(out, f)
