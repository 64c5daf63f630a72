"""Word-level utterances -> model inputs: sub-word tokens with word-aligned feature rows.

This is the MAG-BERT scheme the MIB reference code uses: every word is tokenised, the
word's acoustic / visual row is repeated for each of its sub-tokens, the sequence is cut
to ``max_len - 2`` tokens, and [CLS] / [SEP] are added with all-zero feature rows.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any

import numpy as np


def align_words(
    words: list[str],
    features: dict[str, np.ndarray],
    tokenizer: Any,
    max_len: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Tokenise ``words`` and repeat each word's feature rows over its sub-tokens.

    words: n words; features[m]: (n, D_m) one row per word.
    Returns token ids (L,) int64 with L <= max_len and features[m]: (L, D_m) float32.
    """
    for m, f in features.items():
        if len(f) != len(words):
            raise ValueError(f"{m}: {len(f)} feature rows for {len(words)} words; expected one per word")
    pieces: list[str] = []
    owner: list[int] = []
    for i, w in enumerate(words):
        toks = tokenizer.tokenize(w) or [getattr(tokenizer, "unk_token", "[UNK]")]
        pieces.extend(toks)
        owner.extend([i] * len(toks))
    pieces, owner = pieces[: max_len - 2], owner[: max_len - 2]
    ids = [tokenizer.cls_token_id] + tokenizer.convert_tokens_to_ids(pieces) + [tokenizer.sep_token_id]
    out = {}
    for m, f in features.items():
        rows = np.zeros((len(ids), f.shape[1]), dtype=np.float32)
        if owner:
            rows[1:-1] = f[np.asarray(owner)]
        out[m] = rows
    return np.asarray(ids, dtype=np.int64), out


@functools.lru_cache(maxsize=65536)
def _word_vector(word: str, dim: int) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(word.encode()))
    v = (rng.standard_normal(dim) / np.sqrt(dim) * 4).astype(np.float32)
    v.setflags(write=False)
    return v


def word_vectors(words: list[str], dim: int = 300) -> np.ndarray:
    """Deterministic pseudo word vectors (a stand-in for GloVe when no tokenizer is used).

    Each word maps to a fixed unit-scale Gaussian vector seeded by a stable hash of the word.
    """
    out = np.empty((len(words), dim), dtype=np.float32)
    for i, w in enumerate(words):
        out[i] = _word_vector(w.lower(), dim)
    return out
