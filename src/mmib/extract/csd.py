"""CMU-MultimodalSDK computational sequences (``.csd``) -> an mmib dataset file.

A ``.csd`` file is HDF5 with one top-level group named after the sequence, holding
``data/<video_id>/features`` (T, D) and ``data/<video_id>/intervals`` (T, 2) in seconds,
and a ``metadata`` group. The SDK distributes CMU-MOSI / MOSEI this way: words (features are
the word strings; ``sp`` marks a pause), COVAREP, FACET / OpenFace, and labels (one interval
per opinion segment; MOSI: the sentiment score, MOSEI: sentiment then six emotions).

:func:`read_csd` builds one utterance per labelled segment (``<video>[<k>]``, as the SDK names
them) either aligned (each modality averaged within each word's interval: the SDK's aligned
layout) or unaligned (each stream's own frames within the segment), assigns splits from the
standard folds (video ids; MOSI's ship with mmib, others from a JSON file) and repairs
non-finite values like the other readers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..data.corpus import Corpus, CorpusSplit, Ragged
from ..data.validate import SPLITS, DataError, RepairLog
from .align import align_to_words
from .registry import Stream

PAUSES = {"sp", "", "sil"}


@dataclass
class Sequence:
    """One computational sequence: name, per-video (features, intervals), metadata."""

    name: str
    videos: dict[str, tuple[np.ndarray, np.ndarray]]
    metadata: dict[str, Any]
    path: Path


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading .csd files needs h5py: install mmib[extract] (pip install 'mmib[extract]')") from None
    return h5py


def load_sequence(path: str | Path) -> Sequence:
    """Read a whole ``.csd`` file; one clear DataError for a layout that is not the SDK's."""
    h5py = _h5py()
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: .csd file not found")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"{path}: not an HDF5 file ({e})") from None
    with f:
        roots = [k for k in f.keys() if isinstance(f[k], h5py.Group)]
        if len(roots) != 1:
            raise DataError(f"{path}: expected one top-level group (the sequence's name), found {roots}")
        root = f[roots[0]]
        if "data" not in root:
            raise DataError(f"{path}: group '{roots[0]}/data' is missing; expected data/<video_id>/features "
                            "and /intervals")
        videos = {}
        for vid, g in root["data"].items():
            for ds in ("features", "intervals"):
                if ds not in g:
                    raise DataError(f"{path}: '{roots[0]}/data/{vid}/{ds}' is missing")
            feats, iv = g["features"][()], np.asarray(g["intervals"][()], dtype=np.float64)
            if iv.ndim != 2 or iv.shape[1] != 2 or len(iv) != len(feats):
                raise DataError(f"{path}: '{roots[0]}/data/{vid}/intervals' has shape {iv.shape}; expected "
                                f"({len(feats)}, 2) start/end seconds, one per feature row")
            videos[vid] = (feats, iv)
        meta: dict[str, Any] = {}
        if "metadata" in root:
            m = root["metadata"]
            meta.update({k: _text(v) for k, v in m.attrs.items()})
            for k, v in m.items():
                if isinstance(v, h5py.Dataset):
                    meta[k] = _text(v[()])
    return Sequence(roots[0], videos, meta, path)


def _text(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray):
        return [_text(x) for x in v.reshape(-1).tolist()] if v.dtype.kind in "OSU" else v.tolist()
    return v.item() if isinstance(v, np.generic) else v


def _words(seq: Sequence, vid: str) -> list[tuple[str, float, float]]:
    feats, iv = seq.videos[vid]
    out = []
    for w, (a, b) in zip(np.asarray(feats).reshape(len(feats), -1)[:, 0].tolist(), iv.tolist()):
        w = w.decode("utf-8", errors="replace") if isinstance(w, bytes) else str(w)
        if w.strip().lower() not in PAUSES and b > a:
            out.append((w.strip(), float(a), float(b)))
    return out


def load_folds(folds: str) -> dict[str, list[str]]:
    """``mosi`` (shipped) or a JSON file {"train": [...], "valid": [...], "test": [...]} of video ids."""
    if folds in ("mosi",):
        data = json.loads(resources.files("mmib.extract").joinpath(f"folds/{folds}.json").read_text())
    else:
        p = Path(folds).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"--folds {folds}: expected 'mosi' or a JSON file of video-id lists")
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise DataError(f"{p}: not valid JSON ({e.msg})") from None
    missing = [s for s in SPLITS if not isinstance(data.get(s), list)]
    if missing:
        raise DataError(f"--folds {folds}: expected lists of video ids under train, valid and test; "
                        f"{missing[0]!r} is missing")
    return {s: [str(v) for v in data[s]] for s in SPLITS} | {"dataset": data.get("dataset")}


