"""mmib's own corpus file, written by ``mmib data convert``: one ``.safetensors`` file.

Safe by construction (safetensors holds only typed arrays and a JSON header, so loading
never runs code) and fast (no unpickling; fields are read lazily, so a run that uses
token ids never reads the 768-d text features). Layout, per split ``s``:

  ``s.<field>.values`` (sum T, D) and ``s.<field>.lengths`` (N,)   unpadded sequences
  ``s.sentiment`` (N,) float32, ``s.emotions`` (N, K) float32        labels
  ``s.ids.utf8`` / ``s.ids.nbytes``, ``s.raw_text.*``               UTF-8 strings, end to end
  ``s.words.utf8`` / ``s.words.nbytes`` / ``s.words.counts``         words per utterance

and the header's ``__metadata__["mmib"]`` is JSON: format name and version, the original
reader, emotion names, word alignment, provenance of the source file, the repairs made
at conversion, notes, and (files written by ``mmib extract`` or the ``.csd`` reader) the
dataset's own description and how its features were extracted (:class:`Corpus`).
"""

from __future__ import annotations

import errno as _errno
import json
import os
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..corpus import Corpus, CorpusSplit, Ragged
from ..budget import clip, short
from ..validate import SPLITS, DataError, fail

FORMAT, VERSION = "mmib-corpus", 1
_ST_DTYPES = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32", "int16": "I16",
              "int8": "I8", "uint8": "U8", "uint16": "U16", "uint32": "U32", "uint64": "U64", "bool": "BOOL"}


def looks_like_safetensors(path: Path) -> bool:
    """Whether ``path`` is meant as a safetensors file: its name, or its first bytes (a header
    length that fits the file, then ``{``). A pickle never starts that way."""
    if path.suffix == ".safetensors":
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(9)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return False
    return len(head) == 9 and struct.unpack("<Q", head[:8])[0] <= size - 8 and head[8:9] == b"{"


def is_converted(path: Path) -> bool:
    """True when ``path`` is a readable safetensors file carrying mmib corpus metadata."""
    try:
        return looks_like_safetensors(path) and _metadata(path).get("format") == FORMAT
    except (OSError, DataError):
        return False


def _metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types for bad headers
        raise DataError(f"{path}: damaged safetensors header ({type(e).__name__}: {clip(str(e))}); "
                        "expected a file written by `mmib data convert`") from None
    if "mmib" not in meta:
        return {}
    try:
        out = json.loads(meta["mmib"])
    except (json.JSONDecodeError, RecursionError):
        raise DataError(f"{path}: the header's 'mmib' metadata is not valid JSON") from None
    if not isinstance(out, dict):
        raise DataError(f"{path}: the header's 'mmib' metadata is a JSON {type(out).__name__}; expected an object")
    return out


# header field -> (accepted types, what to say)
_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "reader": ((str,), "a reader name"), "emotion_names": ((list,), "a list of emotion names"),
    "word_aligned": ((bool,), "true or false"), "source": ((dict,), "an object"),
    "repairs": ((dict,), "an object of repair counts"), "notes": ((list,), "a list of strings"),
    "dataset": ((dict, type(None)), "an object or null"), "extraction": ((dict, type(None)), "an object or null"),
}


def _check_header(meta: dict[str, Any], path: Path) -> None:
    """Every header field the reader uses, by type; one error naming the field."""
    def bad(field: str, expected: str, got: Any) -> DataError:
        return DataError(f"{path}: header field {field!r}: expected {expected}, got {short(got)}")

    version = meta.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise bad("version", "a format version number", version)
    if version > VERSION:
        raise DataError(f"{path}: written by a newer mmib (corpus format version {version}, "
                        f"this mmib reads up to {VERSION}); upgrade mmib")
    for name, (types, what) in _FIELDS.items():
        if name in meta and not isinstance(meta[name], types):
            raise bad(name, what, meta[name])
    if not all(isinstance(x, str) for x in meta.get("emotion_names", [])):
        raise bad("emotion_names", "a list of strings", meta["emotion_names"])
    if not all(isinstance(x, str) for x in meta.get("notes", [])):
        raise bad("notes", "a list of strings", meta["notes"])
    for field, per in meta.get("repairs", {}).items():
        if not isinstance(per, dict) or not all(isinstance(c, dict) and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in c.values()) for c in per.values()):
            raise bad(f"repairs.{field}", "counts per split {split: {nan: N, ...}}", per)
    splits = meta.get("splits")
    if not isinstance(splits, dict):
        raise bad("splits", "an object with train, valid and test", splits)
    for s in SPLITS:
        if s not in splits:
            raise DataError(f"{path}: split {s!r} is missing from the converted file")
        fields = splits[s].get("fields") if isinstance(splits[s], dict) else None
        if not isinstance(fields, list) or not all(isinstance(x, str) for x in fields):
            raise bad(f"splits.{s}.fields", "a list of field names", fields)


