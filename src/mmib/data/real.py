"""File-backed datasets (mosi, mosei, iemocap, sims, ...): a corpus file -> model-ready splits.

What a dataset's labels are (sentiment range, emotion names) and how it is scored come from
its :class:`~mmib.data.datasets.DatasetSpec`; this module reads ``data.path`` with the reader
``data.format``, checks the labels against the spec and builds the examples.

Text input follows the text encoder: with a pretrained encoder (a tokenizer is given)
MMSA files give the ``text_bert`` token ids and MAG-BERT files are tokenised word by word
(each word's audio/visual row repeated over its sub-tokens); with ``glove`` the
feature-vector path reads MMSA's precomputed BERT features or the Multimodal Transformer's
GloVe vectors. Feature dims always come from the data. Shortening to ``data.max_len``:
:mod:`mmib.data.examples`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..config import DataConfig
from .corpus import Corpus, CorpusSplit
from .examples import make_example, resolve_truncation
from .readers import load_corpus
from .types import DatasetSplits, Example
from .validate import SPLITS, DataError, RepairLog, fail


def _labels(dataset: str, spec, cfg: DataConfig, corpus: Corpus, path: str) -> tuple[str, list[str]]:
    """(kind, label names): kind is sentiment, emotions (multi-label) or classes (one per utterance)."""
    try:
        kind = spec.label_kind(cfg.labels, dataset)
    except ValueError as e:
        raise DataError(str(e)) from None
    if kind in ("emotions", "classes"):
        if not corpus.has_emotions:
            raise DataError(f"{path}: data.labels = {kind!r} but the file has no emotion labels "
                            f"(reader {corpus.reader}); expected IEMOCAP (N, 4, 2) one-hot labels or "
                            "MOSEI emotion intensities (see docs/datasets.md)")
        if spec.fixed_emotions and list(corpus.emotion_names) != list(spec.emotions):
            raise DataError(f"{path}: dataset {dataset!r} expects the emotions {', '.join(spec.emotions)} "
                            f"(({len(spec.emotions)}, 2) one-hot labels per utterance), but the file has "
                            f"{', '.join(corpus.emotion_names)}; use --dataset mosei for MOSEI emotions")
        if kind == "classes":
            for s in SPLITS:
                counts = (corpus.splits[s].emotions > 0.5).sum(axis=1)
                bad = np.flatnonzero(counts != 1)
                if len(bad):
                    raise fail(path, s, "labels", int(bad[0]), "exactly one class per utterance "
                               "(data.labels = 'classes'; use 'emotions' for several per utterance)",
                               f"{int(counts[bad[0]])} classes")
        return kind, list(corpus.emotion_names)
    if not corpus.has_sentiment:
        raise DataError(f"{path}: dataset {dataset!r} needs sentiment labels but the file has emotion "
                        f"labels only ({', '.join(corpus.emotion_names)}); use --dataset iemocap or "
                        "data.labels = 'emotions'")
    bound = spec.sentiment_range
    for s in SPLITS:
        y = corpus.splits[s].sentiment
        bad = np.flatnonzero(np.abs(y) > bound + 1e-6)
        if len(bad):
            raise fail(path, s, "sentiment", int(bad[0]), f"a sentiment score in [-{bound:g}, {bound:g}] "
                       f"for dataset {dataset!r}", float(y[bad[0]]))
    return kind, ["sentiment"]


def masked_fraction(corpus: Corpus, modality: str) -> dict[str, float]:
    """Per split, the fraction of ``modality``'s frames its ``<modality>_mask`` marks invalid."""
    out = {}
    for s in SPLITS:
        r = corpus.splits[s].fields.get(f"{modality}_mask")
        if r is not None:
            out[s] = round(float((r.values == 0).mean()) if len(r.values) else 0.0, 6)
    return out


