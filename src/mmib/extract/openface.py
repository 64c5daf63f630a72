"""``openface``: the clip's OpenFace 2 FeatureExtraction CSV as a visual stream.

OpenFace (the field's standard face analyser, a C++ binary users run themselves) writes one
row per video frame: ``frame, face_id, timestamp, confidence, success, gaze_*, pose_*,
landmarks, AU*_r, AU*_c`` with a space after each comma in the header (stripped here). We keep
the 17 action-unit intensities, the 18 action-unit presences, the head pose (translation in mm,
rotation in radians) and the two gaze angles: 43 values per frame (:data:`COLUMNS`).

times: ``timestamp`` in seconds, minus ``clip.start`` when the row has one; rows outside
[start, end) are dropped. mask: ``success == 1`` and ``confidence >= min_confidence``; masked
rows are zero (OpenFace's own values for a lost face are meaningless). Read with the csv
module: no pandas needed. docs/visual_features.md says how to run OpenFace.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from .registry import EXTRACTORS, Clip, ClipError, ExtractorSpec, Stream

AU_INTENSITY = ("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15",
                "AU17", "AU20", "AU23", "AU25", "AU26", "AU45")
AU_PRESENCE = ("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15",
               "AU17", "AU20", "AU23", "AU25", "AU26", "AU28", "AU45")
POSE = ("pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz")
GAZE = ("gaze_angle_x", "gaze_angle_y")
COLUMNS: tuple[str, ...] = (*(f"{a}_r" for a in AU_INTENSITY), *(f"{a}_c" for a in AU_PRESENCE), *POSE, *GAZE)
"""The CSV columns kept, in output order: 17 + 18 + 6 + 2 = 43."""
REQUIRED = ("timestamp", "confidence", "success", *COLUMNS)

SETTINGS: dict[str, Any] = {
    "min_confidence": 0.5,   # OpenFace's tracking confidence below which a frame is masked
    "face_id": 0,            # with several faces per frame (FaceLandmarkVidMulti), the one kept
}


def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ClipError(f"{path}: row {line}, column {column!r}: expected a number, got {text!r}") from None
    if not np.isfinite(v):
        raise ClipError(f"{path}: row {line}, column {column!r}: expected a finite number, got {text!r}")
    return v


def read_csv(path: Path, start: float | None = None, end: float | None = None,
             min_confidence: float = 0.5, face_id: int = 0) -> Stream:
    """An OpenFace 2 CSV -> Stream (T, 43) with times relative to ``start`` and the success mask.
    Raises :class:`ClipError` naming the file and the row or the missing columns."""
    path = Path(path)
    if not path.is_file():
        raise ClipError(f"{path}: OpenFace CSV not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return _read(csv.reader(fh, skipinitialspace=True), path, start, end, min_confidence, face_id)
    except UnicodeDecodeError as e:
        raise ClipError(f"{path}: not a text CSV ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise ClipError(f"{path}: not a readable CSV ({e})") from None


def _read(reader, path: Path, start: float | None, end: float | None, min_confidence: float,
          face_id: int) -> Stream:
    header = [h.strip() for h in next(reader, [])]
    if not header:
        raise ClipError(f"{path}: empty file (expected an OpenFace 2 CSV with a header row)")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ClipError(f"{path}: not an OpenFace 2 CSV: missing columns {', '.join(missing)}")
    where = {c: header.index(c) for c in header}
    idx = [where[c] for c in COLUMNS]
    fid = where.get("face_id")
    t0 = 0.0 if start is None else float(start)
    rows, times, mask = [], [], []
    for line, rec in enumerate(reader, start=2):
        if not rec or all(not x.strip() for x in rec):
            continue
        if len(rec) < len(header):
            raise ClipError(f"{path}: row {line}: {len(rec)} values for {len(header)} columns")
        if fid is not None and int(_number(rec[fid], path, line, "face_id")) != face_id:
            continue
        t = _number(rec[where["timestamp"]], path, line, "timestamp")
        if (start is not None and t < start - 1e-9) or (end is not None and t >= end - 1e-9):
            continue
        ok = (_number(rec[where["success"]], path, line, "success") == 1
              and _number(rec[where["confidence"]], path, line, "confidence") >= min_confidence)
        values = [_number(rec[i], path, line, c) for i, c in zip(idx, COLUMNS)]
        rows.append(values if ok else [0.0] * len(COLUMNS))
        times.append(t - t0)
        mask.append(ok)
    if not rows:
        span = "" if start is None and end is None else f" between {start}s and {end}s"
        raise ClipError(f"{path}: no OpenFace frames{span}" + ("" if fid is None else f" for face_id {face_id}"))
    order = np.argsort(np.asarray(times), kind="stable")
    return Stream(np.asarray(rows, dtype=np.float64)[order], np.asarray(times)[order],
                  np.asarray(mask, dtype=bool)[order])


def extract(clip: Clip, settings: dict[str, Any]) -> Stream:
    s = {**SETTINGS, **settings}
    if clip.openface is None:
        raise ClipError(f"{clip.media}: the 'openface' extractor needs an OpenFace CSV "
                        "(the manifest's 'openface' column is empty for this row)")
    return read_csv(clip.openface, clip.start, clip.end, float(s["min_confidence"]), int(s["face_id"]))


EXTRACTORS.add("openface", ExtractorSpec(
    modality="visual",
    description="OpenFace 2 FeatureExtraction CSV (manifest column 'openface'): 17 AU intensities, "
                "18 AU presences, head pose, gaze angles; mask = success and confidence",
    dim=len(COLUMNS), frame_rate=30.0, feature_names=COLUMNS, extract=extract, settings=dict(SETTINGS)))

__all__ = ["AU_INTENSITY", "AU_PRESENCE", "COLUMNS", "SETTINGS", "extract", "read_csv"]
