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

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..corpus import Corpus, CorpusSplit, Ragged
from ..validate import SPLITS, DataError

FORMAT, VERSION = "mmib-corpus", 1


def is_converted(path: Path) -> bool:
    """True when ``path`` is a safetensors file carrying mmib corpus metadata."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return False
            (n,) = struct.unpack("<Q", head)
            if n > 100_000_000:
                return False
            first = f.read(1)
        if first != b"{":
            return False
        return _metadata(path).get("format") == FORMAT
    except (OSError, DataError):
        return False


def _metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for bad headers
        raise DataError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})") from None
    try:
        return json.loads(meta.get("mmib", "{}"))
    except json.JSONDecodeError:
        raise DataError(f"{path}: the 'mmib' metadata is not valid JSON") from None


def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    raw = [t.encode("utf-8") for t in texts]
    return np.frombuffer(b"".join(raw), dtype=np.uint8).copy(), np.array([len(b) for b in raw], np.int64)


def _decode(buf: np.ndarray, nbytes: np.ndarray) -> list[str]:
    data = buf.tobytes()
    ends = np.cumsum(nbytes)
    starts = ends - nbytes
    return [data[a:b].decode("utf-8") for a, b in zip(starts.tolist(), ends.tolist())]


def write(corpus: Corpus, out: str | Path) -> Path:
    """Write ``corpus`` to ``out`` atomically (a temporary file, then rename)."""
    from safetensors.numpy import save_file

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
    save_file(tensors, str(tmp), metadata={"mmib": json.dumps(meta)})
    os.replace(tmp, out)
    return out


def read(path: Path, fields: set[str] | None = None) -> Corpus:
    """Read a converted file; ``fields`` limits which feature fields are loaded (None = all)."""
    from safetensors import safe_open

    meta = _metadata(path)
    if meta.get("format") != FORMAT:
        raise DataError(f"{path}: a safetensors file without mmib corpus metadata; expected a file "
                        "written by `mmib data convert`")
    if meta.get("version", 0) > VERSION:
        raise DataError(f"{path}: written by a newer mmib (corpus format version {meta['version']}, "
                        f"this mmib reads up to {VERSION}); upgrade mmib")
    splits: dict[str, CorpusSplit] = {}
    with safe_open(str(path), framework="np") as f:
        keys = set(f.keys())

        def get(k: str) -> np.ndarray | None:
            return f.get_tensor(k) if k in keys else None

        for s in SPLITS:
            if s not in meta["splits"]:
                raise DataError(f"{path}: split {s!r} is missing from the converted file")
            names = [n for n in meta["splits"][s]["fields"] if fields is None or n in fields]
            flds = {n: Ragged(f.get_tensor(f"{s}.{n}.values"), f.get_tensor(f"{s}.{n}.lengths")) for n in names}
            ids = _decode(f.get_tensor(f"{s}.ids.utf8"), f.get_tensor(f"{s}.ids.nbytes"))
            raw = None
            if f"{s}.raw_text.utf8" in keys:
                raw = _decode(f.get_tensor(f"{s}.raw_text.utf8"), f.get_tensor(f"{s}.raw_text.nbytes"))
            words = None
            if f"{s}.words.utf8" in keys:
                flat = _decode(f.get_tensor(f"{s}.words.utf8"), f.get_tensor(f"{s}.words.nbytes"))
                ends = np.cumsum(f.get_tensor(f"{s}.words.counts")).tolist()
                words = [flat[a:b] for a, b in zip([0] + ends[:-1], ends)]
            splits[s] = CorpusSplit(ids, flds, get(f"{s}.sentiment"), get(f"{s}.emotions"), raw, words)
    return Corpus(splits, meta["reader"], emotion_names=list(meta.get("emotion_names", [])),
                  word_aligned=bool(meta.get("word_aligned")), source=dict(meta.get("source", {})),
                  repairs=meta.get("repairs", {}), notes=list(meta.get("notes", [])),
                  dataset=dict(meta.get("dataset") or {}), extraction=dict(meta.get("extraction") or {}))
