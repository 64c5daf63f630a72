"""Small data files in the three formats in circulation, written by the tests.

Same structure, key names, dtypes, padding conventions and feature dims as the real
files (docs/datasets.md); only the number of utterances is small. Labels depend on the
features a little so that training has something to learn.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

SIZES = (24, 8, 8)
WORDS = ("the movie was really good bad great awful i um it so and just like boring "
         "fun plot actor a of loved hated okay").split()


def _sentiment(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.clip(np.round(rng.normal(0, 1.5, n) / 0.2) * 0.2, -3, 3)


def write_mmsa(path: Path, *, sizes=SIZES, aligned: bool = True, audio_dim: int = 5, vision_dim: int = 20,
               text_len: int = 50, steps: tuple[int, int] = (375, 500), label_bound: float = 3.0,
               neg_inf: bool = True, seed: int = 0, protocol: int = 4) -> Path:
    """An MMSA ``aligned_50.pkl`` / ``unaligned_50.pkl`` look-alike (MOSI dims by default)."""
    rng = np.random.default_rng(seed)
    data = {}
    for split, n in zip(("train", "valid", "test"), sizes):
        y = _sentiment(rng, n) * label_bound / 3
        n_tok = rng.integers(5, text_len - 5, n)
        text_bert = np.zeros((n, 3, text_len), dtype=np.float64)
        text = np.zeros((n, text_len, 768), dtype=np.float32)
        for i, k in enumerate(n_tok):
            text_bert[i, 0, :k] = np.r_[101, rng.integers(1000, 29000, k - 2), 102]
            text_bert[i, 1, :k] = 1
            text[i, :k] = rng.normal(0, 1, (k, 768)) + 0.3 * y[i]
        ta, tv = (text_len, text_len) if aligned else steps
        audio = np.zeros((n, ta, audio_dim), dtype=np.float32)
        vision = np.zeros((n, tv, vision_dim), dtype=np.float32)
        a_len = n_tok.copy() if aligned else rng.integers(20, ta, n)
        v_len = n_tok.copy() if aligned else rng.integers(20, tv, n)
        for i in range(n):
            audio[i, : a_len[i]] = rng.normal(0, 1, (a_len[i], audio_dim)) + 0.2 * y[i]
            vision[i, : v_len[i]] = rng.normal(0, 1, (v_len[i], vision_dim)) + 0.2 * y[i]
        if neg_inf:  # MMSA's audio holds -inf (its loader sets them to 0)
            audio[0, 0, 0] = -np.inf
        data[split] = {
            "id": np.array([f"vid{split}{i // 3}$_${i % 3}" for i in range(n)], dtype=object),
            "raw_text": np.array([" ".join(rng.choice(WORDS, 6)) for _ in range(n)], dtype=object),
            "text": text, "text_bert": text_bert, "audio": audio, "vision": vision,
            "audio_lengths": list(a_len), "vision_lengths": list(v_len),
            "annotations": np.array(["Positive" if v > 0 else "Negative" for v in y], dtype=object),
            "classification_labels": (y > 0).astype(np.float32),
            "regression_labels": y.astype(np.float32),
        }
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    return path


def write_magbert(path: Path, *, sizes=SIZES, visual_dim: int = 47, audio_dim: int = 74, seed: int = 0,
                  sdk_labels: bool = False, protocol: int = 4) -> Path:
    """A MAG-BERT ``mosi.pkl`` look-alike: train/dev/test lists of ((words, v, a), label, segment)."""
    rng = np.random.default_rng(seed)
    data = {}
    for split, n in zip(("train", "dev", "test"), sizes):
        items = []
        for i in range(n):
            k = int(rng.integers(3, 20))
            y = float(_sentiment(rng, 1)[0])
            words = list(rng.choice(WORDS, k))
            visual = rng.normal(0, 1, (k, visual_dim)) + 0.2 * y
            acoustic = rng.normal(0, 1, (k, audio_dim)) + 0.2 * y
            if sdk_labels:  # [sentiment, happy, sad, anger, surprise, disgust, fear] intensities
                label = np.r_[y, rng.choice([0.0, 0.0, 0.33, 1.0, 2.67], 6)].reshape(1, 7)
            else:
                label = np.array([[y]])
            items.append(((words, visual, acoustic), label, f"seg{split}{i}"))
        data[split] = items
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    return path


def write_mult(path: Path, *, sizes=SIZES, kind: str = "mosi", aligned: bool = True, seed: int = 0,
               protocol: int = 2) -> Path:
    """A Multimodal Transformer ``mosi_data.pkl`` / ``iemocap_data.pkl`` look-alike.

    kind: mosi (dims 300 / 5 / 20, 50 steps, labels (N, 1, 1), ids (video, start, end) bytes)
    or iemocap (dims 300 / 74 / 35, 20 steps, labels (N, 4, 2) one-hot). Left zero padding.
    """
    rng = np.random.default_rng(seed)
    steps, a_dim, v_dim = (50, 5, 20) if kind == "mosi" else (20, 74, 35)
    ta, tv = (steps, steps) if aligned else (375, 500)
    data = {}
    for split, n in zip(("train", "valid", "test"), sizes):
        if kind == "mosi":
            y = _sentiment(rng, n)
            labels = y.reshape(n, 1, 1).astype(np.float32)
            score = y
        else:
            present = rng.random((n, 4)) < 0.35
            labels = np.stack([~present, present], axis=2).astype(np.float32)
            score = present[:, 1].astype(float) * 2 - 1
        text = np.zeros((n, steps, 300), dtype=np.float32)
        audio = np.zeros((n, ta, a_dim), dtype=np.float32)
        vision = np.zeros((n, tv, v_dim), dtype=np.float32)
        for i in range(n):
            k = int(rng.integers(3, steps))
            text[i, steps - k:] = rng.normal(0, 0.3, (k, 300)) + 0.1 * score[i]
            ka, kv = (k, k) if aligned else (int(rng.integers(10, ta)), int(rng.integers(10, tv)))
            audio[i, ta - ka:] = rng.normal(0, 1, (ka, a_dim)) + 0.2 * score[i]
            vision[i, tv - kv:] = rng.normal(0, 1, (kv, v_dim)) + 0.2 * score[i]
        d = {"text": text, "audio": audio, "vision": vision, "labels": labels}
        if kind == "mosi":
            d["id"] = np.array([[f"vid{i // 3}".encode(), str(i).encode(), str(i + 1).encode()]
                                for i in range(n)], dtype=object)
        data[split] = d
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    return path
