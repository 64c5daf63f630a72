"""The real datasets (mosi, mosei, iemocap, sims): a corpus file -> model-ready splits.

The dataset name sets the task: mosi / mosei / sims are sentiment regression (labels in
[-3, 3], SIMS in [-1, 1]); iemocap is 4 binary emotions (multilabel); mosei becomes a
6-emotion multilabel task with ``data.labels = "emotions"`` when the file has them.

Text input follows the text encoder: with a pretrained encoder (a tokenizer is given)
MMSA files give the ``text_bert`` token ids and MAG-BERT files are tokenised word by word
(each word's audio/visual row repeated over its sub-tokens, :func:`align_words`); with
``glove`` the feature-vector path reads MMSA's precomputed BERT features or the
Multimodal Transformer's GloVe vectors. Feature dims always come from the data.

Shortening to ``data.max_len`` (per modality, after padding is removed): text keeps its
first ``max_len`` steps (token ids keep the final [SEP]); audio / visual keep the first
``max_len`` steps (``data.truncation = "head"``) or average ``max_len`` equal windows that
cover the whole utterance (``"pool"``, useful for unaligned data with hundreds of frames).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..config import DataConfig
from .align import align_words
from .corpus import Corpus, CorpusSplit
from .readers import load_corpus
from .readers.common import IEMOCAP_EMOTIONS
from .types import DatasetSplits, Example
from .validate import SPLITS, DataError, RepairLog, fail

SENTIMENT_RANGE = {"mosi": 3.0, "mosei": 3.0, "sims": 1.0}
EMOTION_DATASETS = ("iemocap",)


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


def _labels(dataset: str, cfg: DataConfig, corpus: Corpus, path: str) -> tuple[str, list[str]]:
    """(kind, label names): kind is sentiment or emotions."""
    kind = cfg.labels
    if kind == "auto":
        kind = "emotions" if dataset in EMOTION_DATASETS else "sentiment"
    if dataset in EMOTION_DATASETS and kind != "emotions":
        raise DataError(f"data.labels = {cfg.labels!r}: dataset {dataset!r} has emotion labels only; "
                        "use auto or emotions")
    if kind == "emotions":
        if not corpus.has_emotions:
            raise DataError(f"{path}: data.labels = 'emotions' but the file has no emotion labels "
                            f"(reader {corpus.reader}); expected IEMOCAP (N, 4, 2) one-hot labels or "
                            "MOSEI emotion intensities (see docs/datasets.md)")
        if dataset == "iemocap" and corpus.emotion_names != IEMOCAP_EMOTIONS:
            raise DataError(f"{path}: dataset 'iemocap' expects the emotions {', '.join(IEMOCAP_EMOTIONS)} "
                            "((N, 4, 2) one-hot labels), but the file has "
                            f"{', '.join(corpus.emotion_names)}; use --dataset mosei for MOSEI emotions")
        return kind, list(corpus.emotion_names)
    if not corpus.has_sentiment:
        raise DataError(f"{path}: dataset {dataset!r} needs sentiment labels but the file has emotion "
                        f"labels only ({', '.join(corpus.emotion_names)}); use --dataset iemocap or "
                        "data.labels = 'emotions'")
    bound = SENTIMENT_RANGE.get(dataset, 3.0)
    for s in SPLITS:
        y = corpus.splits[s].sentiment
        bad = np.flatnonzero(np.abs(y) > bound + 1e-6)
        if len(bad):
            raise fail(path, s, "sentiment", int(bad[0]), f"a sentiment score in [-{bound:g}, {bound:g}] "
                       f"for dataset {dataset!r}", float(y[bad[0]]))
    return kind, ["sentiment"]


def _text_mode(corpus: Corpus, tokenizer: Any, path: str) -> str:
    """ids (stored token ids), words (tokenise words), or vectors (feature path)."""
    flds = corpus.splits["train"].fields
    if tokenizer is not None:
        if "text_ids" in flds:
            return "ids"
        if corpus.word_aligned and corpus.splits["train"].words is not None:
            return "words"
        raise DataError(f"{path}: the text is stored as feature vectors only ({corpus.reader} format: "
                        "GloVe / precomputed features, no words or token ids), so it needs "
                        "model.text_encoder = 'glove' (or drop text from data.modalities)")
    if "text_vectors" in flds:
        return "vectors"
    raise DataError(f"{path}: the {corpus.reader} file stores the text as "
                    f"{'words' if corpus.word_aligned else 'token ids'}, not vectors, so "
                    "model.text_encoder = 'glove' cannot read it; use a pretrained text encoder "
                    "(e.g. --text-encoder minilm) or drop text from data.modalities")


def _check_vocab(sp: CorpusSplit, tokenizer: Any, path: str, split: str) -> None:
    r = sp.fields["text_ids"]
    if not len(r.values):
        return
    vocab = len(tokenizer)
    if int(r.values.max()) >= vocab:
        row = int(np.searchsorted(r.offsets, int(np.argmax(r.values >= vocab)), side="right") - 1)
        raise fail(path, split, "text_bert", row, f"token ids below {vocab} (the vocabulary of the "
                   "text encoder's tokenizer; MMSA's SIMS uses bert-base-chinese)", int(r[row].max()))


def _examples(corpus: Corpus, split: str, cfg: DataConfig, tokenizer: Any, mode: str | None,
              kind: str, truncated: dict[str, int]) -> list[Example]:
    sp = corpus.splits[split]
    labels = sp.emotions if kind == "emotions" else sp.sentiment[:, None]
    feats = [m for m in ("audio", "visual") if m in cfg.modalities]
    out = []
    for i in range(len(sp)):
        inputs: dict[str, np.ndarray] = {}
        rows = {m: sp.fields[m][i] for m in feats}
        if mode == "words":
            ids, aligned = align_words(sp.words[i], rows, tokenizer, cfg.max_len)
            if len(ids) == cfg.max_len:  # at the limit: count the tokens to know if it was cut
                truncated["text"] += sum(len(tokenizer.tokenize(w)) or 1 for w in sp.words[i]) + 2 > cfg.max_len
            inputs["text"] = ids
            rows = aligned
        elif mode == "ids":
            x = sp.fields["text_ids"][i]
            truncated["text"] += len(x) > cfg.max_len
            inputs["text"] = shorten_ids(x, cfg.max_len)
        elif mode == "vectors":
            x = sp.fields["text_vectors"][i]
            truncated["text"] += len(x) > cfg.max_len
            inputs["text"] = x[: cfg.max_len]
        for m in feats:
            truncated[m] += len(rows[m]) > cfg.max_len
            inputs[m] = shorten(rows[m], cfg.max_len, cfg.truncation)
        text = sp.raw_text[i] if sp.raw_text is not None else ""
        out.append(Example(sp.ids[i], inputs, labels[i].astype(np.float32), text))
    return out


def require_path(dataset: str, cfg: DataConfig) -> None:
    """data.path is given and exists (checked before a text encoder is loaded)."""
    if not cfg.path:
        raise DataError(f"data.path: dataset {dataset!r} reads a feature file; pass --data-path FILE "
                        "(docs/datasets.md lists where the files come from)")
    if not Path(cfg.path).exists():
        raise FileNotFoundError(f"data.path: {cfg.path}: data file not found")


def build(dataset: str, cfg: DataConfig, tokenizer: Any) -> DatasetSplits:
    """Read ``cfg.path`` and build the splits of ``dataset`` (mosi, mosei, iemocap, sims)."""
    require_path(dataset, cfg)
    wanted = {m for m in ("audio", "visual") if m in cfg.modalities}
    if "text" in cfg.modalities:
        wanted.add("text_ids" if tokenizer is not None else "text_vectors")
    corpus = load_corpus(cfg.path, cfg.format, fields=wanted)
    path = corpus.source.get("converted_file", corpus.source.get("file", cfg.path))
    kind, names = _labels(dataset, cfg, corpus, path)
    missing = sorted(m for m in ("audio", "visual") if m in wanted and m not in corpus.splits["train"].fields)
    if missing:
        raise DataError(f"data.modalities: {missing} not in {path} (it has "
                        f"{sorted(corpus.splits['train'].fields)}); drop them from data.modalities")
    mode = _text_mode(corpus, tokenizer, path) if "text" in cfg.modalities else None
    if mode == "ids":
        for s in SPLITS:
            _check_vocab(corpus.splits[s], tokenizer, path, s)
    truncated = {m: 0 for m in cfg.modalities}
    splits = {s: _examples(corpus, s, cfg, tokenizer, mode, kind, truncated) for s in SPLITS}
    dims = {m: corpus.splits["train"].fields[m].dim for m in ("audio", "visual") if m in cfg.modalities}
    if mode is not None:
        dims["text"] = corpus.splits["train"].fields["text_vectors"].dim if mode == "vectors" else 0
    repairs = RepairLog()
    repairs.merge(corpus.repairs)
    text_input = {"ids": "token ids stored in the file (text_bert)", "words": "words tokenised by the "
                  "text encoder's tokenizer, audio/visual rows repeated per sub-token",
                  "vectors": "feature vectors stored in the file", None: "not used"}[mode]
    info = {
        "source": corpus.source,
        "reader": corpus.reader,
        "labels": kind,
        "text_input": text_input,
        "lengths": corpus.notes,
        "max_len": cfg.max_len,
        "truncation": cfg.truncation,
        "utterances_shortened": truncated,
        "repairs": repairs.totals(),
        "repairs_per_split": repairs.counts,
    }
    task = "multilabel" if kind == "emotions" else "regression"
    return DatasetSplits(**splits, dataset=dataset, task=task, label_names=names, dims=dims, info=info)
