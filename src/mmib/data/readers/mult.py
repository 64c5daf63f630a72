"""The Multimodal Transformer layout: ``mosi_data.pkl``, ``mosei_senti_data.pkl``,
``iemocap_data.pkl`` and their ``*_data_noalign.pkl`` versions.

Each split is a dict: ``text`` (N, L, 300) GloVe vectors, ``audio`` (N, Ta, Da),
``vision`` (N, Tv, Dv), ``labels``, optional ``id``. Sequences are zero-padded (text on
the left); the valid span of every modality is taken between its first and its last row
that is not all zero. Labels by shape:
  (N,), (N, 1), (N, 1, 1): sentiment score;
  (N, K, 2): K binary emotions as one-hot (absent, present) pairs - IEMOCAP's
      (N, 4, 2) is neutral, happy, sad, angry;
  (N, 7), (N, 1, 7): the CMU SDK vector [sentiment, happy, sad, anger, surprise, disgust,
      fear]; an emotion is present when its intensity is > 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .registry import READERS, ReaderSpec
from ..corpus import Corpus, CorpusSplit, Ragged
from ..validate import RepairLog, as_array, check_count, describe, fail
from .common import (keys_of, IEMOCAP_EMOTIONS, MOSEI_EMOTIONS, emotions_from_intensity, emotions_from_onehot,
                     float_ragged, get_splits, nonzero_span, sentiment_from, strings)

FIELDS = {"text": "text_vectors", "audio": "audio", "vision": "visual"}
LABEL_SHAPES = "(N,), (N, 1, 1) sentiment; (N, K, 2) one-hot emotions; (N, 7) or (N, 1, 7) CMU SDK vectors"


def looks_like(split: Any) -> bool:
    return isinstance(split, dict) and "labels" in split and any(k in split for k in FIELDS)


def _labels(raw: Any, n: int, path: Path, split: str) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
    y = as_array(raw, path, split, "labels", (1, 2, 3), LABEL_SHAPES)
    check_count(path, split, "labels", len(y), n, "text")
    shape = y.shape[1:]
    if shape in ((), (1,), (1, 1)):
        return sentiment_from(y.reshape(n), path, split, "labels"), None, []
    if len(shape) == 2 and shape[1] == 2:
        names = IEMOCAP_EMOTIONS if shape[0] == 4 else [f"emotion_{k}" for k in range(shape[0])]
        return None, emotions_from_onehot(y, path, split, "labels"), list(names)
    if shape in ((7,), (1, 7)):
        y = y.reshape(n, 7).astype(np.float32)
        return (sentiment_from(y[:, 0], path, split, "labels"),
                emotions_from_intensity(y[:, 1:], path, split, "labels"), list(MOSEI_EMOTIONS))
    raise fail(path, split, "labels", None, LABEL_SHAPES, describe(y))


def read(obj: Any, path: Path) -> Corpus:
    """Parse an unpickled Multimodal Transformer file into a validated :class:`Corpus`."""
    repairs = RepairLog()
    splits: dict[str, CorpusSplit] = {}
    names: list[str] | None = None
    for split, d in get_splits(obj, path).items():
        if not isinstance(d, dict) or "labels" not in d:
            raise fail(path, split, None, None, "a dict with text, audio, vision, labels (Multimodal "
                       "Transformer format)", describe(d))
        present = [k for k in FIELDS if k in d]
        if not present:
            raise fail(path, split, None, None, "at least one of text, audio, vision", f"keys {keys_of(d)}")
        first = as_array(d[present[0]], path, split, present[0], 3, "(N, T, D) features")
        n = len(first)
        fields: dict[str, Ragged] = {}
        for key in present:
            x = as_array(d[key], path, split, key, 3, "(N, T, D) features")
            check_count(path, split, key, len(x), n, present[0])
            starts, lengths = nonzero_span(x)
            fields[FIELDS[key]] = float_ragged(x, lengths, starts, repairs, split, FIELDS[key])
        sentiment, emotions, split_names = _labels(d["labels"], n, path, split)
        if names is None:
            names = split_names
        elif split_names != names:
            raise fail(path, split, "labels", None, f"the label layout of split 'train' ({names or 'sentiment'})",
                       split_names or "sentiment")
        ids = strings(d["id"], n, path, split, "id") if "id" in d else [f"{split}_{i:05d}" for i in range(n)]
        splits[split] = CorpusSplit(ids, fields, sentiment, emotions)
    return Corpus(splits, "mult", emotion_names=names or [], repairs=repairs.counts,
                  notes=["zero padding (text on the left) dropped: each modality keeps the rows between "
                         "its first and last non-zero row"])


READERS.add("mult", ReaderSpec("Multimodal Transformer pickles (*_data.pkl, *_data_noalign.pkl)",
                              read, looks_like, priority=20))
