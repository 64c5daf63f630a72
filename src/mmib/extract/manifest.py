"""The manifest of ``mmib extract``: one row per utterance, CSV or JSON lines.

Columns: ``id``, ``media`` (a video with sound, or an audio file), ``label`` (a sentiment
score, or emotion names separated by ``;``), ``split`` (train / valid / test); optional
``text`` (the transcript: without it the recogniser of :mod:`.transcribe` makes one),
``video`` (the pictures, for an audio ``media``), ``start`` / ``end`` (seconds within the
files), ``words`` (``word:start:end`` separated by spaces) and ``openface`` (an OpenFace 2
CSV for the clip). Relative paths resolve against the manifest's folder, and every path must
stay inside it unless ``allow_outside``. A row that cannot be used is kept as a
:class:`BadRow` with its line number and the reason; only a manifest without a required
column (or unreadable), or whose labels mix numbers and names under ``labels="auto"``, is an
error.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.budget import clip as cut, short
from ..data.jsonlines import json_lines
from ..data.validate import SPLITS, DataError
from .registry import Clip

REQUIRED = ("id", "media", "label", "split")
OPTIONAL = ("text", "video", "start", "end", "words", "openface")


@dataclass
class Row:
    """One usable row: the clip, its transcript ("" when the manifest has none: the recogniser
    makes one), words with timings (or None), label, split."""

    clip: Clip
    text: str
    split: str
    label: float | list[str] | None
    words: list[tuple[str, float, float]] | None = None


@dataclass
class BadRow:
    row: int
    id: str
    reason: str

    def line(self, where: str) -> str:
        return f"{where}:{self.row}: {self.id or '(no id)'}: {self.reason}"


@dataclass
class Manifest:
    path: Path
    rows: list[Row]
    bad: list[BadRow]
    labels: str
    """sentiment or emotions."""
    emotion_names: list[str] = field(default_factory=list)
    sentiment_range: float | None = None


def _records(path: Path, required: tuple[str, ...] = REQUIRED) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: manifest not found")
    try:
        if path.suffix.lower() in (".jsonl", ".json"):
            out = list(json_lines(path))
            keys = set().union(*(r.keys() for _, r in out)) if out else set()
        else:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                keys = set(reader.fieldnames or [])
                out = [(n + 2, {k.strip(): v for k, v in r.items() if isinstance(k, str)}) for n, r in enumerate(reader)]
            keys = {k.strip() for k in keys}
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}); save the manifest as UTF-8") from None
    except csv.Error as e:
        raise DataError(f"{path}: not a readable CSV file ({cut(str(e))})") from None
    missing = [c for c in required if c not in keys]
    if missing:
        raise DataError(f"{path}: column {missing[0]!r} is missing; a manifest needs the columns "
                        f"{', '.join(required)} (optional: {', '.join(c for c in REQUIRED + OPTIONAL if c not in required)})")
    if not out:
        raise DataError(f"{path}: no rows; expected one row per utterance")
    return out


def _seconds(value: Any, name: str) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {short(value)} is not a number of seconds") from None
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{name} {short(value)}: expected seconds >= 0")
    return x


def _words(value: Any) -> list[tuple[str, float, float]] | None:
    if value is None or str(value).strip() == "":
        return None
    out = []
    for item in str(value).split():
        parts = item.rsplit(":", 2)
        try:
            w, a, b = parts[0], float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            raise ValueError(f"words: {short(item)} is not word:start:end") from None
        if not w or not b > a >= 0:
            raise ValueError(f"words: {short(item)}: expected a word and 0 <= start < end")
        out.append((w, a, b))
    return out


def _auto_labels(records: list[tuple[int, dict[str, Any]]], where: Path, labeled: bool) -> str:
    """sentiment when every label is a number, emotions when none is; a mix is an error naming rows."""
    def num(v: Any) -> bool:
        try:
            float(v)
            return True
        except (TypeError, ValueError):
            return False

    given = [(n, r.get("label")) for n, r in records if labeled or str(r.get("label") or "").strip()]
    numbers = [n for n, v in given if num(v)]
    names = [(n, v) for n, v in given if not num(v)]
    if numbers and names:
        def rows(ns: list) -> str:
            return ", ".join(str(x) for x in ns[:5]) + (f" and {len(ns) - 5} more" if len(ns) > 5 else "")
        raise DataError(f"{where}: --labels auto: the labels mix numbers (sentiment scores; rows "
                        f"{rows(numbers)}) and names (emotions; rows "
                        f"{rows([f'{n} {str(v)!r}' for n, v in names])}); fix those rows, or say which "
                        "with --labels sentiment or --labels emotions")
    return "sentiment" if not names else "emotions"


def _inside(base: Path, rel: str, name: str, allow_outside: bool) -> Path:
    """``base / rel``, refused when it leaves the manifest's folder (unless allowed)."""
    p = base / rel
    if not allow_outside:
        try:
            p.resolve().relative_to(base.resolve())
        except ValueError:
            raise ValueError(f"{name} {rel!r} is outside the manifest's folder {base}; move it inside, "
                             "or give --allow-outside") from None
    return p