def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    raw = [t.encode("utf-8") for t in texts]
    return np.frombuffer(b"".join(raw), dtype=np.uint8).copy(), np.array([len(b) for b in raw], np.int64)


def _counts(x: np.ndarray, total: int, path: Path, split: str, name: str) -> np.ndarray:
    """Per-item sizes: non-negative integers summing to ``total``."""
    if x.ndim != 1 or x.dtype.kind not in "iu":
        raise fail(path, split, name, None, "(N,) integer sizes", f"shape {x.shape}, dtype {x.dtype}")
    neg = np.flatnonzero(x < 0)
    if len(neg):
        raise fail(path, split, name, int(neg[0]), "a size >= 0", int(x[neg[0]]))
    big = np.flatnonzero(x > max(total, 0))
    if len(big):  # also keeps the sum below from wrapping around
        raise fail(path, split, name, int(big[0]), f"a size <= {total} (the rows there are)", int(x[big[0]]))
    x = x.astype(np.int64)
    if int(x.sum()) != total:
        raise fail(path, split, name, None, f"sizes summing to {total}", f"a sum of {int(x.sum())}")
    return x


def _decode(buf: np.ndarray, nbytes: np.ndarray, path: Path, split: str, name: str) -> list[str]:
    if buf.ndim != 1 or buf.dtype != np.uint8:
        raise fail(path, split, f"{name}.utf8", None, "(bytes,) uint8", f"shape {buf.shape}, dtype {buf.dtype}")
    ends = np.cumsum(_counts(nbytes, len(buf), path, split, f"{name}.nbytes"))
    data = buf.tobytes()
    out = []
    for i, (a, b) in enumerate(zip((ends - nbytes.astype(np.int64)).tolist(), ends.tolist())):
        try:
            out.append(data[a:b].decode("utf-8"))
        except UnicodeDecodeError:
            raise fail(path, split, name, i, "UTF-8 text", "bytes that are not UTF-8") from None
    return out


