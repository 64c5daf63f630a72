"""One utterance's raw parts -> an :class:`Example`: the single place where text becomes model
input and sequences are shortened to ``data.max_len``.

Used by every source of examples: the feature files (:mod:`mmib.data.real`), the synthetic
data (:mod:`mmib.data.synth`) and prediction inputs (JSON-lines records,
:mod:`mmib.data.records`).

Text, by what is given:
  ``token_ids``      ids already tokenised incl. [CLS] / [SEP]: the first ``max_len`` kept, the
                     final [SEP] too;
  ``text_vectors``   (L, D) feature vectors (GloVe path): the first ``max_len`` rows;
  ``words``          with a tokenizer: tokenised; when ``word_aligned`` (one audio / visual row
                     per word) each word's rows are repeated over its sub-tokens (the MAG-BERT
                     scheme, :func:`~mmib.data.align.align_words`); without a tokenizer:
                     deterministic pseudo word vectors (:func:`~mmib.data.align.word_vectors`).
Audio / visual (T, D): the first ``max_len`` steps (``truncation = "head"``) or the means of
``max_len`` equal windows over the whole utterance (``"pool"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .align import align_words, word_vectors
from .types import Example


def shorten(x: np.ndarray, max_len: int, mode: str) -> np.ndarray:
    """(T, D) -> at most (max_len, D): the first steps (head) or window means (pool)."""
    if len(x) <= max_len:
        return x
    if mode == "head":
        return x[:max_len]
    edges = np.linspace(0, len(x), max_len + 1).round().astype(np.int64)  # every window >= 1 step
    sums = np.add.reduceat(x.astype(np.float64), edges[:-1], axis=0)
    return (sums / np.diff(edges)[:, None]).astype(np.float32)


def shorten_ids(ids: np.ndarray, max_len: int) -> np.ndarray:
    """Token ids -> at most max_len, keeping the last token ([SEP])."""
    if len(ids) <= max_len:
        return ids
    return np.concatenate([ids[: max_len - 1], ids[-1:]])


def tokenize(words: list[str], tokenizer: Any, max_len: int) -> np.ndarray:
    """[CLS] + sub-tokens of the words (cut to fit) + [SEP] as int64 ids."""
    pieces = tokenizer.tokenize(" ".join(words))[: max_len - 2]
    return np.asarray([tokenizer.cls_token_id] + tokenizer.convert_tokens_to_ids(pieces)
                      + [tokenizer.sep_token_id], dtype=np.int64)


def make_example(uid: str, label: np.ndarray, *, features: dict[str, np.ndarray], max_len: int,
                 truncation: str = "head", tokenizer: Any = None, words: list[str] | None = None,
                 token_ids: np.ndarray | None = None, text_vectors: np.ndarray | None = None,
                 word_aligned: bool = False, text: str | None = None,
                 truncated: dict[str, int] | None = None) -> Example:
    """An :class:`Example` from one utterance's parts (see the module docstring).

    features: audio / visual (T, D) rows; with ``word_aligned`` one row per word. Give at
    most one of ``token_ids``, ``text_vectors`` and ``words`` for the text (none: no text
    modality). ``truncated``, if given, counts per modality the utterances that were cut."""
    inputs: dict[str, np.ndarray] = {}
    rows = dict(features)
    cut = {m: False for m in ("text", *rows)}
    if token_ids is not None:
        cut["text"] = len(token_ids) > max_len
        inputs["text"] = shorten_ids(np.asarray(token_ids, dtype=np.int64), max_len)
    elif text_vectors is not None:
        cut["text"] = len(text_vectors) > max_len
        inputs["text"] = text_vectors[:max_len]
    elif words is not None and tokenizer is None:
        vectors = word_vectors(words)
        cut["text"] = len(vectors) > max_len
        inputs["text"] = vectors[:max_len]
    elif words is not None:
        if word_aligned and rows:
            ids, rows = align_words(words, rows, tokenizer, max_len)
        else:
            ids = tokenize(words, tokenizer, max_len)
        if len(ids) == max_len:  # at the limit: count the tokens to know if it was cut
            cut["text"] = sum(len(tokenizer.tokenize(w)) or 1 for w in words) + 2 > max_len
        inputs["text"] = ids
    for m, x in rows.items():
        cut[m] = len(x) > max_len
        inputs[m] = shorten(x, max_len, truncation)
    if truncated is not None:
        for m, was_cut in cut.items():
            if m in truncated:
                truncated[m] += int(was_cut)
    shown = text if text is not None else (" ".join(words) if words else "")
    return Example(uid, inputs, np.asarray(label, dtype=np.float32), shown)


__all__ = ["make_example", "shorten", "shorten_ids", "tokenize"]
