"""Text-and-label records: a JSON-lines (``.jsonl``) or CSV (``.csv``, ``.tsv``) file with one
utterance per row -> a :class:`~mmib.data.corpus.Corpus` (``data.format = "records"``, picked
automatically from the suffix). No media and no features are needed (docs/datasets.md).

Fields per row:
  ``id``      optional string (default ``row<N>``)
  ``text``    the transcript, a non-empty string
  ``label``   a number (a sentiment score), a class name (single-label classes: one per row),
              or a list of class names (multi-label emotions; ``[]`` = none present). CSV cells:
              a number is a score, ``["a", "b"]`` (JSON) a list, anything else a class name.
  ``split``   train, valid (or dev, val) or test
  ``audio`` / ``visual``  optional feature arrays: a list of rows (T, D) or one vector (D,);
              in CSV a JSON list in the cell.

Every row must have the same kind of label and the same feature fields. A malformed row is
one error naming the file, the row (its line number; a CSV header is row 1) and the field.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..corpus import Corpus, CorpusSplit, Ragged
from ..jsonlines import json_lines
from ..validate import SPLITS, DataError

SUFFIXES = {".jsonl": "json", ".csv": ",", ".tsv": "\t"}
SPLIT_NAMES = {"train": "train", "valid": "valid", "dev": "valid", "val": "valid", "test": "test"}
FEATURES = ("audio", "visual")
KIND = {"score": "sentiment", "name": "classes", "names": "emotions"}


def is_records(path: Path) -> bool:
    """Whether ``path`` names a records file (by its suffix)."""
    return Path(path).suffix.lower() in SUFFIXES


def _bad(path: Path, row: int, field: str, expected: str, got: Any) -> DataError:
    shown = repr(got) if isinstance(got, str) else f"{type(got).__name__} {got!r}" if got is not None else "nothing"
    return DataError(f"{path}: row {row}, field {field!r}: expected {expected}, got {shown[:80]}")


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any], bool]]:
    """(row number, record, from CSV) for each non-empty row."""
    kind = SUFFIXES[path.suffix.lower()]
    if kind == "json":
        for n, rec in json_lines(path, label=lambda p, n: f"{p}: row {n}"):
            yield n, rec, False
        return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8") from None
    reader = csv.DictReader(text.splitlines(), delimiter=kind)
    missing = [c for c in ("text", "label", "split") if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"{path}: row 1 (the header): expected the columns text, label and split (id, audio, "
                        f"visual optional), missing {', '.join(missing)}; the header is {reader.fieldnames}")
    for rec in reader:
        if any((v or "").strip() for v in rec.values() if isinstance(v, str)):
            yield reader.line_num, rec, True


def _label(value: Any, path: Path, row: int, from_csv: bool) -> tuple[str, Any]:
    """(kind, value): ``score`` float, ``name`` str or ``names`` list of str."""
    expected = "a label: a number (score), a class name or a list of class names"
    if from_csv and isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise _bad(path, row, "label", "a JSON list of class names", value) from None
        elif value:
            try:
                value = float(value)
            except ValueError:
                pass
    if isinstance(value, bool) or value is None or value == "":
        raise _bad(path, row, "label", expected, value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise _bad(path, row, "label", "a finite score", value)
        return "score", float(value)
    if isinstance(value, str):
        return "name", value.strip()
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return "names", sorted({v.strip() for v in value})
    raise _bad(path, row, "label", expected, value)


def _features(value: Any, path: Path, row: int, field: str, from_csv: bool) -> np.ndarray:
    if from_csv and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise _bad(path, row, field, "a JSON list of numbers or of rows of numbers", value) from None
    try:
        x = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise _bad(path, row, field, "a list of numbers or of rows of numbers", value) from None
    x = x[None, :] if x.ndim == 1 else x
    if x.ndim != 2 or x.size == 0:
        raise _bad(path, row, field, "(T, D) rows or one (D,) vector of numbers", f"shape {x.shape}")
    if not np.isfinite(x).all():
        raise _bad(path, row, field, "finite numbers", "NaN or inf")
    return x


def read(path: str | Path) -> Corpus:
    """Read and check a records file (the module docstring)."""
    path = Path(path)
    parts: dict[str, dict[str, list[Any]]] = {s: {"ids": [], "text": [], "label": [], **{f: [] for f in FEATURES}}
                                              for s in SPLITS}
    first: tuple[int, str, set[str], dict[str, int]] | None = None
    for row, rec, from_csv in _rows(path):
        split = str(rec.get("split") or "").strip()
        if split.lower() not in SPLIT_NAMES:
            raise _bad(path, row, "split", "train, valid (or dev, val) or test", rec.get("split"))
        text = rec.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad(path, row, "text", "a non-empty string (the transcript)", text)
        kind, label = _label(rec.get("label"), path, row, from_csv)
        feats = {f: _features(rec[f], path, row, f, from_csv) for f in FEATURES
                 if rec.get(f) not in (None, "")}
        if first is None:
            first = (row, kind, set(feats), {f: x.shape[1] for f, x in feats.items()})
        r0, kind0, fields0, dims0 = first
        if kind != kind0:
            raise _bad(path, row, "label", f"a {KIND[kind0]} label like row {r0} ({kind0.replace('name', 'class name')})",
                       label)
        if set(feats) != fields0:
            raise _bad(path, row, ", ".join(sorted(fields0 ^ set(feats))),
                       f"the feature fields of row {r0} ({sorted(fields0) or 'none'})", sorted(feats))
        for f, x in feats.items():
            if x.shape[1] != dims0[f]:
                raise _bad(path, row, f, f"feature dim {dims0[f]} (as in row {r0})", f"dim {x.shape[1]}")
        part = parts[SPLIT_NAMES[split.lower()]]
        uid = rec.get("id")
        part["ids"].append(f"row{row}" if uid in (None, "") else str(uid))
        part["text"].append(text.strip())
        part["label"].append(label)
        for f, x in feats.items():
            part[f].append(x)
    if first is None:
        raise DataError(f"{path}: no rows; expected one utterance per row with text, label and split")
    kind = first[1]
    names: list[str] = []
    if kind != "score":
        every = [lab for s in SPLITS for lab in parts[s]["label"]]
        names = sorted({n for lab in every for n in ([lab] if kind == "name" else lab)})
    splits = {}
    for s in SPLITS:
        p = parts[s]
        if not p["ids"]:
            raise DataError(f"{path}: split {s!r} has no rows; expected rows with split = train, valid (or dev, "
                            "val) and test")
        fields = {f: Ragged.from_list(p[f], (first[3][f],), np.float32) for f in first[2]}
        sentiment = emotions = None
        if kind == "score":
            sentiment = np.asarray(p["label"], dtype=np.float32)
        else:
            emotions = np.zeros((len(p["ids"]), len(names)), dtype=np.float32)
            for i, lab in enumerate(p["label"]):
                emotions[i, [names.index(n) for n in ([lab] if kind == "name" else lab)]] = 1.0
        splits[s] = CorpusSplit(p["ids"], fields, sentiment, emotions, raw_text=p["text"],
                                words=[t.split() for t in p["text"]])
    described = {"name": path.stem, "labels": KIND[kind], "sentiment_range": None, "emotion_names": names}
    return Corpus(splits, "records", emotion_names=names, dataset=described,
                  notes=[f"text and labels read from records ({path.suffix.lower()[1:]}); "
                         f"labels: {KIND[kind]}" + (f" ({', '.join(names)})" if names else "")])


__all__ = ["SUFFIXES", "is_records", "read"]
