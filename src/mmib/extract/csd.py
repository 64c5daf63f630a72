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
import posixpath
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..data.corpus import Corpus, CorpusSplit, Ragged
from ..data.budget import Budget, BudgetExceeded, clip, short
from ..data.validate import SPLITS, DataError, RepairLog
from .align import align_to_words
from .isolate import isolated
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


MAX_GROUP_DEPTH = 16
"""Deepest group nesting read (a .csd file needs 4: sequence, data, video, dataset)."""


def _refuse_links(f: Any, path: Path, allow_links: bool) -> None:
    """External links, soft links that do not resolve inside the file, and virtual datasets
    reading another file are refused by name before anything is read (a value from another
    file would otherwise become a label without a word)."""
    h5py = _h5py()
    links: list[tuple[str, Any]] = []

    def collect(name: str, link: Any) -> str | None:
        if name.count("/") >= MAX_GROUP_DEPTH:
            return name  # stops the visit: deep chains cost time quadratic in their depth
        links.append((name, link))
        return None

    deep = f.visititems_links(collect)  # links are listed, not followed
    if deep is not None:
        raise DataError(f"{path}: '{clip(deep, 60)}' nests groups {MAX_GROUP_DEPTH} or more deep; a .csd file "
                        "holds <sequence>/data/<video>/features: refused")
    if allow_links:
        return

    def refuse(what: str, more: int) -> DataError:
        return DataError(f"{path}: {what}: refused (it would read outside this file"
                         + (f"; {more} more such link(s)" if more else "")
                         + "); pass --allow-links if you trust every file it names")

    ext = [f"'{n}' is an external link to {clip(lk.filename)}:{clip(lk.path)}"
           for n, lk in links if isinstance(lk, h5py.ExternalLink)]
    if ext:
        raise refuse(ext[0], len(ext) - 1)
    for name, lk in links:  # no external link is left, so resolving a soft link stays in the file
        if isinstance(lk, h5py.SoftLink):
            target = lk.path if lk.path.startswith("/") else posixpath.join("/", posixpath.dirname(name), lk.path)
            if f.get(target, getlink=True) is None:
                raise refuse(f"'{name}' is a soft link to '{clip(lk.path)}', which is not in the file", 0)
    virtual: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and obj.is_virtual:
            others = sorted({src.file_name for src in obj.virtual_sources() if src.file_name != "."})
            if others:
                virtual.append(f"'{name}' is a virtual dataset reading {clip(', '.join(others))}")

    f.visititems(visit)
    if virtual:
        raise refuse(virtual[0], len(virtual) - 1)


_CHUNK_BYTES = 16 << 20
"""Most bytes read from one dataset at a time (compressed data is decompressed in these steps)."""