def _write_safetensors(tensors: dict[str, np.ndarray], metadata: dict[str, str], dest: str) -> None:
    """The safetensors layout written with Python file writes (so a full disk is an OSError
    with its errno), one array at a time (no second copy of the corpus in memory)."""
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for k, a in tensors.items():
        header[k] = {"dtype": _ST_DTYPES[a.dtype.name], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(dest, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for a in tensors.values():
            a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
            if a.nbytes:
                f.write(memoryview(a.reshape(-1).view(np.uint8)))
        f.flush()
        os.fsync(f.fileno())


def write_error(e: BaseException, path: Path) -> OSError:
    """One line for a failed write, naming ``path``: the OS reason when there is one (a Rust or
    C++ library's message carries it as ``os error N``)."""
    if isinstance(e, OSError) and e.errno:
        return OSError(e.errno, f"cannot write it ({e.strerror or os.strerror(e.errno)})", str(path))
    m = re.search(r"os error (\d+)|errno (\d+)", str(e), re.IGNORECASE)
    if m:
        code = int(m.group(1) or m.group(2))
        return OSError(code, f"cannot write it ({os.strerror(code)})", str(path))
    return OSError(_errno.EIO, f"cannot write it ({type(e).__name__}: {clip(str(e))})", str(path))


def write(corpus: Corpus, out: str | Path) -> Path:
    """Write ``corpus`` to ``out`` atomically (a temporary file, then rename); a failure (disk
    full, read-only folder) is one OSError naming ``out``, and no temporary file is left."""
    out = Path(out)
    tensors: dict[str, np.ndarray] = {}
    layout: dict[str, Any] = {}
    for s in SPLITS:
        sp = corpus.splits[s]
        for name, r in sp.fields.items():
            tensors[f"{s}.{name}.values"] = np.ascontiguousarray(r.values)
            tensors[f"{s}.{name}.lengths"] = r.lengths
        if sp.sentiment is not None:
            tensors[f"{s}.sentiment"] = np.ascontiguousarray(sp.sentiment, dtype=np.float32)
        if sp.emotions is not None:
            tensors[f"{s}.emotions"] = np.ascontiguousarray(sp.emotions, dtype=np.float32)
        for name, texts in (("ids", sp.ids), ("raw_text", sp.raw_text)):
            if texts is not None:
                tensors[f"{s}.{name}.utf8"], tensors[f"{s}.{name}.nbytes"] = _encode(texts)
        if sp.words is not None:
            flat = [w for ws in sp.words for w in ws]
            tensors[f"{s}.words.utf8"], tensors[f"{s}.words.nbytes"] = _encode(flat)
            tensors[f"{s}.words.counts"] = np.array([len(ws) for ws in sp.words], np.int64)
        layout[s] = {"n": len(sp), "fields": sorted(sp.fields)}
    meta = {"format": FORMAT, "version": VERSION, "reader": corpus.reader,
            "emotion_names": corpus.emotion_names, "word_aligned": corpus.word_aligned,
            "source": corpus.source, "repairs": corpus.repairs, "notes": corpus.notes, "splits": layout,
            "dataset": corpus.dataset, "extraction": corpus.extraction}
    tmp = out.with_name(out.name + ".tmp")
    try:
        _write_safetensors(tensors, {"mmib": json.dumps(meta)}, str(tmp))
        os.replace(tmp, out)
    except Exception as e:  # noqa: BLE001 - a full disk, a read-only folder, a missing one
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise write_error(e, out) from None
    return out


def read(path: Path, fields: set[str] | None = None) -> Corpus:
    """Read a converted file; ``fields`` limits which feature fields are loaded (None = all).
    Every header field and tensor is checked by name; the values then get the checks every
    format shares (:meth:`Corpus.check`)."""
    from safetensors import safe_open

    meta = _metadata(path)
    if meta.get("format") != FORMAT:
        raise DataError(f"{path}: a safetensors file without mmib corpus metadata; expected a file "
                        "written by `mmib data convert`")
    _check_header(meta, path)
    splits: dict[str, CorpusSplit] = {}
    try:
        with safe_open(str(path), framework="np") as f:
            keys = set(f.keys())

            def get(k: str, required: bool = True) -> np.ndarray | None:
                if k not in keys:
                    if required:
                        raise DataError(f"{path}: tensor {k!r} is missing (the header lists it)")
                    return None
                try:
                    return f.get_tensor(k)
                except Exception as e:  # noqa: BLE001 - a dtype NumPy cannot hold (bf16), a bad slice
                    raise DataError(f"{path}: tensor {k!r} cannot be read ({type(e).__name__}: "
                                    f"{clip(str(e))})") from None

            for s in SPLITS:
                names = [n for n in meta["splits"][s]["fields"] if fields is None or n in fields]
                flds = {}
                for n in names:
                    values, lengths = get(f"{s}.{n}.values"), get(f"{s}.{n}.lengths")
                    lengths = _counts(lengths, len(values) if values.ndim else -1, path, s, f"{n}.lengths")
                    flds[n] = Ragged(values, lengths)
                ids = _decode(get(f"{s}.ids.utf8"), get(f"{s}.ids.nbytes"), path, s, "ids")
                raw = None
                if f"{s}.raw_text.utf8" in keys:
                    raw = _decode(get(f"{s}.raw_text.utf8"), get(f"{s}.raw_text.nbytes"), path, s, "raw_text")
                words = None
                if f"{s}.words.utf8" in keys:
                    flat = _decode(get(f"{s}.words.utf8"), get(f"{s}.words.nbytes"), path, s, "words")
                    ends = np.cumsum(_counts(get(f"{s}.words.counts"), len(flat), path, s, "words.counts")).tolist()
                    words = [flat[a:b] for a, b in zip([0] + ends[:-1], ends)]
                splits[s] = CorpusSplit(ids, flds, get(f"{s}.sentiment", False), get(f"{s}.emotions", False),
                                        raw, words)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - safetensors' own errors on a file that changed while read
        raise DataError(f"{path}: damaged safetensors file ({type(e).__name__}: {clip(str(e))})") from None
    return Corpus(splits, meta.get("reader", "converted"), emotion_names=list(meta.get("emotion_names", [])),
                  word_aligned=bool(meta.get("word_aligned")), source=dict(meta.get("source", {})),
                  repairs=meta.get("repairs", {}), notes=list(meta.get("notes", [])),
                  dataset=dict(meta.get("dataset") or {}), extraction=dict(meta.get("extraction") or {}))
