"""Readers: a data file -> a validated :class:`~mmib.data.corpus.Corpus`.

``READERS`` maps a format name to ``fn(obj, path) -> Corpus`` for pickle formats (``obj``
is the safely unpickled top level); the converted format is read from the file itself.
``load_corpus(path, fmt)`` picks the reader from the file's structure when ``fmt`` is
``auto``, records provenance, prints one line per repaired field and keeps the last
corpus in memory so that training and the final evaluation read the file once.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any, Callable

from ...registry import Registry
from ..corpus import Corpus
from ..safe_pickle import safe_load
from ..validate import DataError, RepairLog, describe
from . import converted, magbert, mmsa, mult
from .common import get_splits

READERS: Registry[Callable[[Any, Path], Corpus]] = Registry("data format")
READERS.register("mmsa")(mmsa.read)
READERS.register("magbert")(magbert.read)
READERS.register("mult")(mult.read)
FORMATS = ("auto", "converted", *READERS.names())

_DETECTORS = (("mmsa", mmsa.looks_like), ("mult", mult.looks_like), ("magbert", magbert.looks_like))


def detect(obj: Any, path: Path) -> str:
    """The pickle format whose structure ``obj`` has (looked up on the train split)."""
    train = get_splits(obj, path)["train"]
    for name, looks_like in _DETECTORS:
        if looks_like(train):
            return name
    raise DataError(
        f"{path}: cannot tell the format from its structure: split 'train' is a {describe(train)}. "
        "Expected an MMSA split (dict with regression_labels / text_bert), a Multimodal Transformer "
        "split (dict with text, audio, vision, labels) or a MAG-BERT split (list of ((words, visual, "
        "acoustic), label, segment)); see docs/datasets.md or set data.format"
    )


def sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# SHA-256 of feature files as their publishers list them (MMSA README), so provenance can
# say which public release a file is
KNOWN_FILES = {
    "d3994fd25681f9c7ad6e9c6596a6fe9b4beb85ff7d478ba978b124139002e5f9": "MMSA MOSI/Processed/aligned_50.pkl",
    "78e0f8b5ef8ff71558e7307848fc1fa929ecb078203f565ab22b9daab2e02524": "MMSA MOSI/Processed/unaligned_50.pkl",
    "45eccfb748a87c80ecab9bfac29582e7b1466bf6605ff29d3b338a75120bf791": "MMSA MOSEI/Processed/aligned_50.pkl",
    "ad8b23d50557045e7d47959ce6c5b955d8d983f2979c7d9b7b9226f6dd6fec1f": "MMSA MOSEI/Processed/unaligned_50.pkl",
    "c9e20c13ec0454d98bb9c1e520e490c75146bfa2dfeeea78d84de047dbdd442f": "MMSA SIMS/Processed/unaligned_39.pkl",
}

_CACHE: dict[tuple, Corpus] = {}


def load_corpus(path: str | Path, fmt: str = "auto", *, fields: set[str] | None = None,
                log: bool = True) -> Corpus:
    """Read, validate and repair a data file; ``fmt``: auto, converted or a READERS name.

    ``fields`` (converted files only) limits the feature fields read. Repairs are printed
    to stderr, one line per field, when the file is read (not on a cache hit).
    """
    path = Path(path).expanduser()
    if fmt not in FORMATS:
        raise DataError(f"data.format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: data file not found" + (" (it is a directory)" if path.is_dir() else ""))
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, fmt, frozenset(fields) if fields else None)
    if key in _CACHE:
        return _CACHE[key]
    if converted.is_converted(path):
        if fmt not in ("auto", "converted"):
            raise DataError(f"{path}: a file written by `mmib data convert`, but data.format = {fmt!r}; "
                            "use auto or converted")
        corpus = converted.read(path, fields).check(str(path))
        corpus.source = {**corpus.source, "converted_file": str(path.resolve()), "converted_sha256": sha256(path)}
        when = " (made when it was converted)"
    else:
        if fmt == "converted":
            raise DataError(f"{path}: not a file written by `mmib data convert` (data.format = 'converted')")
        obj = safe_load(path)
        name = detect(obj, path) if fmt == "auto" else fmt
        corpus = READERS.get(name)(obj, path).check(str(path))
        del obj
        digest = sha256(path)
        corpus.source = {"file": str(path.resolve()), "bytes": stat.st_size, "sha256": digest, "reader": name,
                         "format_detected": fmt == "auto", "release": KNOWN_FILES.get(digest, "unknown")}
        when = ""
    if log:
        repairs = RepairLog()
        repairs.merge(corpus.repairs)
        for line in repairs.lines(prefix=f"mmib data: {path.name}: "):
            print(line + when, file=sys.stderr, flush=True)
    _CACHE.clear()  # keep one corpus: real files are large
    _CACHE[key] = corpus
    return corpus


__all__ = ["FORMATS", "READERS", "detect", "load_corpus"]
