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
``max_len`` equal windows over the whole utterance (``"pool"``); ``"auto"`` is what the data
file recommends (:func:`resolve_truncation`; ``mmib extract`` files without word alignment
recommend pool), head when it says nothing.

Per-frame masks (``masks[m]``: (T,) 1 = valid frame, 0 = masked, e.g. no face found) follow
their modality: ``head`` cuts them too, ``pool`` averages only the valid frames of a window and
masks a window that has none, word-aligned repetition repeats them with the rows ([CLS] /
[SEP] rows are masked). They land in ``Example.inputs`` as ``"<m>_mask"`` (bool (T,)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .align import align_words, word_vectors
from .types import Example


def resolve_truncation(mode: str, recommended: str | None = None) -> str:
    """``data.truncation`` as applied: head or pool as set; auto: the data file's recommendation
    (``recommended``, from its extraction record) when it makes one, else head."""
    if mode != "auto":
        return mode
    return recommended if recommended in ("head", "pool") else "head"


def shortening_notes(info: dict[str, Any]) -> list[str]:
    """What training does to audio / visual sequences longer than ``max_len`` (from a dataset's
    info: ``utterances_shortened``, ``truncation``), one line per modality that has any: a
    warning when ``head`` drops frames, a note when ``pool`` averages them."""
    out = []
    total = sum((info.get("sizes") or {}).values()) or None
    for m in ("audio", "visual"):
        n = (info.get("utterances_shortened") or {}).get(m, 0)
        if not n:
            continue
        of, L = f"{n}{f' of {total}' if total else ''} {m} sequences", info.get("max_len")
        if info.get("truncation") == "pool":
            out.append(f"note: data: {of} are longer than data.max_len = {L}: each is averaged over {L} "
                       f"windows covering the whole utterance (data.truncation = pool, from the "
                       f"{info.get('truncation_from', 'config')})")
        else:
            out.append(f"warning: data: {of} are longer than data.max_len = {L}: only their first {L} steps "
                       "are used, the rest is cut (data.truncation = head); set data.truncation = 'pool' to "
                       "average over the whole utterance, or raise data.max_len")
    return out


def shorten(x: np.ndarray, max_len: int, mode: str) -> np.ndarray:
    """(T, D) -> at most (max_len, D): the first steps (head) or window means (pool)."""
    return shorten_masked(x, None, max_len, mode)[0]


def shorten_masked(x: np.ndarray, mask: np.ndarray | None, max_len: int,
                   mode: str) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`shorten` with a per-frame mask (T,) bool: ``pool`` averages only the valid
    frames of each window (a window without one is all zeros and masked); ``head`` cuts both."""
    if len(x) <= max_len:
        return x, mask
    if mode not in ("head", "pool"):
        raise ValueError(f"truncation {mode!r}: expected head or pool (resolve auto first: resolve_truncation)")
    if mode == "head":
        return x[:max_len], None if mask is None else mask[:max_len]
    edges = np.linspace(0, len(x), max_len + 1).round().astype(np.int64)  # every window >= 1 step
    w = np.ones(len(x)) if mask is None else mask.astype(np.float64)
    sums = np.add.reduceat(x.astype(np.float64) * w[:, None], edges[:-1], axis=0)
    counts = np.add.reduceat(w, edges[:-1])
    out = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
    return out, None if mask is None else counts > 0


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
                 truncated: dict[str, int] | None = None,
                 masks: dict[str, np.ndarray] | None = None) -> Example:
    """An :class:`Example` from one utterance's parts (see the module docstring).

    features: audio / visual (T, D) rows; with ``word_aligned`` one row per word. Give at
    most one of ``token_ids``, ``text_vectors`` and ``words`` for the text (none: no text
    modality). ``truncated``, if given, counts per modality the utterances that were cut.
    ``masks``: per-frame validity (T,) of some of the features (1 = valid), see the module."""
    truncation = resolve_truncation(truncation)  # auto without a file's recommendation: head
    inputs: dict[str, np.ndarray] = {}
    rows = dict(features)
    frame_masks = {m: np.asarray(v).astype(bool) for m, v in (masks or {}).items() if m in rows}
    for m, v in frame_masks.items():
        if len(v) != len(rows[m]):
            raise ValueError(f"{uid}: {m}_mask has {len(v)} frames for {len(rows[m])} {m} rows; expected one per row")
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
            packed = {**rows, **{f"{m}_mask": v[:, None].astype(np.float32) for m, v in frame_masks.items()}}
            ids, packed = align_words(words, packed, tokenizer, max_len)  # [CLS] / [SEP] rows: 0 = masked
            frame_masks = {m: packed.pop(f"{m}_mask")[:, 0] > 0.5 for m in frame_masks}
            rows = packed
        else:
            ids = tokenize(words, tokenizer, max_len)
        if len(ids) == max_len:  # at the limit: count the tokens to know if it was cut
            cut["text"] = sum(len(tokenizer.tokenize(w)) or 1 for w in words) + 2 > max_len
        inputs["text"] = ids
    for m, x in rows.items():
        cut[m] = len(x) > max_len
        inputs[m], fm = shorten_masked(x, frame_masks.get(m), max_len, truncation)
        if fm is not None:
            inputs[f"{m}_mask"] = fm
    if truncated is not None:
        for m, was_cut in cut.items():
            if m in truncated:
                truncated[m] += int(was_cut)
    shown = text if text is not None else (" ".join(words) if words else "")
    return Example(uid, inputs, np.asarray(label, dtype=np.float32), shown)


__all__ = ["make_example", "resolve_truncation", "shortening_notes", "shorten", "shorten_ids", "shorten_masked", "tokenize"]
