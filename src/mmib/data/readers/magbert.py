"""The MAG-BERT layout read by the MIB reference code: ``mosi.pkl``, ``mosei.pkl``.

``{"train": [...], "dev": [...], "test": [...]}``; each item is
``((words, visual, acoustic), label, segment)`` with one feature row per word:
words (n,) strings, visual (n, V), acoustic (n, A), label a sentiment score (scalar or
shape (1, 1)) or the 7-value CMU SDK vector [sentiment, happy, sad, anger, surprise,
disgust, fear], segment a string id. Words are tokenised later with the text encoder's
tokenizer (:func:`mmib.data.align.align_words`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .registry import READERS, ReaderSpec
from ..corpus import Corpus, CorpusSplit, Ragged
from ..validate import RepairLog, describe, fail
from .common import MOSEI_EMOTIONS, emotions_from_intensity, get_splits, to_str

PARTS = (("visual", 1), ("audio", 2))  # (field, position in the (words, visual, acoustic) tuple)
SOURCE_NAME = {"visual": "visual", "audio": "acoustic"}


def looks_like(split: Any) -> bool:
    if not isinstance(split, (list, tuple)) or not split:
        return False
    item = split[0]
    return isinstance(item, (list, tuple)) and len(item) == 3 and isinstance(item[0], (list, tuple))


def _item(item: Any, i: int, path: Path, split: str, dims: dict[str, int], repairs: RepairLog):
    expected = "((words, visual, acoustic), label, segment)"
    if not isinstance(item, (list, tuple)) or len(item) != 3 or \
            not isinstance(item[0], (list, tuple)) or len(item[0]) != 3:
        raise fail(path, split, "item", i, expected, describe(item))
    (words, *_), label, segment = item
    try:
        words = [to_str(w) for w in (words.tolist() if isinstance(words, np.ndarray) else list(words))]
    except TypeError:
        raise fail(path, split, "words", i, "a list of word strings", describe(words)) from None
    rows = {}
    for name, pos in PARTS:
        src = SOURCE_NAME[name]
        x = np.asarray(item[0][pos])
        if x.dtype == object or x.dtype.kind not in "biuf" or x.ndim != 2:
            raise fail(path, split, src, i, "a (n_words, D) numeric array", describe(x))
        if len(x) != len(words):
            raise fail(path, split, src, i, f"{len(words)} rows, one per word", f"{len(x)} rows")
        dims.setdefault(name, x.shape[1])
        if x.shape[1] != dims[name]:
            raise fail(path, split, src, i, f"feature dim {dims[name]} (as the first utterance of 'train')",
                       f"dim {x.shape[1]}")
        rows[name] = repairs.fix(np.array(x, dtype=np.float32), split, name)
    y = np.asarray(label, dtype=object if isinstance(label, (str, bytes)) else None)
    if y.dtype == object or y.dtype.kind not in "biuf" or y.size not in (1, 7):
        raise fail(path, split, "label", i, "a sentiment score (1 value) or the 7-value CMU SDK vector",
                   describe(y))
    y = y.astype(np.float64).reshape(-1)
    return words, rows, y, to_str(segment)


def read(obj: Any, path: Path) -> Corpus:
    """Parse an unpickled MAG-BERT file into a validated :class:`Corpus`."""
    repairs = RepairLog()
    dims: dict[str, int] = {}
    splits: dict[str, CorpusSplit] = {}
    label_size = None
    for split, items in get_splits(obj, path).items():
        if not isinstance(items, (list, tuple)):
            raise fail(path, split, None, None, "a list of ((words, visual, acoustic), label, segment) items",
                       describe(items))
        words_all, ids, labels = [], [], []
        rows_all: dict[str, list[np.ndarray]] = {name: [] for name, _ in PARTS}
        for i, item in enumerate(items):
            words, rows, y, seg = _item(item, i, path, split, dims, repairs)
            label_size = label_size or y.size
            if y.size != label_size:
                raise fail(path, split, "label", i, f"{label_size} label values like the first item", y.size)
            words_all.append(words)
            ids.append(seg)
            labels.append(y)
            for name in rows:
                rows_all[name].append(rows[name])
        y = np.stack(labels).astype(np.float32) if labels else np.zeros((0, label_size or 1), np.float32)
        bad = np.argwhere(~np.isfinite(y))
        if len(bad):
            raise fail(path, split, "label", int(bad[0][0]), "finite label values", y[tuple(bad[0])])
        emotions = None
        if y.shape[1] == 7:
            emotions = emotions_from_intensity(y[:, 1:], path, split, "label")
        fields = {name: Ragged.from_list(rows_all[name], (dims.get(name, 0),), np.float32)
                  for name, _ in PARTS}
        splits[split] = CorpusSplit(ids, fields, y[:, 0].copy(), emotions,
                                    [" ".join(w) for w in words_all], words_all)
    return Corpus(splits, "magbert", emotion_names=list(MOSEI_EMOTIONS) if label_size == 7 else [],
                  word_aligned=True, repairs=repairs.counts,
                  notes=["one audio/visual row per word, repeated over the word's sub-tokens"])


READERS.add("magbert", ReaderSpec("MAG-BERT pickles (mosi.pkl, mosei.pkl: word-aligned)",
                                 read, looks_like, priority=30))
