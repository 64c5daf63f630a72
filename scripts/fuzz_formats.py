"""Inputs for ``scripts/fuzz_files.py`` in the formats that are not pickles: converted
``.safetensors`` (byte mutations, bad values, damaged headers), ``.csd`` / HDF5 (links out
of the file, huge declared sizes, compressed data, wrong dtypes) and manifests (JSON lines
and CSV). Each returns (bytes, mutation kind, defect): see scripts/fuzz_inputs.py."""

from __future__ import annotations

import json
import os
import random
import struct
from pathlib import Path

import numpy as np

from fuzz_inputs import mutate_bytes


# ----------------------------------------------------------------------------- converted safetensors

def converted_input(rng: random.Random, seed_path: Path) -> tuple[bytes, str, bool]:
    data = seed_path.read_bytes()
    how = rng.random()
    if how < 0.3:
        out, kind = mutate_bytes(rng, data)
        return out, kind, False
    n = struct.unpack("<Q", data[:8])[0]
    header, body = json.loads(data[8:8 + n]), bytearray(data[8 + n:])
    names = [k for k in header if k != "__metadata__"]
    if how < 0.65:  # bad values in a well-formed file: must never be "no problems"
        pick = {"values": [k for k in names if k.endswith(".values") and header[k]["dtype"] == "F32"],
                "sentiment": [k for k in names if k.endswith(".sentiment")],
                "lengths": [k for k in names if k.endswith(".lengths") or k.endswith(".nbytes")],
                "ids": [k for k in names if k.endswith("text_ids.values")]}
        what = rng.choice([w for w, ks in pick.items() if ks])
        key = rng.choice(pick[what])
        h = header[key]
        a, b = h["data_offsets"]
        count = (b - a) // (4 if h["dtype"] == "F32" else 8)
        if not count:
            return data, f"values-{what}-empty", False
        i = rng.randrange(count)
        if h["dtype"] == "F32":
            bad = {"values": [float("nan"), float("inf"), -float("inf"), 3e38, -1e30, 1e9],
                   "sentiment": [float("nan"), float("inf"), 1e30, -50.0]}[what]
            body[a + 4 * i: a + 4 * i + 4] = struct.pack("<f", rng.choice(bad))
        else:
            bad = {"lengths": [-1, -(2**63), 2**62, 10**9], "ids": [-7, 10**12, 2**40]}[what]
            body[a + 8 * i: a + 8 * i + 8] = struct.pack("<q", rng.choice(bad))
        return data[:8 + n] + bytes(body), f"values-{what}", True
    kind = rng.choice(["dtype", "shape", "offsets", "drop", "meta-field", "meta-deep", "meta-type", "meta-json"])
    key = rng.choice(names)
    meta = header.setdefault("__metadata__", {})
    mm = json.loads(meta.get("mmib", "{}"))
    if kind == "dtype":
        header[key]["dtype"] = rng.choice(["F64", "BF16", "I8", "U8", "BOOL", "F16", "ZZ", 7])
    elif kind == "shape":
        header[key]["shape"] = rng.choice([[2**40], [-1], [0], [3, 2**33], "x", [1] * 40])
    elif kind == "offsets":
        o = header[key]["data_offsets"]
        header[key]["data_offsets"] = [o[0] + rng.choice([-8, 8, 2**40]), o[1]]
    elif kind == "drop":
        del header[key]
    elif kind == "meta-field":
        field = rng.choice(["splits", "reader", "emotion_names", "word_aligned", "source", "repairs", "notes",
                            "dataset", "extraction", "version", "format"])
        mm[field] = rng.choice([None, 1, -3, 2**70, "x", [], {}, [1, 2], {"train": {"fields": 5}},
                                {"a": {"train": {"nan": -1}}}, True, 99])
    elif kind == "meta-deep":
        mm[rng.choice(["source", "notes", "splits"])] = "DEEP"
    elif kind == "meta-type":
        meta["mmib"] = rng.choice(["[]", "1", "null", '"x"', "{"])
    if kind in ("meta-field", "meta-deep"):
        meta["mmib"] = json.dumps(mm).replace('"DEEP"', "[" * 100_000 + "]" * 100_000)
    if kind == "meta-json":
        header["__metadata__"] = rng.choice([[], "x", {"mmib": 5}])
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + bytes(body), f"header-{kind}", False


# ----------------------------------------------------------------------------- .csd / HDF5

_MADE: dict[tuple, bytes] = {}


def csd_input(rng: random.Random, seed_path: Path, folder: Path, labels: Path) -> tuple[bytes, str, bool]:
    how = rng.random()
    if how < 0.3:
        out, kind = mutate_bytes(rng, seed_path.read_bytes())
        return out, kind, False
    kind = rng.choice(["external", "soft-dangling", "soft-inside", "virtual", "huge-shape", "huge-chunk",
                       "compressed", "dtype", "intervals", "missing", "deep-groups", "attribute", "nan"])
    params = (kind, rng.choice([26, 33, 40]), rng.choice([8, 2**20]), rng.randrange(3), rng.choice([50, 500]),
              rng.choice([10, 8000]), rng.randrange(8), rng.randrange(2), rng.choice([np.nan, np.inf, 1e30]))
    if params not in _MADE:  # the structural variants are few: each is made once per process
        _MADE[params] = _make_csd(params, folder, labels)
    return _MADE[params], f"hdf5-{kind}", kind == "nan"


