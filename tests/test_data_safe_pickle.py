"""The restricted unpickler: NumPy and plain data load; anything that would run code is refused."""

from __future__ import annotations

import os
import pickle
import subprocess

import numpy as np
import pytest

from mmib.data.safe_pickle import UnsafePickleError, safe_load
from mmib.data.validate import DataError


class _System:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class _Open:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


class _Subprocess:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (subprocess.call, (["touch", str(self.target)],))


class _Eval:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (eval, (f"open({str(self.target)!r}, 'w')",))


@pytest.mark.parametrize("payload", [_System, _Open, _Subprocess, _Eval])
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, payload, protocol):
    target = tmp_path / "pwned"
    # hidden inside an otherwise normal-looking feature file, after a real array
    data = {"train": {"audio": np.zeros((2, 3, 4), np.float32), "x": payload(target)}}
    f = tmp_path / "evil.pkl"
    f.write_bytes(pickle.dumps(data, protocol=protocol))
    with pytest.raises(UnsafePickleError) as e:
        safe_load(f)
    msg = str(e.value)
    assert str(f) in msg and "refused to load global" in msg and "nothing in the file was executed" in msg
    assert not target.exists()


def test_refusal_names_the_global(tmp_path):
    f = tmp_path / "evil.pkl"
    f.write_bytes(pickle.dumps(_System(tmp_path / "x"), protocol=2))
    with pytest.raises(UnsafePickleError, match=r"(posix|nt)\.system"):
        safe_load(f)


def test_attribute_path_on_allowed_module_is_refused(tmp_path):
    # protocol 4 names may be dotted paths (numpy.ndarray.tofile): only exact table entries resolve
    f = tmp_path / "evil.pkl"
    f.write_bytes(b"\x80\x04\x8c\x05numpy\x8c\x0endarray.tofile\x93.")
    with pytest.raises(UnsafePickleError, match="numpy.ndarray.tofile"):
        safe_load(f)


def test_codecs_other_than_latin1_are_refused(tmp_path):
    f = tmp_path / "c.pkl"
    # _codecs.encode('x', 'rot13') via GLOBAL + REDUCE (protocol 0 text opcodes)
    f.write_bytes(b"c_codecs\nencode\n(Vx\nVrot13\ntR.")
    with pytest.raises(DataError, match="rot13"):
        safe_load(f)


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_and_plain_data_round_trip(tmp_path, protocol):
    obj = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "f64": np.array([np.nan, -np.inf, 1.5]),
        "i64": np.arange(3),
        "obj": np.array(["a", b"b", ("v", 1.0)], dtype=object),
        "uni": np.array(["word", "wörd"]),
        "scalar": np.float32(2.5),
        "list": [1, 2.0, "x", b"y", None, True],
        "tuple": (np.zeros((2, 1)), 3),
        "set": {1, 2},
        "complex": 1 + 2j,
        "dtype": np.dtype("f4"),
    }
    f = tmp_path / "ok.pkl"
    f.write_bytes(pickle.dumps(obj, protocol=protocol))
    got = safe_load(f)
    assert got["f32"].dtype == np.float32 and np.array_equal(got["f32"], obj["f32"])
    assert np.array_equal(got["f64"], obj["f64"], equal_nan=True)
    assert list(got["obj"]) == list(obj["obj"]) and list(got["uni"]) == ["word", "wörd"]
    assert got["scalar"] == np.float32(2.5) and got["list"] == obj["list"] and got["set"] == {1, 2}
    assert got["tuple"][1] == 3 and got["complex"] == 1 + 2j and got["dtype"] == np.dtype("f4")


def test_python2_style_pickle_with_latin1_bytes(tmp_path):
    # Python 2 pickles store array data as `str`; NumPy's advice is encoding="latin1"
    arr = np.array([1.0, 2.0], dtype="<f8")
    raw = arr.tobytes().decode("latin1")
    text = ("cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I0\ntS'b'\ntR(I1\n(I2\ntcnumpy\ndtype\n"
            "(S'f8'\nI0\nI1\ntR(I3\nS'<'\nNNNI-1\nI-1\nI0\ntbI00\n")
    payload = text.encode("latin1") + b"S" + repr(raw).encode("latin1") + b"\ntb."
    f = tmp_path / "py2.pkl"
    f.write_bytes(payload)
    assert np.array_equal(safe_load(f), arr)


