"""Hostile and careless inputs for ``scripts/fuzz_files.py``, one generator per layout.

Input ``i`` of a layout is a pure function of (seed, layout, i), so any input a run reports
can be made again (``python scripts/fuzz_files.py --show LAYOUT I``). Each generator writes
the file into a folder and returns (path, mutation kind, defect): ``defect`` is True when the
mutation put bad values into otherwise well-formed data, so the file must not load with
"no problems".
"""

from __future__ import annotations

import functools
import json
import pickle
import random
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

LAYOUTS = ("mmsa", "mult", "magbert", "converted", "csd", "manifest")
HOLE = "@@HOLE@@"


# ----------------------------------------------------------------------------- seeds (valid files)

def seeds(folder: Path) -> dict[str, Path]:
    """One small valid file per layout (and the folds / labels the .csd inputs need)."""
    from fixtures_data import write_magbert, write_mmsa, write_mult

    from mmib.data.readers import converted, load_corpus

    folder.mkdir(parents=True, exist_ok=True)
    out = {"mmsa": write_mmsa(folder / "mmsa.pkl", sizes=(3, 2, 2), text_len=14, steps=(30, 24), aligned=False),
           "mult": write_mult(folder / "mult.pkl", sizes=(3, 2, 2)),
           "magbert": write_magbert(folder / "magbert.pkl", sizes=(3, 2, 2))}
    out["converted"] = converted.write(load_corpus(out["mmsa"], log=False), folder / "conv.safetensors")
    vids = {"train": ["v0", "v1"], "valid": ["v2"], "test": ["v3"]}
    (folder / "folds.json").write_text(json.dumps(vids))
    out["folds"] = folder / "folds.json"
    out["labels"] = _csd(folder / "labels.csd", "Labels", {v: (np.array([[1.5], [-2.0]]), [[0, 2], [2, 4]])
                                                           for v in sum(vids.values(), [])})
    t = np.arange(0, 4, 0.5)
    out["csd"] = _csd(folder / "audio.csd", "COVAREP", {v: (np.stack([t, t * 2], 1), np.stack([t, t + 0.5], 1))
                                                        for v in sum(vids.values(), [])})
    rows = [{"id": f"u{i}", "media": f"clip{i}.wav", "text": "a good movie", "label": 1.5 - i,
             "split": ["train", "train", "valid", "test"][i], "start": 0.5, "end": 2.0,
             "words": "a:0.5:0.7 good:0.7:1.0"} for i in range(4)]
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out["manifest"] = folder / "manifest.jsonl"
    return out


def _csd(path: Path, name: str, videos: dict, **kw) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        g = f.create_group(name)
        for vid, (feats, iv) in videos.items():
            v = g.create_group(f"data/{vid}")
            v.create_dataset("features", data=np.asarray(feats, np.float64), **kw)
            v.create_dataset("intervals", data=np.asarray(iv, np.float64))
        g.create_group("metadata").attrs["root name"] = name
    return path


# ----------------------------------------------------------------------------- byte mutations

