"""`synth`: a deterministic, MOSI-shaped synthetic sentiment dataset (docs/synth.md).

Generative process, per utterance (all draws from one ``numpy`` PCG64 stream seeded by
``synth.seed``):

1. Latent factors u_text, u_audio, u_visual ~ N(0, 1), independent.
2. Sentiment s = sum_m sqrt(w_m) u_m with w_m the normalised modality shares, so each
   modality carries its share of the label variance and no single one carries all of it;
   label y = clip(1.5 s + N(0, 0.15^2), -3, 3) rounded to a multiple of 0.2 (MOSI-like
   spread: mean ~0, sd ~1.5, some exact zeros).
3. Text: a log-normal number of words (mean ``mean_words``, 2..45); each word is a
   sentiment word with probability 0.35, else a neutral word; a sentiment word is positive
   with probability sigmoid(2 u_text), and its polarity is flipped with probability
   ``text_noise``.
4. Acoustic (74-d) and visual (47-d): one row per word,
   x_t = u_m v_m + 0.5 e_t v_m + noise_m (A_m n + c + 0.5 A_m n_t) + 0.3 g_t,
   v_m a fixed signal direction (norm 3), A_m a fixed 8-factor nuisance basis, n (8-d)
   and c (full-dim, isotropic) utterance-level and n_t per-step nuisance draws (speaker /
   recording effects that carry no label information and do not average out over the
   utterance), e_t and g_t white noise. ``*_noise`` scales the nuisance.
"""

from __future__ import annotations

import numpy as np

from ..config import DataConfig
from .examples import make_example
from .types import DatasetSplits, Example

POSITIVE = (
    "good great excellent amazing wonderful love loved lovely enjoy enjoyed fun funny "
    "beautiful brilliant awesome fantastic perfect best happy nice pleasant charming "
    "superb delightful impressive touching hilarious gorgeous fresh smart clever strong "
    "solid recommend entertaining engaging moving powerful exciting favorite terrific"
).split()
NEGATIVE = (
    "bad terrible awful horrible boring worst hate hated dull stupid poor weak waste "
    "annoying disappointing mess ugly sad painful lame silly pointless tedious bland "
    "cheap predictable confusing slow wrong worse unfunny forgettable messy awkward "
    "ridiculous mediocre failed flat lazy tiresome dreadful"
).split()
NEUTRAL = (
    "the a an movie film it was is and i um uh so but this that just like really "
    "actor story plot scene character director thing part kind of to in on at with "
    "he she they we you my his her there here then well about very quite know think "
    "mean also maybe little lot bit some time end beginning way people guy music "
    "ending camera script watching saw seen going went"
).split()

AUDIO_DIM, VISUAL_DIM, N_NUISANCE = 74, 47, 8


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def generate(cfg: DataConfig, tokenizer=None) -> DatasetSplits:
    """Generate the splits. With a tokenizer, text is token ids with word-aligned
    acoustic/visual rows (MAG-BERT scheme); without, text is 300-d pseudo word vectors."""
    s = cfg.synth
    rng = np.random.default_rng(s.seed)
    shares = np.array([s.text_share, s.audio_share, s.visual_share], dtype=np.float64)
    weights = np.sqrt(shares / shares.sum())
    basis = {}
    for m, dim in (("audio", AUDIO_DIM), ("visual", VISUAL_DIM)):
        v = rng.standard_normal(dim)
        basis[m] = (3.0 * v / np.linalg.norm(v), rng.standard_normal((dim, N_NUISANCE)) / np.sqrt(N_NUISANCE))
    noise = {"audio": s.audio_noise, "visual": s.visual_noise}

    def utterance(idx: str) -> Example:
        u = rng.standard_normal(3)
        y = float(np.clip(1.5 * (weights @ u) + 0.15 * rng.standard_normal(), -3, 3))
        y = round(y / 0.2) * 0.2
        n = int(np.clip(round(rng.lognormal(np.log(s.mean_words) - 0.18, 0.6)), 2, 45))
        p_pos = _sigmoid(2.0 * u[0])
        words = []
        for _ in range(n):
            if rng.random() < 0.35:
                positive = rng.random() < p_pos
                if rng.random() < s.text_noise:
                    positive = not positive
                lex = POSITIVE if positive else NEGATIVE
            else:
                lex = NEUTRAL
            words.append(lex[rng.integers(len(lex))])
        feats = {}
        for j, m in ((1, "audio"), (2, "visual")):
            v, A = basis[m]
            e = rng.standard_normal((n, 1))
            n_utt = rng.standard_normal(N_NUISANCE)
            n_step = rng.standard_normal((n, N_NUISANCE))
            white = rng.standard_normal((n, len(v)))
            c = rng.standard_normal(len(v))
            x = (u[j] + 0.5 * e) * v + noise[m] * (A @ n_utt + c + 0.5 * n_step @ A.T) + 0.3 * white
            feats[m] = x.astype(np.float32)
        return make_example(idx, np.array([y], dtype=np.float32), features=feats, words=words,
                            tokenizer=tokenizer, word_aligned=True, max_len=cfg.max_len,
                            truncation=cfg.truncation)

    splits = {
        name: [utterance(f"synth_{name}_{i:05d}") for i in range(count)]
        for name, count in (("train", s.n_train), ("valid", s.n_valid), ("test", s.n_test))
    }
    dims = {"text": 0 if tokenizer is not None else 300, "audio": AUDIO_DIM, "visual": VISUAL_DIM}
    return DatasetSplits(
        **splits,
        dataset="synth",
        task="regression",
        label_names=["sentiment"],
        dims=dims,
        metrics="sentiment",
        info={"source": f"synth(seed={s.seed})", "reader": "synth"},
    )
