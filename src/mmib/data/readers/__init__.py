"""Readers: a data file -> a validated :class:`~mmib.data.corpus.Corpus`.

``READERS`` maps a format name to a :class:`ReaderSpec` (``read(obj, path) -> Corpus`` on the
safely unpickled top level, and ``looks_like(train_split)``); each reader registers itself
in its own file, and every file of this folder is imported, so adding a reader is one new
file (docs/extending.md). The converted format (``mmib data convert``) is recognised from
the file itself. ``load_corpus(path, fmt)`` picks the reader from the file's structure when
``fmt`` is ``auto``, records provenance and prints one line per repaired field.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

from ...registry import import_parts
from ..corpus import Corpus
from ..safe_pickle import safe_load
from ..validate import DataError, RepairLog, describe
from . import converted, textlabels
from .common import get_splits
from .registry import READERS, ReaderSpec


def formats() -> tuple[str, ...]:
    """Every value ``data.format`` accepts: auto, converted, records (text-and-label rows) and
    the registered readers."""
    return ("auto", "converted", *READERS.names(), "records")


def detect(obj: Any, path: Path) -> str:
    """The pickle format whose structure ``obj`` has (looked up on the train split)."""
    train = get_splits(obj, path)["train"]
    for name, spec in sorted(READERS.items(), key=lambda item: item[1].priority):
        if spec.looks_like(train):
            return name
    raise DataError(
        f"{path}: cannot tell the format from its structure: split 'train' is a {describe(train)}. "
        "Expected an MMSA split (dict with regression_labels / text_bert), a Multimodal Transformer "
        "split (dict with text, audio, vision, labels) or a MAG-BERT split (list of ((words, visual, "
        f"acoustic), label, segment)); see docs/datasets.md or set data.format (one of "
        f"{', '.join(formats()[1:])})"
    )


def _guarded(read, path: Path, name: str) -> Any:
    """A reader's result; anything it raises that is not already a DataError becomes one
    naming the file and the reader (a file no check foresaw still gets one clear line)."""
    try:
        return read()
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"{path}: not enough memory to read it with the {name} reader") from None
    except Exception as e:  # noqa: BLE001 - the safety net under every reader's own checks
        raise DataError(f"{path}: the {name} reader cannot use it ({type(e).__name__}: {str(e)[:160]}); "
                        "see docs/datasets.md for the layout it expects") from None


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

def load_corpus(path: str | Path, fmt: str = "auto", *, fields: set[str] | None = None,
                log: bool = True) -> Corpus:
    """Read, validate and repair a data file; ``fmt``: auto, converted or a READERS name.

    ``fields`` (converted files only) limits the feature fields read. Repairs are printed
    to stderr, one line per field.
    """
    path = Path(path).expanduser()
    if fmt not in formats():
        raise DataError(f"data.format: expected one of {', '.join(formats())}, got {fmt!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: data file not found" + (" (it is a directory)" if path.is_dir() else ""))
    stat = path.stat()
    if converted.looks_like_safetensors(path):  # a damaged header is reported as such, not as a pickle
        if not converted.is_converted(path):
            converted.read(path)  # raises the DataError that says what is wrong with it
        if fmt not in ("auto", "converted"):
            raise DataError(f"{path}: a file written by `mmib data convert`, but data.format = {fmt!r}; "
                            "use auto or converted")
        corpus = _guarded(lambda: converted.read(path, fields).check(str(path)), path, "converted")
        corpus.source = {**corpus.source, "converted_file": str(path.resolve()), "converted_sha256": sha256(path)}
        when = " (made when it was converted)"
    elif fmt == "records" or (fmt == "auto" and textlabels.is_records(path)):
        if not textlabels.is_records(path):
            raise DataError(f"{path}: data.format = 'records' reads {', '.join(textlabels.SUFFIXES)} files")
        corpus = _guarded(lambda: textlabels.read(path).check(str(path)), path, "records")
        corpus.source = {"file": str(path.resolve()), "bytes": stat.st_size, "sha256": sha256(path),
                         "reader": "records", "format_detected": fmt == "auto", "release": "unknown"}
        when = ""
    else:
        if fmt == "converted":
            raise DataError(f"{path}: not a file written by `mmib data convert` (data.format = 'converted')")
        obj = safe_load(path)
        name = _guarded(lambda: detect(obj, path), path, "format detection") if fmt == "auto" else fmt
        corpus = _guarded(lambda: READERS.get(name).read(obj, path).check(str(path)), path, name)
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
    return corpus


import_parts(__name__)

__all__ = ["READERS", "ReaderSpec", "detect", "formats", "load_corpus"]
