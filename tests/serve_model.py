"""Test helper for the serving tests: a tiny model trained once on a converted corpus whose
extraction record names the real librosa and face extractors, so a new clip is extracted
the way its training data says (the features themselves are random: the model only has to
exist, not to be good)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmib.data.corpus import Corpus, CorpusSplit, Ragged
from mmib.data.readers import converted
from mmib.extract import EXTRACTORS
from mmib.extract.pipeline import Plan

SIZES = {"train": 16, "valid": 8, "test": 8}
WORDS = ["good", "bad", "film", "great", "awful", "plot", "nice", "boring", "fun", "sad"]
TINY = ["model.text_encoder='tiny-config'", "model.d=10", "model.n_heads=2", "model.ib_hidden=16",
        "train.epochs=1", "train.batch_size=8", "train.progress=false", "optim.lr=1e-3", "optim.text_lr=1e-3",
        "data.max_len=40"]


def clip_corpus(*, seed: int = 0, max_frames: int = 40, text_encoder_words: bool = True) -> Corpus:
    """Random librosa (50) and face (41) features with sentiment in [-3, 3]."""
    rng = np.random.default_rng(seed)
    plan = Plan({"audio": "librosa", "visual": "face"}, {}, False, max_frames)
    da, dv = EXTRACTORS.get("librosa").dim, EXTRACTORS.get("face").dim
    splits = {}
    for s, n in SIZES.items():
        y = rng.uniform(-3, 3, n).astype(np.float32)
        words = [list(rng.choice(WORDS, int(rng.integers(2, 6)))) for _ in range(n)]
        ta = [int(rng.integers(5, max_frames)) for _ in range(n)]
        tv = [int(rng.integers(3, max_frames)) for _ in range(n)]
        fields = {"audio": Ragged.from_list([(rng.standard_normal((t, da)) + y[i]).astype(np.float32)
                                             for i, t in enumerate(ta)], (da,), np.float32),
                  "audio_mask": Ragged.from_list([np.ones(t, np.uint8) for t in ta], (), np.uint8),
                  "visual": Ragged.from_list([rng.standard_normal((t, dv)).astype(np.float32) for t in tv],
                                             (dv,), np.float32),
                  "visual_mask": Ragged.from_list([np.ones(t, np.uint8) for t in tv], (), np.uint8)}
        splits[s] = CorpusSplit([f"{s}{i}" for i in range(n)], fields, y, None, [" ".join(w) for w in words], words)
    dataset = {"name": "clipsdemo", "labels": "sentiment", "sentiment_range": 3.0, "emotion_names": []}
    return Corpus(splits, "extract", emotion_names=[], word_aligned=False, source={"file": "generated"},
                  dataset=dataset, extraction=plan.record())


def train_clip_model(folder: Path, *extra: str) -> Path:
    """Train the tiny C-MIB on :func:`clip_corpus`; returns the run directory."""
    from mmib.cli import main

    data = converted.write(clip_corpus(), folder / "clips.safetensors")
    sets = [a for kv in [*TINY, *extra] for a in ("--set", kv)]
    code = main(["train", *sets, "--data-path", str(data), "--modalities", "text,audio,visual",
                 "--out-dir", str(folder), "--name", "served", "--quiet"])
    assert code == 0
    return folder / "served"
