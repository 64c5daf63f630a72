"""Short names for the pretrained text encoders the field uses beyond BERT.

Each is a Hugging Face model loaded through the ordinary path (:mod:`mmib.encoders.huggingface`:
a local folder, the local cache, or a download when online); they differ from BERT in ways
mmib handles for every family alike: RoBERTa / XLM-R pad with id 1 and have no token-type
ids, DeBERTa-v3 has neither token types nor absolute positions (its relative attention
keeps the whole-backbone path, :mod:`mmib.encoders.last_layer`), ELECTRA's embeddings are
narrower than its hidden states. mmib feeds one segment and no token-type ids, and sets
padding to each model's own pad id. Any other name or folder also works unregistered.
"""

from __future__ import annotations

from . import huggingface
from .registry import TEXT_ENCODERS, TextEncoderSpec

FAMILIES = {
    "roberta-base": ("FacebookAI/roberta-base", "RoBERTa-base (12 x 768, byte-level BPE)"),
    "roberta-large": ("FacebookAI/roberta-large", "RoBERTa-large (24 x 1024)"),
    "deberta-v3-base": ("microsoft/deberta-v3-base", "DeBERTa-v3-base (12 x 768, SentencePiece, relative attention)"),
    "deberta-v3-large": ("microsoft/deberta-v3-large", "DeBERTa-v3-large (24 x 1024)"),
    "deberta-v2-xlarge": ("microsoft/deberta-v2-xlarge", "DeBERTa-v2-xlarge (24 x 1536)"),
    "xlm-roberta-base": ("FacebookAI/xlm-roberta-base", "XLM-R base (12 x 768, multilingual SentencePiece)"),
    "electra-base": ("google/electra-base-discriminator", "ELECTRA-base discriminator (12 x 768)"),
    "bert-base-chinese": ("google-bert/bert-base-chinese", "Chinese BERT-base (character WordPiece; CH-SIMS)"),
}


def _spec(source: str, what: str) -> TextEncoderSpec:
    return TextEncoderSpec(f"{what}: Hugging Face {source} (local cache, or a download when online)",
                           backbone=lambda pretrained: huggingface.load_backbone(source, pretrained),
                           tokenizer=lambda: huggingface.load_tokenizer(source), source=source)


for _name, (_source, _what) in FAMILIES.items():
    TEXT_ENCODERS.add(_name, _spec(_source, _what))

__all__ = ["FAMILIES"]