def read_manifest(path: str | Path, *, labels: str = "auto", label_range: float = 3.0,
                  emotions: list[str] | None = None, labeled: bool = True,
                  allow_outside: bool = False) -> Manifest:
    """Read and check every row; ``labels``: auto (sentiment when every label is a number,
    emotions when none is; a mix is an error), sentiment or emotions; ``emotions``: the
    allowed names (default: every name seen, sorted). ``labeled=False`` (clips to predict):
    only id and media are required; a row without a label gets None and a row without a
    split is a test row. ``allow_outside``: paths may leave the manifest's folder."""
    path = Path(path).expanduser()
    records = _records(path, REQUIRED if labeled else ("id", "media"))
    return check_records(records, path, labels=labels, label_range=label_range, emotions=emotions, labeled=labeled,
                         allow_outside=allow_outside)


def check_records(records: list[tuple[int, dict[str, Any]]], path: Path, *, labels: str = "auto",
                  label_range: float = 3.0, emotions: list[str] | None = None, labeled: bool = True,
                  allow_outside: bool = False) -> Manifest:
    """Check rows given as (line number, dict) as if read from ``path`` (relative paths resolve
    against its folder): the body of :func:`read_manifest`, also used for one clip given on
    the command line or uploaded to the server (:mod:`mmib.inputs`)."""
    if not labeled:
        for _, r in records:
            r["split"] = r.get("split") or "test"
    base = path.parent
    if labels == "auto":
        labels = _auto_labels(records, path, labeled)
    if labels not in ("sentiment", "emotions"):
        raise ValueError(f"--labels: expected auto, sentiment or emotions, got {labels!r}")
    rows: list[Row] = []
    bad: list[BadRow] = []
    seen: set[str] = set()
    names_seen: set[str] = set()
    for n, r in records:
        uid = ""
        try:
            uid = r["id"].strip() if isinstance(r.get("id"), str) else str(r.get("id") or "").strip()
            if not uid:
                raise ValueError("empty id")
            if uid in seen:
                raise ValueError(f"duplicate id {short(uid)} (ids must be unique)")
            split = str(r.get("split") or "").strip()
            if split not in SPLITS:
                raise ValueError(f"split {short(split)}: expected one of {', '.join(SPLITS)}")
            text = " ".join(str(r.get("text") or "").split())
            raw = r.get("label")
            if not labeled and not str(raw or "").strip():
                label: float | list[str] | None = None
            elif labels == "sentiment":
                try:
                    label = float(raw)
                except (TypeError, ValueError):
                    raise ValueError(f"label {short(raw)} is not a number (a sentiment score)") from None
                if not math.isfinite(label) or abs(label) > label_range:
                    raise ValueError(f"label {short(raw)} is outside [-{label_range:g}, {label_range:g}] "
                                     "(--label-range)")
            else:
                label = sorted({x.strip() for x in str(raw or "").split(";") if x.strip()})
                unknown = [x for x in label if emotions is not None and x not in emotions]
                if unknown:
                    raise ValueError(f"label: unknown emotion {short(unknown[0])}; expected names from "
                                     f"{', '.join(emotions or [])} separated by ';'")
            start, end = _seconds(r.get("start"), "start"), _seconds(r.get("end"), "end")
            if start is not None and end is not None and end <= start:
                raise ValueError(f"end {end:g} is not after start {start:g}")
            words = _words(r.get("words"))
            if not text and words:
                text = " ".join(w for w, _, _ in words)
            media = str(r.get("media") or "").strip()
            if not media:
                raise ValueError("empty 'media' (a video with sound or an audio file)")
            media_path = _inside(base, media, "media", allow_outside)
            opt = {k: _inside(base, str(r[k]).strip(), k, allow_outside) for k in ("video", "openface")
                   if str(r.get(k) or "").strip()}
        except (ValueError, TypeError, RecursionError) as e:  # a value of the wrong kind in a JSON row
            bad.append(BadRow(n, cut(uid, 60), str(e) if isinstance(e, ValueError)
                              else f"a value of the wrong kind ({type(e).__name__})"))
            continue
        seen.add(uid)
        if labels == "emotions" and label is not None:
            names_seen.update(label)  # type: ignore[arg-type]
        clip = Clip(uid, media_path, opt.get("video"), start, end, opt.get("openface"), n)
        rows.append(Row(clip, text, split, label, words))
    names = list(emotions) if emotions is not None else sorted(names_seen)
    return Manifest(path, rows, bad, labels, names, label_range if labels == "sentiment" else None)


__all__ = ["BadRow", "Manifest", "Row", "check_records", "read_manifest"]