def mutate_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    b = bytearray(data)
    for _ in range(rng.randint(0, 8)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    kind = rng.choice(["flips", "cut", "insert", "repeat"])
    if kind == "cut":
        b = b[: rng.randint(0, len(b))]
    elif kind == "insert":
        i = rng.randint(0, len(b))
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == "repeat":
        i = rng.randrange(len(b))
        b[i:i] = b[i: i + rng.randint(1, 256)]
    return bytes(b), f"bytes-{kind}"


# ----------------------------------------------------------------------------- hostile pickle payloads

class _Reduce:
    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


_CORE = getattr(np, "_core", None) or np.core


def _objarr(items: list) -> _Reduce:
    return _Reduce(_CORE.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                   (1, (len(items),), np.dtype("O"), False, list(items)))


def _body(obj) -> bytes:
    """Protocol-2 opcodes pushing ``obj`` (no PROTO, no STOP), to splice into another pickle."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 30_000))
    try:
        return pickle.dumps(obj, protocol=2)[2:-1]
    finally:
        sys.setrecursionlimit(old)


def _str(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def payload(rng: random.Random) -> tuple[bytes, str]:
    """Opcodes pushing one hostile value: deep nesting, shared references, huge declared sizes."""
    kind = rng.choice(["deep-list", "deep-tuple", "deep-dict", "deep-objarray", "deep-tuple-key", "laughs",
                       "shared-list-arrays", "huge-shape", "bytes-call", "bytearray8", "binbytes8", "frame",
                       "frombuffer-shape", "dtype-elsize", "set-of-shared"])
    d = rng.choice([50, 99, 101, 150, 1000, 5000, 20000])
    if kind == "deep-list":
        return b"]" * d + b"a" * (d - 1), kind
    if kind == "deep-tuple":
        return b")" + b"\x85" * d, kind
    if kind == "deep-dict":
        return (b"}" + _str("k")) * d + b"N" + b"s" * d, kind
    if kind == "deep-tuple-key":
        return b"}" + b")" + b"\x85" * d + b"K\x01s", kind
    if kind in ("deep-objarray", "laughs", "shared-list-arrays"):
        return _made(kind, d, rng.randint(3, 12), rng.choice([1000, 100_000]), rng.choice([10, 2000])), kind
    size = 2 ** rng.choice([20, 31, 33, 40, 62])
    if kind == "huge-shape":
        return _body(_Reduce(_CORE.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                             (1, (size,), np.dtype(rng.choice(["f8", "O", "U1"])), False, b"\0" * 8))), kind
    if kind == "bytes-call":
        return _body(_Reduce(rng.choice([bytes, bytearray]), (size,))), kind
    if kind == "bytearray8":
        return b"\x96" + struct.pack("<Q", size) + b"\0" * 8, kind
    if kind == "binbytes8":
        return b"\x8e" + struct.pack("<Q", size) + b"\0" * 8, kind
    if kind == "frame":
        return b"\x95" + struct.pack("<Q", size) + b"N", kind
    if kind == "frombuffer-shape":
        return _body(_Reduce(_CORE.numeric._frombuffer, (b"\0" * 8, np.dtype("f8"), (size,), "C"))), kind
    if kind == "dtype-elsize":
        return _body(_Reduce(np.dtype, ("U8", False, True), (3, "<", None, None, None, size, 1, 8))), kind
    big = list(range(1000))
    return _body([set(big)] + [big] * 1000), kind


@functools.lru_cache(maxsize=64)
def _made(kind: str, depth: int, levels: int, width: int, arrays: int) -> bytes:
    """The costly payloads, made once per process for each set of parameters."""
    if kind == "deep-objarray":
        x: object = 1
        for _ in range(min(depth, 5000)):
            x = _objarr([x])
        return _body(x)
    if kind == "laughs":
        x = ["lol"] * 10
        for _ in range(levels):
            x = [x] * 10
        return _body(x)
    big = list(range(width))
    return _body([_objarr([big]) for _ in range(arrays)])


def _hole_in(obj, rng: random.Random):
    """``obj`` with one value replaced by the HOLE marker (where a real file keeps data)."""
    places = []

    def walk(x):
        if isinstance(x, dict):
            for k in x:
                places.append((x, k))
                walk(x[k])
        elif isinstance(x, list):
            for i in range(min(len(x), 3)):
                places.append((x, i))
                walk(x[i])
        elif isinstance(x, tuple):
            for v in x[:3]:
                walk(v)

    walk(obj)
    container, key = rng.choice(places)
    container[key] = HOLE
    return obj


@functools.lru_cache(maxsize=8)
def _standard(seed_path: str) -> bytes:
    from mmib.data.safe_pickle import safe_load

    return pickle.dumps(safe_load(seed_path), protocol=5)


def pickle_input(rng: random.Random, seed_path: Path) -> tuple[bytes, str, bool]:
    how = rng.random()
    if how < 0.4:
        data, kind = mutate_bytes(rng, seed_path.read_bytes())
        return data, kind, False
    obj = pickle.loads(_standard(str(seed_path)))  # a fresh copy of the seed's structure
    if how < 0.7:  # bad values in a well-formed file
        return pickle.dumps(_defect(obj, rng), protocol=rng.randint(0, 5)), "values", False
    hole = pickle.dumps(_hole_in(obj, rng), protocol=2)
    body, kind = payload(rng)
    marker = _str(HOLE)
    i = hole.index(marker)
    return hole[:i] + body + hole[i + len(marker):], f"hostile-{kind}", False


def _defect(obj, rng: random.Random):
    """A value replaced in place: NaN / inf / huge numbers, wrong types, deleted keys, reshapes."""
    arrays = []

    def walk(x):
        if isinstance(x, dict):
            for k, v in list(x.items()):
                arrays.append((x, k))
                walk(v)
        elif isinstance(x, list):
            for i, v in enumerate(x[:3]):
                arrays.append((x, i))
                walk(v)

    walk(obj)
    for _ in range(rng.randint(1, 3)):
        c, k = rng.choice(arrays)
        if (k not in c) if isinstance(c, dict) else (k >= len(c)):
            continue  # removed by an earlier change
        v = c[k]
        choice = rng.choice(["nan", "huge", "neg", "delete", "type", "reshape"])
        if isinstance(v, np.ndarray) and v.size and v.dtype.kind in "fiu" and choice in ("nan", "huge", "neg"):
            v = v.astype(np.float64)
            v.reshape(-1)[rng.randrange(v.size)] = {"nan": np.nan, "huge": rng.choice([1e30, np.inf, 3e38, 1e12]),
                                                    "neg": -7}[choice]
            c[k] = v
        elif choice == "delete" and isinstance(c, dict):
            del c[k]
        elif choice == "reshape" and isinstance(v, np.ndarray) and v.size:
            c[k] = v.reshape(-1)[: rng.randint(0, v.size)]
        else:
            c[k] = rng.choice([None, "x", -1, 2**70, [], {}, np.zeros((2, 2, 2)), np.array(["a", "b"])])
    return obj


__all__ = ["LAYOUTS", "mutate_bytes", "payload", "pickle_input", "seeds"]
