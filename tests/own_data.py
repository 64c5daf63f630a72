"""Test helper: a small converted corpus of the kind `mmib extract` writes (features, per-frame
masks, transcripts, the file's own dataset description and extraction record)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmib.data.corpus import Corpus, CorpusSplit, Ragged
from mmib.data.readers import converted

SIZES = {"train": 24, "valid": 8, "test": 8}
WORDS = ["good", "bad", "film", "great", "awful", "plot", "nice", "boring", "fun", "sad"]
EXTRACTION = {"audio": {"name": "librosa", "dim": 3, "frame_rate": 100.0}, "visual": {"name": "haar", "dim": 4},
              "aligned": False, "max_frames": None, "sample_rate": 16000, "fps": 25.0, "mmib": "test"}


def own_corpus(*, labels: str = "sentiment", sentiment_range: float = 1.0, seed: int = 0,
               masked_visual: float = 0.3, describe: bool = True, name: str = "myclips",
               emotion_names: tuple[str, ...] = ("happy", "sad", "angry"), word_aligned: bool = False) -> Corpus:
    """Sentiment in [-range, range] learnable from the audio mean, or emotions; visual frames
    masked at random with probability ``masked_visual`` (their values are noise)."""
    rng = np.random.default_rng(seed)
    splits = {}
    for s, n in SIZES.items():
        y = rng.uniform(-sentiment_range, sentiment_range, n).astype(np.float32)
        words = [list(rng.choice(WORDS, int(rng.integers(2, 6)))) for _ in range(n)]
        lengths = [len(w) if word_aligned else int(rng.integers(3, 12)) for w in words]
        audio = [(rng.standard_normal((t, 3)) + y[i]).astype(np.float32) for i, t in enumerate(lengths)]
        visual = [rng.standard_normal((t, 4)).astype(np.float32) for t in lengths]
        vmask = [(rng.random(t) >= masked_visual).astype(np.uint8) for t in lengths]
        fields = {"audio": Ragged.from_list(audio, (3,), np.float32),
                  "visual": Ragged.from_list(visual, (4,), np.float32),
                  "visual_mask": Ragged.from_list(vmask, (), np.uint8)}
        emotions = None
        if labels == "emotions":
            emotions = (rng.random((n, len(emotion_names))) < 0.5).astype(np.float32)
        splits[s] = CorpusSplit([f"{s}{i}" for i in range(n)], fields, y if labels == "sentiment" else None,
                                emotions, [" ".join(w) for w in words], words)
    dataset = {}
    if describe:
        dataset = {"name": name, "labels": labels,
                   "sentiment_range": sentiment_range if labels == "sentiment" else None,
                   "emotion_names": list(emotion_names) if labels == "emotions" else []}
    return Corpus(splits, "extract", emotion_names=list(emotion_names) if labels == "emotions" else [],
                  word_aligned=word_aligned, source={"file": "generated"}, dataset=dataset, extraction=dict(EXTRACTION))


def write_own(path: Path, **kw) -> Path:
    return converted.write(own_corpus(**kw), path)
