"""A format-neutral, validated corpus: what every reader produces and `mmib data convert` stores.

Readers turn a file into a :class:`Corpus`: unpadded sequences per field (stored end to
end, :class:`Ragged`), labels, ids and text, with non-finite values already repaired.
Turning a corpus into model inputs (tokenisation, truncation to ``data.max_len``) is done
later by :mod:`mmib.data.real`, so one converted file serves every text encoder and length.

Fields (all optional; a reader fills what its format has):
  ``audio`` (T, Da) float32, ``visual`` (T, Dv) float32,
  ``text_vectors`` (L, Dt) float32 (GloVe or precomputed BERT features),
  ``text_ids`` (L,) int64 (BERT token ids incl. [CLS] / [SEP]);
  ``words`` per utterance (MAG-BERT): audio/visual then hold one row per word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .conform import conform
from .validate import SPLITS, DataError, fail


class Ragged:
    """N variable-length sequences stored end to end.

    values: (sum_i T_i, *feature_shape); lengths: (N,) int64; item i is a view
    ``values[offsets[i]:offsets[i + 1]]`` of shape (T_i, *feature_shape).
    """

    def __init__(self, values: np.ndarray, lengths: np.ndarray) -> None:
        self.values = values
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=self.offsets[1:])
        if self.offsets[-1] != len(values):
            raise ValueError(f"lengths sum to {self.offsets[-1]} but there are {len(values)} rows")

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    @property
    def dim(self) -> int:
        """Feature width (0 for 1-D token-id sequences)."""
        return int(self.values.shape[1]) if self.values.ndim == 2 else 0

    @classmethod
    def from_padded(cls, padded: np.ndarray, lengths: np.ndarray, starts: np.ndarray | None = None) -> "Ragged":
        """Keep rows ``starts[i] : starts[i] + lengths[i]`` of each padded item.

        padded: (N, T, *feature); lengths, starts: (N,) ints (starts default 0 = right padding).
        """
        n, t = padded.shape[:2]
        lengths = np.asarray(lengths, dtype=np.int64)
        starts = np.zeros(n, dtype=np.int64) if starts is None else np.asarray(starts, dtype=np.int64)
        steps = np.arange(t)
        keep = (steps[None, :] >= starts[:, None]) & (steps[None, :] < (starts + lengths)[:, None])
        return cls(np.ascontiguousarray(padded[keep]), lengths)

    @classmethod
    def from_list(cls, seqs: list[np.ndarray], empty_shape: tuple[int, ...], dtype: Any) -> "Ragged":
        """Concatenate per-utterance arrays; ``empty_shape`` is the feature shape if all are empty."""
        if seqs:
            values = np.concatenate(seqs).astype(dtype, copy=False)
        else:
            values = np.zeros((0, *empty_shape), dtype=dtype)
        return cls(values, np.array([len(s) for s in seqs], dtype=np.int64))


@dataclass
class CorpusSplit:
    """One split. ``sentiment``: (N,) float32; ``emotions``: (N, K) float32 in {0, 1}."""

    ids: list[str]
    fields: dict[str, Ragged] = field(default_factory=dict)
    sentiment: np.ndarray | None = None
    emotions: np.ndarray | None = None
    raw_text: list[str] | None = None
    words: list[list[str]] | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Corpus:
    """train / valid / test splits of one file plus provenance.

    reader: the format the data came from (mmsa, magbert, mult); emotion_names: the K
    emotions of ``emotions``; word_aligned: audio/visual rows are one per word (align them
    to sub-word tokens); source: file, size, sha256, reader; repairs: NaN/inf counts
    (field -> split -> {nan, posinf, neginf}); notes: how lengths and padding were read.
    dataset: what the file says about itself, for files that carry it (``mmib extract``,
    the ``.csd`` reader): ``name``, ``labels`` (sentiment or emotions), ``sentiment_range``,
    ``metrics`` (label kind -> metric family); empty for the field's pickles.
    extraction: how the features were made (``mmib extract``: per modality the extractor's
    name, dim, frame rate, feature names, settings and package versions); empty otherwise.
    Optional fields ``<modality>_mask`` (T,) uint8 hold a per-frame validity flag (1: valid,
    e.g. a face was found) aligned with the field ``<modality>``.
    """

    splits: dict[str, CorpusSplit]
    reader: str
    emotion_names: list[str] = field(default_factory=list)
    word_aligned: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    repairs: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dataset: dict[str, Any] = field(default_factory=dict)
    extraction: dict[str, Any] = field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        return {s: len(self.splits[s]) for s in SPLITS}

    @property
    def dims(self) -> dict[str, int]:
        """Feature width per field (text_ids: 0), read from the train split."""
        return {k: r.dim for k, r in self.splits["train"].fields.items()}

    @property
    def has_sentiment(self) -> bool:
        return all(self.splits[s].sentiment is not None for s in SPLITS)

    @property
    def has_emotions(self) -> bool:
        return all(self.splits[s].emotions is not None for s in SPLITS)

    def check(self, path: str) -> "Corpus":
        """Cross-split consistency (all splits present and non-empty, same fields and dims, one
        label / id per utterance), then the value checks and repairs every format shares
        (:func:`mmib.data.conform.conform`). Raises DataError naming file, split and field."""
        for s in SPLITS:
            if s not in self.splits:
                raise DataError(f"{path}: split {s!r} is missing; expected train, valid and test")
        train = self.splits["train"]
        for s in SPLITS:
            sp = self.splits[s]
            n = len(sp)
            if n == 0:
                raise fail(path, s, None, None, "at least one utterance", "an empty split")
            if set(sp.fields) != set(train.fields):
                raise fail(path, s, None, None, f"the fields of 'train' {sorted(train.fields)}",
                           sorted(sp.fields))
            for k, r in sp.fields.items():
                if len(r) != n:
                    raise fail(path, s, k, None, f"{n} utterances (as many as the ids)", len(r))
                if r.dim != train.fields[k].dim:
                    raise fail(path, s, k, None, f"feature dim {train.fields[k].dim} (as in split 'train')",
                               f"dim {r.dim}")
            for k, r in sp.fields.items():
                base = k[: -len("_mask")] if k.endswith("_mask") else None
                if base is None:
                    continue
                if base not in sp.fields:
                    raise fail(path, s, k, None, f"a field {base!r} for the mask to go with", "none")
                bad = np.flatnonzero(r.lengths != sp.fields[base].lengths)
                if len(bad):
                    raise fail(path, s, k, int(bad[0]), f"{int(sp.fields[base].lengths[bad[0]])} frames "
                               f"(one flag per {base} row)", int(r.lengths[bad[0]]))
                if r.values.ndim != 1 or (len(r.values) and not np.isin(r.values, (0, 1)).all()):
                    raise fail(path, s, k, None, "flags 0 / 1 of shape (T,)", f"shape {r.values.shape[1:]}, "
                               f"values {np.unique(r.values)[:5].tolist()}")
            for name, lab in (("sentiment", sp.sentiment), ("emotions", sp.emotions)):
                if lab is not None and len(lab) != n:
                    raise fail(path, s, name, None, f"{n} labels (one per utterance)", len(lab))
            if (sp.emotions is None) != (train.emotions is None) or \
                    (sp.sentiment is None) != (train.sentiment is None):
                raise fail(path, s, "labels", None, "the same label kinds as split 'train'",
                           "a different set")
            if sp.emotions is not None and sp.emotions.shape[1] != len(self.emotion_names):
                raise fail(path, s, "emotions", None, f"{len(self.emotion_names)} emotions per utterance",
                           sp.emotions.shape[1])
            for name, seq in (("raw_text", sp.raw_text), ("words", sp.words)):
                if seq is not None and len(seq) != n:
                    raise fail(path, s, name, None, f"{n} entries (one per utterance)", len(seq))
        conform(self, path)  # the value checks and repairs every format shares
        return self
