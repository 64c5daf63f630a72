"""What a file given to a trained model is, and the clips it names.

:func:`kind_of` decides once, for every front end (``mmib predict``, the server, the
onnxruntime backend), whether a path is a media clip, a manifest of clips, a JSON-lines file
of utterance records or a data file in one of the formats :mod:`mmib.data` reads.
:func:`clip_rows` turns one clip (with an optional transcript and word timings) or a manifest
into checked manifest rows, with the rows that cannot be used kept apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..extract.manifest import BadRow, Row, check_records, read_manifest

MEDIA = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".wav", ".flac", ".mp3", ".m4a", ".ogg",
                   ".aac", ".opus"})
"""File suffixes read as one media clip (a video with sound, or an audio file)."""

KINDS = ("clip", "manifest", "jsonl", "data")


def is_media(path: str | Path) -> bool:
    return Path(path).suffix.lower() in MEDIA


def _first_line(p: Path) -> str | None:
    try:
        with open(p, encoding="utf-8") as f:
            return f.readline()
    except (OSError, UnicodeDecodeError):
        return None


def is_manifest(path: str | Path) -> bool:
    """A .csv / .jsonl whose first row names a ``media`` column (clips to extract)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        return False
    first = _first_line(p)
    if first is None:
        return False
    if suffix == ".csv":
        return "media" in [c.strip() for c in first.strip().split(",")]
    try:
        rec = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(rec, dict) and "media" in rec


def kind_of(path: str | Path, fmt: str | None = None) -> str:
    """``clip``, ``manifest``, ``jsonl`` (utterance records) or ``data`` (a feature file, or
    text-and-label records with a ``split`` per row);
    ``fmt`` = ``jsonl`` forces records, any other format name forces a data file."""
    if fmt == "jsonl":
        return "jsonl"
    if fmt is not None:
        return "data"
    if is_media(path):
        return "clip"
    if is_manifest(path):
        return "manifest"
    if str(path).lower().endswith(".jsonl") and not _has_split(Path(path)):
        return "jsonl"
    return "data"


def _has_split(p: Path) -> bool:
    """A .jsonl whose first row has a ``split``: a dataset of text-and-label records
    (docs/datasets.md), not utterances to predict."""
    first = _first_line(p)
    try:
        rec = json.loads(first) if first else None
    except json.JSONDecodeError:
        return False
    return isinstance(rec, dict) and "split" in rec


def clip_rows(path: str | Path, *, text: str | None = None, words: str | None = None,
              labeled: bool = False, **manifest_kw: Any) -> tuple[list[Row], list[BadRow], Path]:
    """One media file (``text`` / ``words``: its transcript and ``word:start:end`` timings)
    or a manifest -> (usable rows, rows that cannot be used, the manifest or clip path)."""
    p = Path(path).expanduser()
    if is_media(p):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: clip not found")
        rec = {"id": p.stem, "media": p.name, "text": text or "", "words": words or ""}
        m = check_records([(1, rec)], p, labeled=labeled, **manifest_kw)
        return m.rows, m.bad, p
    m = read_manifest(p, labeled=labeled, **manifest_kw)
    return m.rows, m.bad, m.path


def bad_line(bad: BadRow, where: Path) -> str:
    """One line for a row that cannot be used: ``clip: reason`` for a single clip, else
    ``manifest:line: id: reason``."""
    if is_media(where):
        return f"{where}: {bad.reason}"
    return bad.line(str(where))


__all__ = ["KINDS", "MEDIA", "bad_line", "clip_rows", "is_manifest", "is_media", "kind_of"]