def test_truncated_file_gives_a_clear_error(tmp_path):
    data = pickle.dumps({"train": np.zeros((50, 50))}, protocol=4)
    f = tmp_path / "cut.pkl"
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.pkl: cannot read it as a pickle \(truncated"):
        safe_load(f)


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00garbage", b"hello world, not a pickle", b"\x80\x09xx"])
def test_garbage_file_gives_a_clear_error(tmp_path, content):
    f = tmp_path / "junk.pkl"
    f.write_bytes(content)
    with pytest.raises(DataError, match=r"junk\.pkl: cannot read it as a pickle"):
        safe_load(f)


def test_empty_and_missing_files(tmp_path):
    f = tmp_path / "empty.pkl"
    f.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        safe_load(f)
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        safe_load(tmp_path / "nope.pkl")


# ----------------------------------------------------------------------------- hostile NumPy pickles

class _Reduce:
    """Pickles as ``fn(*args)`` (then BUILD(state) when given): how a hostile file is made."""

    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


def _np_attr(name):
    from mmib.data.safe_pickle import np as _np  # the same NumPy

    core = getattr(_np, "_core", None) or _np.core
    return getattr(core.multiarray if name != "_frombuffer" else core.numeric, name)


def _nested(depth):
    x = []
    for _ in range(depth):
        x = [x]
    return x


def _laughs():
    x = ["lol"] * 10
    for _ in range(9):
        x = [x] * 10  # shared references: a tiny file that expands to 10^10 values
    return x


HOSTILE = {
    # numpy.ndarray(shape, object dtype, raw bytes): an object array over attacker-chosen pointers
    "ndarray-call": lambda: _Reduce(np.ndarray, ((96,), np.dtype("O"), b"AAAAAAAA" * 96)),
    # the reconstruct path with an object dtype and bytes as its data
    "reconstruct-object-bytes": lambda: _Reduce(_np_attr("_reconstruct"), (np.ndarray, (0,), b"b"),
                                                (1, (96,), np.dtype("O"), False, b"A" * 768)),
    "frombuffer-object": lambda: _Reduce(_np_attr("_frombuffer"), (b"A" * 768, np.dtype("O"), (96,), "C")),
    "structured-void-scalar": lambda: _Reduce(_np_attr("scalar"), (np.dtype([("a", "<i4")]), b"\0\0\0\0")),
    "crafted-dtype-state": lambda: _Reduce(np.dtype, ("f8", False, True),
                                           (3, "<", None, ("x",), {"x": (np.dtype("O"), 0)}, 8, 1, 0)),
    "huge-shape": lambda: _Reduce(_np_attr("_reconstruct"), (np.ndarray, (0,), b"b"),
                                  (1, (2**40,), np.dtype("f8"), False, b"\0" * 8)),
    "short-data": lambda: _Reduce(_np_attr("_reconstruct"), (np.ndarray, (0,), b"b"),
                                  (1, (1000,), np.dtype("f8"), False, b"\0" * 8)),
    "billion-laughs": _laughs,
    "deep-nesting": lambda: _nested(300),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_numpy_pickles_are_refused_with_one_line(tmp_path, name):
    f = tmp_path / f"{name}.pkl"
    # placed where a real MMSA file keeps its strings
    f.write_bytes(pickle.dumps({"train": {"raw_text": HOSTILE[name](), "audio": np.zeros((2, 3, 4))}}, protocol=4))
    with pytest.raises(DataError) as e:
        safe_load(f)
    msg = str(e.value)
    assert msg.startswith(f"{f}: ") and "\n" not in msg
    assert "refused" in msg


def test_unknown_codec_and_void_scalar_are_named_errors(tmp_path):
    f = tmp_path / "codec.pkl"
    f.write_bytes(b"c_codecs\nencode\n(Vx\nVno-such-codec\ntR.")
    with pytest.raises(DataError, match=r"codec\.pkl: .*no-such-codec"):
        safe_load(f)


def test_hostile_file_through_the_cli_never_crashes(tmp_path):
    """The issue's minimal form, in a separate process: a crash would be a signal, not rc 1."""
    import sys

    f = tmp_path / "mosi.pkl"
    obj = {s: {"raw_text": HOSTILE["ndarray-call"](), "regression_labels": np.zeros(2)} for s in ("train", "valid", "test")}
    f.write_bytes(pickle.dumps(obj, protocol=4))
    r = subprocess.run([sys.executable, "-m", "mmib", "data", "inspect", str(f)], capture_output=True, text=True)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "numpy.ndarray(...) called directly" in r.stdout