def read_csd(*, labels: str | Path, words: str | Path | None = None, audio: str | Path | None = None,
             visual: str | Path | None = None, folds: str = "mosi", aligned: bool = True,
             emotions: list[str] | None = None, sentiment_range: float = 3.0) -> Corpus:
    """The dataset of a set of ``.csd`` files (see the module doc).

    labels: the label sequence (column 0 sentiment; further columns the ``emotions`` given).
    aligned needs ``words``. A video missing from a modality's file is an error naming both."""
    lab = load_sequence(labels)
    seqs = {m: load_sequence(p) for m, p in (("audio", audio), ("visual", visual)) if p is not None}
    wseq = load_sequence(words) if words is not None else None
    if aligned and wseq is None:
        raise DataError("an aligned dataset needs the words .csd (--words), or use --unaligned")
    fold = load_folds(folds)
    split_of = {v: s for s in SPLITS for v in fold[s]}
    emotions = list(emotions or [])
    per: dict[str, dict[str, Any]] = {s: {"ids": [], "text": [], "words": [], "y": [], "f": {}} for s in SPLITS}
    repairs = RepairLog()
    for vid in sorted(lab.videos):
        split = split_of.get(vid)
        if split is None:
            continue
        for src in [*seqs.values(), *([wseq] if wseq else [])]:
            if vid not in src.videos:
                raise DataError(f"{src.path}: video {vid!r} (in {lab.path}) is missing from this file")
        y, seg = lab.videos[vid]
        y = np.asarray(y, np.float64).reshape(len(y), -1)
        if y.shape[1] < 1 + len(emotions):
            raise DataError(f"{lab.path}: '{lab.name}/data/{vid}/features' has {y.shape[1]} columns; expected "
                            f"sentiment and {len(emotions)} emotions")
        vwords = _words(wseq, vid) if wseq else []
        streams = {}
        for m, sq in seqs.items():
            feats, iv = sq.videos[vid]
            feats = repairs.fix(np.asarray(feats, np.float32).reshape(len(feats), -1).copy(), split, m)
            streams[m] = Stream(feats, iv.mean(1))
        for k, (a, b) in enumerate(seg.tolist()):
            ws = [w for w in vwords if a <= (w[1] + w[2]) / 2 < b]
            if aligned and not ws:
                continue  # a segment with no word: nothing to align on
            d = per[split]
            d["ids"].append(f"{vid}[{k}]")
            d["words"].append([w for w, _, _ in ws])
            d["text"].append(" ".join(w for w, _, _ in ws))
            d["y"].append(y[k, : 1 + len(emotions)])
            for m, st in streams.items():
                if aligned:
                    al = align_to_words(st, ws)
                    rows, mask = al.values, al.mask
                else:
                    keep = (st.times >= a) & (st.times < b)
                    rows, mask = st.values[keep], np.ones(int(keep.sum()), bool)
                d["f"].setdefault(m, []).append(rows)
                d["f"].setdefault(f"{m}_mask", []).append(mask.astype(np.uint8))
    splits = {}
    for s in SPLITS:
        d = per[s]
        if not d["ids"]:
            raise DataError(f"{lab.path}: no labelled segment of the {s} fold's videos ({folds}); "
                            "check --folds against the files")
        fields = {}
        for m, sq in seqs.items():
            dim = max((r.shape[1] for r in d["f"][m]), default=0)
            fields[m] = Ragged.from_list(d["f"][m], (dim,), np.float32)
            fields[f"{m}_mask"] = Ragged.from_list(d["f"][f"{m}_mask"], (), np.uint8)
        y = np.asarray(d["y"], np.float32)
        splits[s] = CorpusSplit(d["ids"], fields, y[:, 0], (y[:, 1:] > 0).astype(np.float32) if emotions else None,
                                d["text"], d["words"] if wseq else None)
    name = fold.get("dataset") or Path(labels).stem
    return Corpus(splits, "csd", emotion_names=emotions, word_aligned=aligned,
                  source={s: str(Path(p).resolve()) for s, p in
                          (("labels", labels), ("words", words), ("audio", audio), ("visual", visual)) if p},
                  repairs=repairs.counts, notes=[f"{'aligned on word intervals' if aligned else 'unaligned'}, "
                                                 f"folds {folds}"],
                  dataset={"name": name, "labels": "sentiment", "sentiment_range": sentiment_range,
                           "emotion_names": emotions}).check(str(labels))


__all__ = ["Sequence", "load_folds", "load_sequence", "read_csd"]
