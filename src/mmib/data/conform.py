"""The value checks every corpus passes, whatever file it came from.

:meth:`mmib.data.corpus.Corpus.check` ends here, so a pickle read by any reader, a file
written by ``mmib data convert`` (which anyone can edit or craft), a ``.csd`` dataset and an
``mmib extract`` output are checked and repaired alike, and a new format cannot skip it:

- ids: one string per utterance; raw text and words likewise;
- fields: lengths non-negative integers summing to the rows; features numeric, cast to
  float32, NaN / +-inf / values beyond +-1e8 replaced by 0 and counted (``Corpus.repairs``);
  ``text_ids`` integers in [0, 2^31) (the tokenizer's own vocabulary is checked when a
  run tokenises, :func:`mmib.data.real`); ``<m>_mask`` 0 / 1 flags;
- labels: sentiment finite, emotions 0 / 1, float32, one per utterance.

Each failure is a :class:`~mmib.data.validate.DataError` naming file, split, field and utterance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .validate import SPLITS, RepairLog, fail

Corpus = Any  # a mmib.data.corpus.Corpus; not imported: corpus imports this module
MAX_TOKEN_ID = 2**31 - 1


def _row_of(offsets: np.ndarray, flat_index: int) -> int:
    return int(np.searchsorted(offsets, flat_index, side="right") - 1)


def _strings(seq: object, n: int, path: str, split: str, name: str, nested: bool = False) -> None:
    if not isinstance(seq, list) or len(seq) != n:
        raise fail(path, split, name, None, f"{n} entries (one per utterance)",
                   len(seq) if isinstance(seq, list) else type(seq).__name__)
    for i, v in enumerate(seq):
        ok = isinstance(v, list) and all(isinstance(w, str) for w in v) if nested else isinstance(v, str)
        if not ok:
            raise fail(path, split, name, i, "a list of strings" if nested else "a string", type(v).__name__)


def _field(corpus: "Corpus", split: str, name: str, repairs: RepairLog, path: str) -> None:
    r = corpus.splits[split].fields[name]
    lengths = np.asarray(r.lengths)
    bad = np.flatnonzero(lengths < 0)
    if len(bad):
        raise fail(path, split, name, int(bad[0]), "a length >= 0", int(lengths[bad[0]]))
    v = r.values
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "biuf" or v.ndim not in (1, 2):
        raise fail(path, split, name, None, "(rows,) or (rows, D) numeric values",
                   f"dtype {getattr(v, 'dtype', type(v).__name__)}")
    if name == "text_ids" or (name.endswith("_mask") and name[:-5] in corpus.splits[split].fields):
        if v.ndim != 1 or v.dtype.kind not in "biu":
            raise fail(path, split, name, None, "(rows,) integers", f"shape {v.shape[1:]}, dtype {v.dtype}")
        if name == "text_ids" and len(v):
            out = np.flatnonzero((v < 0) | (v > MAX_TOKEN_ID))
            if len(out):
                i = _row_of(r.offsets, int(out[0]))
                raise fail(path, split, name, i, f"token ids in [0, {MAX_TOKEN_ID}]", int(v[out[0]]))
            r.values = v.astype(np.int64, copy=False)
        return
    if v.ndim != 2:
        raise fail(path, split, name, None, "(rows, D) feature rows", f"shape {v.shape}")
    if v.dtype != np.float32:
        with np.errstate(over="ignore", invalid="ignore"):
            v = v.astype(np.float32)  # float64 beyond float32's range becomes inf: repaired below
    elif not v.flags.writeable:
        v = v.copy()
    r.values = repairs.fix(v, split, name)


def _labels(corpus: "Corpus", split: str, n: int, path: str) -> None:
    sp = corpus.splits[split]
    if sp.sentiment is not None:
        y = np.asarray(sp.sentiment)
        if y.dtype.kind not in "biuf" or y.shape != (n,):
            raise fail(path, split, "sentiment", None, f"({n},) numeric labels", f"shape {y.shape}, dtype {y.dtype}")
        with np.errstate(over="ignore"):
            y = y.astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(y))
        if len(bad):
            raise fail(path, split, "sentiment", int(bad[0]), "a finite sentiment score (labels are never "
                       "repaired)", float(np.asarray(sp.sentiment)[bad[0]]))
        sp.sentiment = y
    if sp.emotions is not None:
        e = np.asarray(sp.emotions)
        k = len(corpus.emotion_names)
        if e.dtype.kind not in "biuf" or e.shape != (n, k):
            raise fail(path, split, "emotions", None, f"({n}, {k}) 0/1 emotion labels", f"shape {e.shape}")
        bad = np.argwhere(~np.isin(e, (0, 1)))
        if len(bad):
            i, j = map(int, bad[0])
            raise fail(path, split, "emotions", i, f"0 or 1 (emotion {j})", float(e[i, j]))
        sp.emotions = e.astype(np.float32)


def conform(corpus: "Corpus", path: str) -> None:
    """Check and repair ``corpus`` in place (see the module doc); repairs join ``corpus.repairs``."""
    repairs = RepairLog()
    for s in SPLITS:
        sp = corpus.splits[s]
        n = len(sp.ids) if isinstance(sp.ids, list) else -1
        _strings(sp.ids, n, path, s, "ids")
        if sp.raw_text is not None:
            _strings(sp.raw_text, n, path, s, "raw_text")
        if sp.words is not None:
            _strings(sp.words, n, path, s, "words", nested=True)
        for name in sp.fields:
            _field(corpus, s, name, repairs, path)
        _labels(corpus, s, n, path)
    if repairs.counts:
        merged = RepairLog()
        merged.merge(corpus.repairs)
        merged.merge(repairs.counts)
        corpus.repairs = merged.counts


__all__ = ["MAX_TOKEN_ID", "conform"]