def _make_csd(params: tuple, folder: Path, labels: Path) -> bytes:
    import h5py

    kind, log2, rows, which, depth, attr, r, c, value = params
    tmp = folder / f"made-{os.getpid()}.h5"
    t = np.arange(0, 4, 0.5)
    feats, iv = np.stack([t, t * 2], 1), np.stack([t, t + 0.5], 1)
    with h5py.File(tmp, "w") as f:
        g = f.create_group("COVAREP")
        for vid in ("v0", "v1", "v2", "v3"):
            v = g.create_group(f"data/{vid}")
            v.create_dataset("intervals", data=iv)
            if vid != "v1" or kind in ("deep-groups", "attribute"):
                v.create_dataset("features", data=feats)
        v = g["data/v1"]
        if kind == "external":
            v["features"] = h5py.ExternalLink(str(labels), "/Labels/data/v0/features")
        elif kind == "soft-dangling":
            v["features"] = h5py.SoftLink("/nowhere/features")
        elif kind == "soft-inside":
            v["features"] = h5py.SoftLink("/COVAREP/data/v0/features")
        elif kind == "virtual":
            lay = h5py.VirtualLayout((2, 1), "f8")
            lay[:] = h5py.VirtualSource(str(labels), "/Labels/data/v0/features", shape=(2, 1))
            v.create_virtual_dataset("features", lay)
        elif kind == "huge-shape":
            v.create_dataset("features", shape=(2**log2, 2), dtype="f8", chunks=(1024, 2), compression="gzip")
        elif kind == "huge-chunk":
            v.create_dataset("features", shape=(2**24, 2), dtype="f8", chunks=(2**24, 2), compression="gzip")
        elif kind == "compressed":
            v.create_dataset("features", data=np.zeros((rows, 2)), compression="gzip")
        elif kind == "dtype":
            v.create_dataset("features", data=[np.zeros(8, "i4,f8"), np.array([b"x"] * 8), np.zeros((8, 2), "c16")][which])
        elif kind == "intervals":
            v.create_dataset("features", data=feats)
            del v["intervals"]
            v.create_dataset("intervals", data=[np.zeros((8, 3)), np.zeros(8), np.zeros((2, 2))][which])
        elif kind == "deep-groups":
            g.create_group("/".join(["d"] * depth))
        elif kind == "attribute":
            g.create_group("metadata").attrs.create("big", np.zeros(attr))
        elif kind == "nan":
            bad = feats.copy()
            bad[r, c] = value
            v.create_dataset("features", data=bad)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


# ----------------------------------------------------------------------------- manifests

def manifest_input(rng: random.Random, seed_path: Path) -> tuple[bytes, str, bool, str]:
    """(bytes, kind, defect, suffix): JSON lines or CSV."""
    lines = seed_path.read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    how = rng.random()
    if how < 0.3:
        out, kind = mutate_bytes(rng, seed_path.read_bytes())
        return out, kind, False, ".jsonl"
    kind = rng.choice(["deep", "bignum", "types", "nul", "utf8", "csv", "csv-huge", "label"])
    i = rng.randrange(len(rows))
    if kind == "deep":
        lines[i] = '{"id": ' + "[" * rng.choice([500, 5000, 100_000]) + "]" * 10 + "}"
    elif kind == "bignum":
        lines[i] = '{"id": "x", "label": ' + "9" * 6000 + "}"
    elif kind == "types":
        rows[i][rng.choice(list(rows[i]))] = rng.choice([None, [], {}, [1, [2]], 1e308, True, {"a": "b"}])
        lines[i] = json.dumps(rows[i])
    elif kind == "nul":
        lines[i] = lines[i].replace("good", "go\x00od")
    elif kind == "utf8":
        return "\n".join(lines).encode()[:40] + b"\xff\xfe" + "\n".join(lines).encode()[40:], kind, False, ".jsonl"
    elif kind in ("csv", "csv-huge"):
        keys = list(rows[0])
        text = ",".join(keys) + "\n" + "".join(",".join(str(r[k]) for k in keys) + "\n" for r in rows)
        if kind == "csv-huge":
            text += "u9," + "x" * 200_000 + ",t,1,train\n"
        return text.encode(), kind, False, ".csv"
    elif kind == "label":
        rows[i]["label"] = rng.choice(["nan", "inf", 1e30, -50, "1e999"])
        lines[i] = json.dumps(rows[i])
        return "\n".join(lines).encode(), kind, True, ".jsonl"
    return "\n".join(lines).encode(), f"json-{kind}", False, ".jsonl"


__all__ = ["converted_input", "csd_input", "manifest_input"]