def _text_mode(corpus: Corpus, tokenizer: Any, path: str) -> str:
    """ids (stored token ids), words (tokenise words), or vectors (feature path)."""
    flds = corpus.splits["train"].fields
    if tokenizer is not None:
        if "text_ids" in flds:
            return "ids"
        if corpus.splits["train"].words is not None:
            return "words"  # one feature row per word when word_aligned, else a sentence to tokenise
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
    labels = sp.sentiment[:, None] if kind == "sentiment" else sp.emotions
    feats = [m for m in ("audio", "visual") if m in cfg.modalities]
    masked = [m for m in feats if f"{m}_mask" in sp.fields]
    out = []
    for i in range(len(sp)):
        text: dict[str, Any] = {}
        if mode == "words":
            text = {"words": sp.words[i], "word_aligned": corpus.word_aligned}
        elif mode == "ids":
            text = {"token_ids": sp.fields["text_ids"][i]}
        elif mode == "vectors":
            text = {"text_vectors": sp.fields["text_vectors"][i]}
        out.append(make_example(sp.ids[i], labels[i], features={m: sp.fields[m][i] for m in feats},
                                max_len=cfg.max_len, truncation=cfg.truncation, tokenizer=tokenizer,
                                text=sp.raw_text[i] if sp.raw_text is not None else "",
                                truncated=truncated, masks={m: sp.fields[f"{m}_mask"][i] for m in masked},
                                **text))
    return out


def build(cfg: DataConfig, tokenizer: Any, spec) -> DatasetSplits:
    """Read ``cfg.path`` and build the splits of the dataset ``cfg.dataset`` described by ``spec``."""
    dataset = cfg.dataset
    wanted = {m for m in ("audio", "visual") if m in cfg.modalities}
    wanted |= {f"{m}_mask" for m in wanted}  # per-frame masks, where the file has them
    if "text" in cfg.modalities:
        wanted.add("text_ids" if tokenizer is not None else "text_vectors")
    corpus = load_corpus(cfg.path, cfg.format, fields=wanted)
    path = corpus.source.get("converted_file", corpus.source.get("file", cfg.path))
    kind, names = _labels(dataset, spec, cfg, corpus, path)
    missing = sorted(m for m in ("audio", "visual") if m in wanted and m not in corpus.splits["train"].fields)
    if missing:
        raise DataError(f"data.modalities: {missing} not in {path} (it has "
                        f"{sorted(corpus.splits['train'].fields)}); drop them from data.modalities (e.g. "
                        f"--modalities {','.join(m for m in cfg.modalities if m not in missing) or 'text'})")
    mode = _text_mode(corpus, tokenizer, path) if "text" in cfg.modalities else None
    if mode == "ids":
        for s in SPLITS:
            _check_vocab(corpus.splits[s], tokenizer, path, s)
    recommended = (corpus.extraction or {}).get("truncation")
    truncation_from = "config" if cfg.truncation != "auto" else "data file" if recommended else "default"
    cfg = dataclasses.replace(cfg, truncation=resolve_truncation(cfg.truncation, recommended))
    truncated = {m: 0 for m in cfg.modalities}
    splits = {s: _examples(corpus, s, cfg, tokenizer, mode, kind, truncated) for s in SPLITS}
    dims = {m: corpus.splits["train"].fields[m].dim for m in ("audio", "visual") if m in cfg.modalities}
    if mode is not None:
        dims["text"] = corpus.splits["train"].fields["text_vectors"].dim if mode == "vectors" else 0
    repairs = RepairLog()
    repairs.merge(corpus.repairs)
    text_input = {"ids": "token ids stored in the file (text_bert)",
                  "words": "words tokenised by the text encoder's tokenizer" + (
                      ", audio/visual rows repeated per sub-token" if corpus.word_aligned else ""),
                  "vectors": "feature vectors stored in the file", None: "not used"}[mode]
    info = {
        "source": corpus.source,
        "reader": corpus.reader,
        "labels": kind,
        "text_input": text_input,
        "lengths": corpus.notes,
        "max_len": cfg.max_len,
        "truncation": cfg.truncation,
        "truncation_from": truncation_from,
        "utterances_shortened": truncated,
        "frame_masks": {m: masked_fraction(corpus, m) for m in dims if f"{m}_mask" in corpus.splits["train"].fields},
        "repairs": repairs.totals(),
        "repairs_per_split": repairs.counts,
    }
    if corpus.dataset:
        info["described_as"] = corpus.dataset  # what the file says about itself
    if corpus.extraction:
        info["extraction"] = corpus.extraction  # how to extract a new clip the same way
    return DatasetSplits(**splits, dataset=dataset, task=spec.task(kind), label_names=names, dims=dims,
                         metrics=spec.metric_family(kind), info=info)
