""":class:`ModelInputs`: what a trained model reads, and every input turned into its examples.

Built from a checkpoint's metadata (its config, the data record: dims, labels, task, the
extraction plan of ``mmib extract``) and a tokenizer loader, without torch, so the PyTorch
:class:`~mmib.engine.Predictor`, the server and the onnxruntime backend share one path from
records, clips, manifests and data files to :class:`~mmib.data.Example`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import config as config_mod
from ..data import DatasetSplits, build_dataset
from ..data.examples import make_example
from ..data.records import read_jsonl, record_example
from ..data.types import Example
from ..extract.manifest import BadRow, Row
from .sources import bad_line, clip_rows, kind_of


@dataclass
class ClipExamples:
    """Examples extracted from clips, the rows that could not be used, and per example what
    was used: ``id``, ``transcript``, ``transcript_source`` (manifest / asr), ``extract_seconds``."""

    examples: list[Example]
    bad: list[BadRow] = field(default_factory=list)
    info: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class InputSet:
    """An input file read for a model: its kind (clip, manifest, jsonl, data), a description
    of the source, the examples, the rows skipped (one line each) and per-example info."""

    kind: str
    source: str
    examples: list[Example]
    skipped: list[str] = field(default_factory=list)
    info: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ModelInputs:
    """A trained model's inputs: ``cfg`` (its resolved config), ``data`` (the checkpoint's data
    record: dataset, task, label_names, dims, extraction, ...), ``where`` (the checkpoint, for
    messages) and ``load_tokenizer`` (called once, on first need; returns None for a model whose
    text path reads vectors)."""

    cfg: config_mod.ExperimentConfig
    data: dict[str, Any]
    where: str
    load_tokenizer: Callable[[], Any]
    _tokenizer: Any = field(default=None, repr=False)
    _tokenizer_loaded: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.cfg.data.truncation == "auto":  # as training applied it (the data file's recommendation)
            self.cfg.data.truncation = str(self.data.get("truncation", "head"))

    # ------------------------------------------------------------------ what the model reads

    @property
    def modalities(self) -> list[str]:
        return list(self.cfg.data.modalities)

    @property
    def dims(self) -> dict[str, int]:
        return dict(self.data["dims"])

    @property
    def label_names(self) -> list[str]:
        return list(self.data["label_names"])

    @property
    def task(self) -> str:
        return str(self.data["task"])

    @property
    def extraction(self) -> dict[str, Any]:
        """How the run's training features were extracted (``mmib extract``); empty when they
        came from a feature file mmib did not make."""
        return dict(self.data.get("extraction") or {})

    def tokenizer(self) -> Any:
        if not self._tokenizer_loaded:
            self._tokenizer = self.load_tokenizer()
            self._tokenizer_loaded = True
        return self._tokenizer

    # ------------------------------------------------------------------ records (JSON)

    def from_records(self, records: list[dict[str, Any]], where: list[str] | None = None) -> list[Example]:
        """JSON-style records (schema in :mod:`mmib.data.records`) -> examples, checked against
        the model's modalities and dims; a bad record raises ValueError naming it and the field."""
        tok = self.tokenizer() if "text" in self.modalities else None
        out = []
        for i, r in enumerate(records):
            name = where[i] if where else f"record {i}"
            if not isinstance(r, dict):
                raise ValueError(f"{name}: expected a JSON object (an utterance), got {type(r).__name__}")
            out.append(record_example(r, name, cfg=self.cfg.data, dims=self.dims, tokenizer=tok,
                                      n_labels=len(self.label_names)))
        return out

    def read_jsonl(self, path: str | Path) -> list[Example]:
        records, where = read_jsonl(path)
        return self.from_records(records, where)

    # ------------------------------------------------------------------ clips

    def plan(self):
        """The extraction plan the run's training data recorded (refuses a run that was not
        trained on features made by ``mmib extract``)."""
        from ..extract.pipeline import Plan

        rec = self.extraction
        if not rec:
            src = self.data.get("source")
            if isinstance(src, dict):
                src = src.get("file") or src.get("converted_file")
            raise ValueError(f"{self.where}: the run was trained on features from {src or self.cfg.data.dataset} "
                             f"(reader {self.data.get('reader', self.cfg.data.dataset)}), not made by "
                             "`mmib extract`, so mmib cannot extract a clip the same way; predict on a data "
                             "file or a JSON-lines file of features instead")
        plan = Plan.from_record(rec, where=self.where)
        lacking = [m for m in self.modalities if m != "text" and m not in plan.modalities]
        if lacking:
            raise ValueError(f"{self.where}: the model uses {lacking} but the run's extraction record has "
                             "no extractor for it")
        return plan

    def from_clips(self, rows: list[Row], *, skip_bad: bool = False) -> ClipExamples:
        """Manifest rows -> examples, each clip extracted with the run's own extractors and
        settings. ``skip_bad``: a clip that cannot be extracted is kept in ``bad`` (its row, id
        and reason) and the others go on; otherwise the first one raises ValueError."""
        from ..extract.pipeline import extract_clip
        from ..extract.registry import ClipError

        plan = self.plan()
        tok = self.tokenizer() if "text" in self.modalities else None
        out = ClipExamples([])
        for row in rows:
            t0 = time.perf_counter()
            try:
                row, heard = self._transcribe(row, plan, tok is not None)
                streams = extract_clip(row.clip, plan, row.words)
            except ClipError as e:
                if not skip_bad:
                    raise ValueError(f"{row.clip.media}: {e}") from None
                out.bad.append(BadRow(row.clip.row, row.clip.id, str(e)))
                continue
            out.examples.append(self._clip_example(row, streams, plan.aligned, tok))
            out.info.append({"id": row.clip.id, "transcript": row.text,
                             "transcript_source": heard.get("text_from") or "manifest",
                             "timings_source": heard.get("timings_from"), "asr_confidence": heard.get("confidence"),
                             "extract_seconds": round(time.perf_counter() - t0, 4)})
        return out

    def _transcribe(self, row: Row, plan: Any, reads_text: bool) -> tuple[Row, dict[str, Any]]:
        """A clip without its transcript (or, for a run aligned on words, its word timings) is
        transcribed as the run's training data were (the recogniser, model and settings its
        extraction recorded); a run extracted without a recogniser needs them given."""
        from ..extract import transcribe
        from ..extract.registry import ClipError

        if not transcribe.needs_asr(row.text if reads_text or plan.aligned else "-", row.words, plan.aligned):
            return row, transcribe.provenance(row)
        if plan.asr is None:
            what = ("transcript (column 'text', or --text for one clip)" if not row.text
                    else "word timings (column 'words', or --words for one clip)")
            raise ClipError(f"no {what}, and the run's data were extracted without a speech recogniser "
                            "(--asr none), so mmib cannot make them the same way: give the transcript with --text"
                            + (" and the word timings with --words" if plan.aligned else ""))
        return transcribe.transcribe_row(row, plan.asr, plan.aligned)

    def _clip_example(self, row: Row, streams: dict[str, Any], aligned: bool, tok: Any) -> Example:
        n = len(self.label_names)
        label = np.full(n, np.nan, np.float32)
        if row.label is not None and self.task == "regression":
            label[:] = float(row.label)  # type: ignore[arg-type]
        elif row.label is not None:
            label = np.array([float(e in row.label) for e in self.label_names], np.float32)  # type: ignore[operator]
        words = [w for w, _, _ in row.words] if aligned and row.words else row.text.split()
        feats = {m: streams[m].values for m in self.modalities if m != "text"}
        masks = {m: streams[m].mask for m in feats if streams[m].mask is not None}
        return make_example(row.clip.id, label, features=feats, max_len=self.cfg.data.max_len,
                            truncation=self.cfg.data.truncation, tokenizer=tok,
                            words=words if tok is not None else None, word_aligned=aligned, text=row.text,
                            masks=masks)

    # ------------------------------------------------------------------ files

    def dataset(self, dataset: str | None = None, path: str | None = None, fmt: str | None = None) -> DatasetSplits:
        """Splits of a data file read with the run's data settings (max_len, labels, ...);
        ``dataset``/``path``/``fmt`` replace the run's. Without them: the run's own data."""
        cfg = self.cfg
        values = {k: v for k, v in (("data.dataset", dataset), ("data.path", path), ("data.format", fmt))
                  if v is not None}
        if values:
            cfg = config_mod.set_values(cfg, values)
        data = build_dataset(cfg.data, self.tokenizer())
        for m in self.modalities:
            if data.dims.get(m) != self.dims.get(m):
                raise ValueError(f"{path or cfg.data.dataset}: modality {m!r} has feature dim {data.dims.get(m)} "
                                 f"but the model was trained on dim {self.dims.get(m)}")
        if len(data.label_names) != len(self.label_names):
            raise ValueError(f"{path or cfg.data.dataset}: labels {data.label_names} do not match the "
                             f"model's {self.label_names}")
        return data

    def read(self, path: str | Path | None, *, text: str | None = None, words: str | None = None,
             fmt: str | None = None, dataset: str | None = None, splits: tuple[str, ...] = ("test",),
             skip_bad: bool = True) -> InputSet:
        """Any input file -> examples, by :func:`~mmib.inputs.sources.kind_of`: a clip (``text``,
        ``words``), a manifest of clips (bad rows skipped and named when ``skip_bad``, else the
        first raises), JSON-lines records, or a data file (``splits`` of it; ``path`` None: the
        run's own data)."""
        kind = "data" if path is None else kind_of(path, fmt)
        if kind in ("clip", "manifest"):
            rows, bad, where = clip_rows(path, text=text, words=words)  # type: ignore[arg-type]
            if bad and (kind == "clip" or not skip_bad):
                raise ValueError(bad_line(bad[0], where) + (" (give the transcript with --text)"
                                                             if kind == "clip" and "transcript" in bad[0].reason
                                                             else ""))
            got = self.from_clips(rows, skip_bad=skip_bad and kind == "manifest")
            skipped = [bad_line(b, where) for b in sorted(bad + got.bad, key=lambda b: b.row)]
            if not got.examples:
                raise ValueError(f"{where}: no clip could be used ({len(skipped)} skipped): "
                                 + (skipped[0] if skipped else "empty"))
            return InputSet(kind, str(path), got.examples, skipped, got.info)
        if kind == "jsonl":
            return InputSet(kind, str(path), self.read_jsonl(path))  # type: ignore[arg-type]
        fmt_ = None if fmt in (None, "jsonl") else fmt
        data = self.dataset(dataset, None if path is None else str(path), fmt_)
        examples = [ex for sp in splits for ex in data.split(sp)]
        return InputSet(kind, f"{path or data.dataset} ({', '.join(splits)} split)", examples)


__all__ = ["ClipExamples", "InputSet", "ModelInputs"]