def _read(ds: Any, name: str, path: Path, budget: Budget) -> np.ndarray:
    """A whole dataset, its declared size checked against the file's budget first and read in
    bounded steps along its first axis."""
    shape, dtype = tuple(ds.shape or ()), ds.dtype
    if dtype.kind not in "biufSUO" or dtype.names is not None or dtype.subdtype is not None:
        raise DataError(f"{path}: '{name}' has dtype {dtype}; expected numbers or strings")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    try:
        budget.charge(nbytes, f"'{name}' (declared shape {shape} of {dtype})")
        if ds.chunks is not None:  # HDF5 decompresses a whole chunk to read any part of it
            budget.check(int(np.prod(ds.chunks, dtype=object)) * dtype.itemsize,
                         f"one chunk of '{name}' (chunk shape {ds.chunks})")
    except BudgetExceeded as e:
        raise DataError(f"{path}: refused to read it ({e})") from None
    if not shape:
        return np.asarray(ds[()])
    out = np.empty(shape, dtype=dtype)
    row = max(1, nbytes // max(shape[0], 1))
    step = max(1, _CHUNK_BYTES // row)
    for i in range(0, shape[0], step):
        out[i:i + step] = ds[i:i + step]
    return out


def load_sequence(path: str | Path, *, allow_links: bool = False) -> Sequence:
    """Read a whole ``.csd`` file; one clear DataError for a layout that is not the SDK's, a
    link leaving the file (unless ``allow_links``), data larger than the file's budget, or an
    HDF5 library that hangs or crashes on it (it runs in a child process: :mod:`.isolate`)."""
    h5py = _h5py()
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: .csd file not found")
    name, videos, meta = isolated(lambda: _parse(h5py, path, allow_links), path)  # libhdf5 can hang on damage
    return Sequence(name, videos, meta, path)


def _parse(h5py: Any, path: Path, allow_links: bool) -> tuple[str, dict, dict]:
    budget = Budget(path.stat().st_size)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"{path}: not an HDF5 file ({clip(str(e))})") from None
    try:
        with f:
            _refuse_links(f, path, allow_links)
            seq = _sequence(f, path, budget)
            return seq.name, seq.videos, seq.metadata
    except (DataError, FileNotFoundError):
        raise
    except MemoryError:
        raise DataError(f"{path}: not enough memory to read it") from None
    except Exception as e:  # noqa: BLE001 - HDF5 raises OSError / KeyError / ValueError / RuntimeError on damage
        raise DataError(f"{path}: damaged HDF5 file ({type(e).__name__}: {clip(str(e))})") from None


def _sequence(f: Any, path: Path, budget: Budget) -> Sequence:
    h5py = _h5py()
    roots = [k for k in f.keys() if isinstance(f[k], h5py.Group)]
    if len(roots) != 1:
        raise DataError(f"{path}: expected one top-level group (the sequence's name), found {short(roots)}")
    root = f[roots[0]]
    if "data" not in root or not isinstance(root["data"], h5py.Group):
        raise DataError(f"{path}: group '{roots[0]}/data' is missing; expected data/<video_id>/features "
                        "and /intervals")
    videos = {}
    for vid, g in root["data"].items():
        for ds in ("features", "intervals"):
            if not isinstance(g, h5py.Group) or not isinstance(g.get(ds), h5py.Dataset):
                raise DataError(f"{path}: '{roots[0]}/data/{vid}/{ds}' is missing")
        feats = _read(g["features"], f"{roots[0]}/data/{vid}/features", path, budget)
        iv = _read(g["intervals"], f"{roots[0]}/data/{vid}/intervals", path, budget)
        if iv.dtype.kind not in "biuf":
            raise DataError(f"{path}: '{roots[0]}/data/{vid}/intervals' has dtype {iv.dtype}; expected seconds")
        iv = np.asarray(iv, dtype=np.float64)
        if iv.ndim != 2 or iv.shape[1] != 2 or feats.ndim == 0 or len(iv) != len(feats):
            raise DataError(f"{path}: '{roots[0]}/data/{vid}/intervals' has shape {iv.shape}; expected "
                            f"({len(feats) if feats.ndim else 'T'}, 2) start/end seconds, one per feature row")
        videos[vid] = (feats, iv)
    meta: dict[str, Any] = {}
    if isinstance(root.get("metadata"), h5py.Group):
        m = root["metadata"]
        for k in m.attrs:
            aid = m.attrs.get_id(k)
            budget.charge(int(np.prod(aid.shape or (), dtype=object)) * aid.dtype.itemsize, f"attribute {k!r}")
            meta[k] = _text(m.attrs[k])
        for k, v in m.items():
            if isinstance(v, h5py.Dataset):
                meta[k] = _text(_read(v, f"{roots[0]}/metadata/{k}", path, budget))
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


def _numeric(seq: Sequence, vid: str) -> None:
    feats = seq.videos[vid][0]
    if feats.dtype.kind not in "biuf":
        raise DataError(f"{seq.path}: '{seq.name}/data/{vid}/features' has dtype {feats.dtype}; expected numbers "
                        "(feature values or labels)")


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
             emotions: list[str] | None = None, sentiment_range: float = 3.0, allow_links: bool = False) -> Corpus:
    """The dataset of a set of ``.csd`` files (see the module doc).

    labels: the label sequence (column 0 sentiment; further columns the ``emotions`` given).
    aligned needs ``words``. A video missing from a modality's file is an error naming both.
    ``allow_links``: follow external links and virtual datasets into other files (refused by
    default, naming the link)."""
    lab = load_sequence(labels, allow_links=allow_links)
    seqs = {m: load_sequence(p, allow_links=allow_links) for m, p in (("audio", audio), ("visual", visual))
            if p is not None}
    wseq = load_sequence(words, allow_links=allow_links) if words is not None else None
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
        _numeric(lab, vid)
        y = np.asarray(y, np.float64).reshape(len(y), -1)
        if y.shape[1] < 1 + len(emotions):
            raise DataError(f"{lab.path}: '{lab.name}/data/{vid}/features' has {y.shape[1]} columns; expected "
                            f"sentiment and {len(emotions)} emotions")
        vwords = _words(wseq, vid) if wseq else []
        streams = {}
        for m, sq in seqs.items():
            feats, iv = sq.videos[vid]
            _numeric(sq, vid)
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
