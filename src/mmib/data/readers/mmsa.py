"""The MMSA toolkit's feature pickles: ``aligned_50.pkl``, ``unaligned_50.pkl``, ``unaligned_39.pkl``.

Each split is a dict of arrays with the utterance first (schema in docs/datasets.md):
``text_bert`` (N, 3, L) token ids / attention mask / segment ids stored as floats,
``text`` (N, L, Dt) precomputed BERT features, ``audio`` (N, Ta, Da), ``vision``
(N, Tv, Dv), optional ``audio_lengths`` / ``vision_lengths`` (N,), ``regression_labels``
(N,), ``raw_text``, ``id``; optionally ``emotion_labels`` (N, 6), an mmib extension for
MOSEI emotion intensities in CMU SDK order (happy, sad, anger, surprise, disgust, fear).

Valid lengths: text from the ``text_bert`` attention mask; audio / visual from the stored
``*_lengths`` when the data is unaligned (the steps differ per modality), and from the text
mask when it is aligned (every modality has L steps, as MMSA's aligned models read it);
without either, trailing all-zero rows are padding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .registry import READERS, ReaderSpec
from ..corpus import Corpus, CorpusSplit, Ragged
from ..validate import RepairLog, as_array, check_count, describe, fail
from .common import (keys_of, MOSEI_EMOTIONS, check_lengths, emotions_from_intensity, float_ragged, get_splits,
                     right_padded_lengths, sentiment_from, strings)

MODALITIES = {"audio": "audio", "vision": "visual"}


def looks_like(split: Any) -> bool:
    return isinstance(split, dict) and ("regression_labels" in split or "text_bert" in split)


def _text(d: dict, n: int, path: Path, split: str, repairs: RepairLog,
          fields: dict[str, Ragged]) -> tuple[np.ndarray | None, int]:
    """Fill text_ids / text_vectors; returns the text mask lengths (N,) if known and L."""
    mask_len, text_steps = None, -1
    if "text_bert" in d:
        tb = as_array(d["text_bert"], path, split, "text_bert", 3, "(N, 3, L) token ids, mask, segment ids")
        check_count(path, split, "text_bert", len(tb), n, "regression_labels")
        if tb.shape[1] != 3:
            raise fail(path, split, "text_bert", None, "shape (N, 3, L): rows ids, mask, segment ids",
                       describe(tb))
        ids = tb[:, 0]
        bad = np.argwhere(~np.isfinite(ids) | (ids < 0) | (ids != np.round(ids)))
        if len(bad):
            i = int(bad[0][0])
            raise fail(path, split, "text_bert", i, "non-negative integer token ids in row 0", ids[i].tolist()[:8])
        text_steps = tb.shape[2]
        mask = tb[:, 1] > 0.5
        mask_len = mask.sum(axis=1).astype(np.int64)
        # a right-padded attention mask: ones then zeros; anything else is not what MMSA writes
        steps = np.arange(tb.shape[2])
        bad = np.flatnonzero((mask != (steps[None, :] < mask_len[:, None])).any(axis=1))
        if len(bad):
            raise fail(path, split, "text_bert", int(bad[0]), "an attention mask (row 1) of ones then zeros",
                       mask[bad[0]].astype(int).tolist())
        fields["text_ids"] = Ragged.from_padded(ids.astype(np.int64), mask_len)
    if "text" in d:
        tv = as_array(d["text"], path, split, "text", 3, "(N, L, D) text feature vectors")
        check_count(path, split, "text", len(tv), n, "regression_labels")
        if mask_len is not None and text_steps == tv.shape[1]:
            lengths = mask_len  # the features sit on the same BERT tokens as text_bert
        else:
            lengths = right_padded_lengths(tv)
        fields["text_vectors"] = float_ragged(tv, lengths, None, repairs, split, "text_vectors")
    return mask_len, text_steps


def read(obj: Any, path: Path) -> Corpus:
    """Parse an unpickled MMSA file into a validated :class:`Corpus`."""
    repairs = RepairLog()
    splits: dict[str, CorpusSplit] = {}
    notes: set[str] = set()
    has_emotions = False
    for split, d in get_splits(obj, path).items():
        if not isinstance(d, dict):
            raise fail(path, split, None, None, "a dict of arrays (MMSA format)", describe(d))
        if "regression_labels" not in d:
            raise fail(path, split, "regression_labels", None, "(N,) sentiment labels",
                       f"no such key (keys: {keys_of(d)})")
        y = as_array(d["regression_labels"], path, split, "regression_labels", (1, 2), "(N,) sentiment scores")
        if y.ndim == 2 and y.shape[1] != 1:
            raise fail(path, split, "regression_labels", None, "(N,) or (N, 1) sentiment scores", describe(y))
        n = len(y)
        fields: dict[str, Ragged] = {}
        mask_len, text_steps = _text(d, n, path, split, repairs, fields)
        feats = {}
        for key, name in MODALITIES.items():
            if key in d:
                feats[key] = as_array(d[key], path, split, key, 3, f"(N, T, D) {name} features")
                check_count(path, split, key, len(feats[key]), n, "regression_labels")
        aligned = mask_len is not None and all(x.shape[1] == text_steps for x in feats.values())
        for key, x in feats.items():
            name = MODALITIES[key]
            if aligned:
                lengths = mask_len
                notes.add("aligned: audio/visual lengths from the text_bert attention mask")
            elif f"{key}_lengths" in d:
                lengths = check_lengths(d[f"{key}_lengths"], n, x.shape[1], path, split, f"{key}_lengths")
                notes.add("unaligned: audio/visual lengths from audio_lengths/vision_lengths")
            else:
                lengths = right_padded_lengths(x)
                notes.add("no stored lengths: trailing all-zero rows are padding")
            fields[name] = float_ragged(x, lengths, None, repairs, split, name)
        if not fields:
            raise fail(path, split, None, None, "at least one of text_bert, text, audio, vision",
                       f"keys {keys_of(d)}")
        emotions = None
        if "emotion_labels" in d:
            e = as_array(d["emotion_labels"], path, split, "emotion_labels", 2, "(N, 6) emotion intensities")
            check_count(path, split, "emotion_labels", len(e), n, "regression_labels")
            if e.shape[1] != len(MOSEI_EMOTIONS):
                raise fail(path, split, "emotion_labels", None, "(N, 6) intensities: " + ", ".join(MOSEI_EMOTIONS),
                           describe(e))
            emotions = emotions_from_intensity(e.astype(np.float32), path, split, "emotion_labels")
            has_emotions = True
        ids = strings(d["id"], n, path, split, "id") if "id" in d else [f"{split}_{i:05d}" for i in range(n)]
        raw = strings(d["raw_text"], n, path, split, "raw_text") if "raw_text" in d else None
        splits[split] = CorpusSplit(ids, fields, sentiment_from(y, path, split, "regression_labels"),
                                    emotions, raw)
    return Corpus(splits, "mmsa", emotion_names=list(MOSEI_EMOTIONS) if has_emotions else [],
                  repairs=repairs.counts, notes=sorted(notes))


READERS.add("mmsa", ReaderSpec("MMSA toolkit pickles (aligned_50 / unaligned_50 / unaligned_39)",
                              read, looks_like, priority=10))
