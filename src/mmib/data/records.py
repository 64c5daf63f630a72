"""Utterances given as JSON-style records (``mmib predict FILE.jsonl``, ``model.predict([...])``)
-> :class:`Example`, checked against what a trained model expects.

JSON-lines schema (one utterance per line; see docs/evaluation.md):
  id            string (default: "line<k>")
  words         list of words, or ``text``: a string split on whitespace (pretrained text
                encoders); ``token_ids``: ids already tokenised incl. [CLS]/[SEP] instead
  text_vectors  [[...], ...] (L, D_text) feature vectors, for models whose text path reads vectors
  audio         [[...], ...] (T_a, D_a);  visual: [[...], ...] (T_v, D_v)
                when they have one row per word, the rows are repeated over each word's
                sub-tokens (the MAG-BERT alignment the training data used)
  audio_mask    optional [0/1, ...] one flag per audio row (1 = valid frame); visual_mask: the
                same for visual (e.g. no face found), as in files from ``mmib extract``
  label         optional: a number (sentiment) or a list with one 0/1 entry per label
Sequences longer than ``data.max_len`` are shortened as in training (``data.truncation``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..config import DataConfig
from .examples import make_example
from .jsonlines import json_lines
from .types import Example


def read_jsonl(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(records, where) from a JSON-lines file; ``where`` is ``file:line`` for each record."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: input file not found")
    records, where = [], []
    for n, rec in json_lines(path):
        rec.setdefault("id", f"line{n}")
        records.append(rec)
        where.append(f"{path}:{n}")
    if not records:
        raise ValueError(f"{path}: no utterances (expected one JSON object per line)")
    return records, where


def _matrix(value: Any, where: str, name: str, dim: int) -> np.ndarray:
    try:
        x = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name!r} must be a list of rows of numbers") from None
    if x.ndim != 2 or x.shape[1] != dim or len(x) == 0:
        raise ValueError(f"{where}: {name!r} has shape {x.shape}; expected (T >= 1, {dim}) rows of {dim} numbers")
    if not np.isfinite(x).all():
        raise ValueError(f"{where}: {name!r} holds NaN or inf values")
    return x


def record_example(rec: dict[str, Any], where: str, *, cfg: DataConfig, dims: dict[str, int], tokenizer: Any,
                   n_labels: int) -> Example:
    """One record -> :class:`Example` for a model trained on ``cfg.modalities`` with ``dims``;
    ``tokenizer`` None means the text is read as vectors."""
    feats: dict[str, np.ndarray] = {}
    masks: dict[str, np.ndarray] = {}
    for m in ("audio", "visual"):
        if m not in cfg.modalities:
            continue
        if m not in rec:
            raise ValueError(f"{where}: field {m!r} missing; the model uses {cfg.modalities}")
        feats[m] = _matrix(rec[m], where, m, dims[m])
        if rec.get(f"{m}_mask") is not None:
            flags = np.asarray(rec[f"{m}_mask"]).reshape(-1)
            if len(flags) != len(feats[m]) or not np.isin(flags, (0, 1)).all():
                raise ValueError(f"{where}: {m + '_mask'!r} must hold one 0/1 flag per {m} row "
                                 f"({len(feats[m])}), got {len(flags)} values")
            masks[m] = flags.astype(bool)
    text: dict[str, Any] = {}
    if "text" in cfg.modalities:
        if tokenizer is None:
            if "text_vectors" not in rec:
                raise ValueError(f"{where}: field 'text_vectors' missing (this model reads text "
                                 "as feature vectors, text_encoder = glove)")
            text = {"text_vectors": _matrix(rec["text_vectors"], where, "text_vectors", dims["text"])}
        elif "token_ids" in rec:
            text = {"token_ids": np.asarray(rec["token_ids"], dtype=np.int64).reshape(-1)}
        else:
            words = rec.get("words") or str(rec.get("text", "")).split()
            if not isinstance(words, list) or not words:
                raise ValueError(f"{where}: give 'words' (a list), 'text' (a string) or 'token_ids'")
            words = [str(w) for w in words]
            aligned = bool(feats) and all(len(f) == len(words) for f in feats.values())
            text = {"words": words, "word_aligned": aligned}
    label = np.full(n_labels, np.nan, dtype=np.float32)
    if rec.get("label") is not None:
        label = np.asarray(rec["label"], dtype=np.float32).reshape(-1)
        if len(label) != n_labels:
            raise ValueError(f"{where}: 'label' has {len(label)} values; expected {n_labels}")
    # vectors given as text are cut at max_len like the training files' (head), features as trained
    return make_example(str(rec["id"]), label, features=feats, max_len=cfg.max_len, truncation=cfg.truncation,
                        tokenizer=tokenizer, masks=masks, **text)


__all__ = ["read_jsonl", "record_example"]
