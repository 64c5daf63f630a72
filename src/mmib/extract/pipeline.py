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
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..data.corpus import Corpus, CorpusSplit, Ragged
from ..data.readers import converted
from ..data.validate import SPLITS, DataError
from .align import align_to_words, pool
from .manifest import BadRow, Row, read_manifest
from .registry import EXTRACTORS, Clip, ClipError, Stream
from . import transcribe

MODALITIES = ("audio", "visual")


@dataclass
class Plan:
    """How clips are extracted: extractor name per modality (None: not extracted), settings
    overriding the extractors' defaults, aligned (one row per word), max_frames (pooling)."""

    extractors: dict[str, str | None] = field(default_factory=lambda: {"audio": "librosa", "visual": None})
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    aligned: bool = False
    max_frames: int | None = None
    asr: dict[str, Any] | None = None
    """The recogniser's record (:mod:`.transcribe`) for rows without transcripts or word timings."""

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
        rec: dict[str, Any] = {"aligned": self.aligned, "max_frames": self.max_frames, "mmib": mine}
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
                   bool(rec.get("aligned")), rec.get("max_frames"), rec.get("asr"))

    def key(self, row: Row) -> str:
        """A hash of the row and the extraction record: a clip's part is reused only when both match
        (with a recogniser, the transcript too: it decides the word times)."""
        c = row.clip
        stat = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) if p and p.exists() else str(p)
                for p in (c.media, c.video, c.openface)]
        blob = json.dumps([self._record_json, stat, c.start, c.end, row.words]
                          + ([row.text] if self.asr is not None else []), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


def extract_clip(clip: Clip, plan: Plan, words: list[tuple[str, float, float]] | None = None) -> dict[str, Stream]:
    """Every modality of ``plan`` for one clip, aligned on ``words`` when the plan is aligned,
    pooled to ``plan.max_frames``. Raises :class:`ClipError` with the reason."""
    out: dict[str, Stream] = {}
    for m in plan.modalities:
        name = plan.extractors[m]
        spec = EXTRACTORS.get(name)
        if m == "visual" and name != "openface" and clip.video is None:
            clip = Clip(clip.id, clip.media, clip.media, clip.start, clip.end, clip.openface, clip.row)
        s = spec.extract(clip, {**spec.settings, **plan.settings.get(m, {})})
        if len(s.times) == 0:
            raise ClipError(f"no {m} frames (the {name} extractor found nothing to describe)")
        if s.mask is not None and not s.mask.any():
            raise ClipError("no face in any frame" if m == "visual" else f"no valid {m} frame")
        if plan.aligned:
            if not words:
                raise ClipError("no word timings (column 'words'), but the dataset is aligned on words")
            s = align_to_words(s, words)
        out[m] = pool(s, plan.max_frames)
    return out


def _part_path(parts: Path, key: str) -> Path:
    return parts / f"{key}.safetensors"


def _work(row: Row, plan: Plan, parts: Path) -> tuple[int, str | None]:
    """Extract one row into its part file (with where its transcript and word times came
    from, in the part's metadata); (row, None) or (row, reason)."""
    from safetensors.numpy import save_file

    key = plan.key(row)
    try:
        if plan.asr is not None:
            row, info = transcribe.transcribe_row(row, plan.asr, plan.aligned)
        else:
            info = transcribe.provenance(row)
        streams = extract_clip(row.clip, plan, row.words)
    except ClipError as e:
        return row.clip.row, str(e)
    except ImportError:
        raise
    except Exception as e:  # noqa: BLE001 - a clip no check foresaw is reported, not fatal
        return row.clip.row, f"cannot be extracted ({type(e).__name__}: {str(e)[:160]})"
    tensors = {}
    for m, s in streams.items():
        tensors[f"{m}.values"] = s.values
        tensors[f"{m}.mask"] = (np.ones(len(s.times), np.uint8) if s.mask is None else s.mask.astype(np.uint8))
    path = _part_path(parts, key)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    save_file(tensors, str(tmp), metadata={"row": json.dumps(info)})
    os.replace(tmp, path)
    return row.clip.row, None


@dataclass
class Result:
    corpus: Corpus
    out: Path
    bad: list[BadRow]
    extracted: int
    reused: int
    report: Path | None
    transcripts: dict[str, Any] = field(default_factory=dict)
    """Counts of where transcripts and word times came from (:func:`.transcribe.summary`)."""
    transcripts_file: Path | None = None


def extract_manifest(manifest: str | Path, out: str | Path, *, audio: str | None = "librosa",
                     visual: str | None = None, workers: int | None = None, strict: bool = False,
                     max_frames: int | None = None, align: str = "auto", labels: str = "auto",
                     label_range: float = 3.0, emotions: list[str] | None = None, name: str | None = None,
                     settings: dict[str, dict[str, Any]] | None = None, progress: bool = True,
                     asr: str | None = "whisper", asr_model: str | None = None, allow_outside: bool = False) -> Result:
    """Extract every row of ``manifest`` and write the dataset file ``out`` (see the module doc).

    align: auto (on words when every row has word timings or the recogniser gives them),
    words or none. asr: the recogniser (:mod:`.transcribe`) for rows without a transcript
    or word timings (None / "none": every row needs its transcript); asr_model: its model.
    Bad rows and clips are reported and skipped; ``strict`` raises a DataError on the first
    instead."""
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
    plan = Plan({"audio": audio, "visual": visual}, settings or {}, aligned, max_frames, asr_rec)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    todo = [r for r in man.rows if not _part_path(parts, plan.key(r)).exists()]
    failed: dict[int, str] = {}
    bar = None
    if progress and todo:
        from ..progress import Progress

        bar = Progress(total=len(todo), desc="mmib extract", unit="clip", stream=sys.stderr)

    def done(row_no: int, reason: str | None) -> None:
        if bar is not None:
            bar.update(1)
        if reason is not None:
            failed[row_no] = reason
            if strict:
                r = next(x for x in man.rows if x.clip.row == row_no)
                raise DataError(BadRow(row_no, r.clip.id, reason).line(where) + " (--strict)")

    workers = workers or os.cpu_count() or 1
    try:
        if workers == 1 or len(todo) <= 1:
            for r in todo:
                done(*_work(r, plan, parts))
        else:
            import multiprocessing as mp

            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=mp.get_context("spawn")) as ex:
                futs = [ex.submit(_work, r, plan, parts) for r in todo]
                try:
                    for f in as_completed(futs):
                        done(*f.result())
                except BaseException:
                    for f in futs:
                        f.cancel()
                    raise
    finally:
        if bar is not None:
            bar.close()
    by_row = {r.clip.row: r for r in man.rows}
    bad += [BadRow(n, by_row[n].clip.id, why) for n, why in failed.items()]
    bad.sort(key=lambda b: b.row)
    report = out.with_name(out.name + ".report.jsonl")
    if bad:
        report.write_text("".join(json.dumps({"row": b.row, "id": b.id, "reason": b.reason}) + "\n" for b in bad))
    elif report.exists():
        report.unlink()
    for b in bad:
        print(f"mmib extract: skipped {b.line(where)}", file=sys.stderr)
    good = [r for r in man.rows if r.clip.row not in failed]
    keys = {r.clip.row: plan.key(r) for r in good}  # of the manifest's rows, before transcription
    infos = {r.clip.row: _part_info(_part_path(parts, keys[r.clip.row])) or transcribe.provenance(r) for r in good}
    good = transcribe.with_provenance(good, infos, where)
    corpus = _assemble(good, plan, parts, keys, man, name or man.path.stem, where)
    rows_file = transcribe.write_rows(out, good, infos, plan.asr is not None)
    if rows_file is not None:
        corpus.extraction["transcripts"] = transcribe.summary(list(infos.values()))
    converted.write(corpus, out)
    return Result(corpus, out, bad, len(todo) - len(failed), len(man.rows) - len(todo), report if bad else None,
                  corpus.extraction.get("transcripts", {}), rows_file)


def _part_info(path: Path) -> dict[str, Any]:
    """The transcript, word times and their provenance a part file carries."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        info = json.loads((f.metadata() or {}).get("row", "{}"))
    if info.get("words"):
        info["words"] = [tuple(w) for w in info["words"]]
    return info


def _assemble(rows: list[Row], plan: Plan, parts: Path, keys: dict[int, str], man, name: str,
              where: str) -> Corpus:
    from safetensors.numpy import load_file

    splits: dict[str, CorpusSplit] = {}
    for s in SPLITS:
        mine = [r for r in rows if r.split == s]
        if not mine:
            raise DataError(f"{where}: split {s!r} has no usable clip (see the skipped rows above); "
                            "every split needs at least one")
        loaded = [load_file(str(_part_path(parts, keys[r.clip.row]))) for r in mine]
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


__all__ = ["Plan", "Result", "extract_clip", "extract_manifest"]
