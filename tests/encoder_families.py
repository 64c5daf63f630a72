"""Tiny random-weight text encoders of every family mmib supports, each with a tokenizer of its
family's kind (WordPiece, byte-level BPE, SentencePiece-style Unigram) built from the synth
vocabulary: folders written with save_pretrained, loaded through mmib's ordinary path
(``model.text_encoder = <folder>``), no download."""

from __future__ import annotations

from pathlib import Path

from mmib.data.synth import NEGATIVE, NEUTRAL, POSITIVE

WORDS = sorted(set(POSITIVE + NEGATIVE + NEUTRAL))
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
CHINESE = list("我们很喜欢这部电影不好看")
SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=128)

# family -> (model_type as transformers names it, what the tokenizer is)
FAMILIES = {
    "bert-chinese": "bert",
    "roberta": "roberta",
    "xlm-roberta": "xlm-roberta",
    "electra": "electra",
    "deberta-v2": "deberta-v2",
    "deberta-v3": "deberta-v2",
    "mpnet": "mpnet",
}


def _wordpiece(extra: list[str] = (), specials: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
               ) -> dict[str, int]:
    toks = [*specials, *WORDS, *LETTERS, *[f"##{c}" for c in LETTERS], *extra]
    return {t: i for i, t in enumerate(dict.fromkeys(toks))}


def _unigram(specials: list[str]) -> list[tuple[str, float]]:
    pieces = [(s, 0.0) for s in specials] + [("\u2581" + w, -2.0) for w in WORDS] + [("\u2581", -3.0)]
    return pieces + [(c, -5.0) for c in LETTERS]


def tokenizer(family: str):
    import transformers as tf

    if family == "bert-chinese":
        return tf.BertTokenizer(vocab=_wordpiece(CHINESE), tokenize_chinese_chars=True)
    if family == "electra":
        return tf.ElectraTokenizer(vocab=_wordpiece())
    if family == "mpnet":  # WordPiece with RoBERTa's specials: <s> 0, <pad> 1, </s> 2
        return tf.MPNetTokenizer(vocab=_wordpiece(specials=("<s>", "<pad>", "</s>", "[UNK]", "<mask>")))
    if family == "roberta":
        from tokenizers.pre_tokenizers import ByteLevel

        chars = sorted(ByteLevel.alphabet())
        toks = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *chars, *["\u0120" + w for w in WORDS]]
        vocab = {t: i for i, t in enumerate(dict.fromkeys(toks))}
        merges = []  # whole words through merges, letter by letter: the BPE path is exercised
        for w in WORDS:
            parts = ["\u0120", *w]
            while len(parts) > 1:
                merges.append((parts[0], parts[1]))
                parts = [parts[0] + parts[1], *parts[2:]]
                vocab.setdefault(parts[0], len(vocab))
        return tf.RobertaTokenizer(vocab=vocab, merges=list(dict.fromkeys(merges)))
    if family == "xlm-roberta":
        return tf.XLMRobertaTokenizer(vocab=_unigram(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]))
    if family in ("deberta-v2", "deberta-v3"):
        return tf.DebertaV2Tokenizer(vocab=_unigram(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]), unk_id=1)
    raise KeyError(family)


def config(family: str, vocab_size: int, pad_id: int):
    import transformers as tf

    if family == "bert-chinese":
        return tf.BertConfig(vocab_size=vocab_size, pad_token_id=pad_id, **SIZES)
    if family == "electra":  # the ELECTRA discriminator: embeddings narrower than the hidden states
        return tf.ElectraConfig(vocab_size=vocab_size, embedding_size=16, pad_token_id=pad_id, **SIZES)
    if family == "roberta":
        return tf.RobertaConfig(vocab_size=vocab_size, pad_token_id=pad_id, type_vocab_size=1, **SIZES)
    if family == "xlm-roberta":
        return tf.XLMRobertaConfig(vocab_size=vocab_size, pad_token_id=pad_id, type_vocab_size=1, **SIZES)
    if family == "deberta-v2":  # relative attention with log buckets, a conv on the first layer
        return tf.DebertaV2Config(vocab_size=vocab_size, pad_token_id=pad_id, relative_attention=True,
                                  pos_att_type=["p2c", "c2p"], conv_kernel_size=3, position_buckets=16,
                                  max_relative_positions=64, type_vocab_size=0, **SIZES)
    if family == "deberta-v3":  # v3: shared keys, LayerNorm'ed relative embeddings, no absolute positions
        return tf.DebertaV2Config(vocab_size=vocab_size, pad_token_id=pad_id, relative_attention=True,
                                  pos_att_type=["p2c", "c2p"], position_buckets=16, share_att_key=True,
                                  norm_rel_ebd="layer_norm", position_biased_input=False,
                                  max_relative_positions=64, type_vocab_size=0, **SIZES)
    if family == "mpnet":  # relative position bias (32 buckets) on every layer's scores, pad id 1
        return tf.MPNetConfig(vocab_size=vocab_size, pad_token_id=pad_id, **SIZES)
    raise KeyError(family)


def build(family: str, folder: Path, seed: int = 0) -> Path:
    """Write a tiny ``family`` encoder (random weights, its tokenizer) to ``folder``."""
    import torch
    from transformers import AutoModel

    tok = tokenizer(family)
    cfg = config(family, len(tok), tok.pad_token_id)
    torch.manual_seed(seed)
    AutoModel.from_config(cfg).save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return Path(folder)
