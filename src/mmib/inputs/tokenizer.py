"""A run's tokenizer read from its ``text_encoder/`` folder with the `tokenizers` library
alone: what a process without torch (the onnxruntime backend) tokenizes with.

``transformers`` imports torch whenever torch is installed, even for a tokenizer, so this
reads ``tokenizer.json`` (the fast tokenizer every saved run and export holds) and the
special tokens of ``tokenizer_config.json``, and offers the part of the Hugging Face
tokenizer interface that :mod:`mmib.data.examples` uses: ``tokenize``,
``convert_tokens_to_ids``, ``cls_token_id``, ``sep_token_id``, ``pad_token_id``, ``unk_token``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _token(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


class FileTokenizer:
    """The fast tokenizer saved in ``folder`` (``tokenizer.json`` + ``tokenizer_config.json``)."""

    def __init__(self, folder: str | Path) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ImportError("reading a tokenizer without transformers needs the `tokenizers` package "
                              "(pip install tokenizers)") from None
        folder = Path(folder)
        self.folder = folder
        f = folder / "tokenizer.json"
        if not f.is_file():
            raise FileNotFoundError(f"{folder}: no tokenizer.json (a saved run's text_encoder/ folder has one)")
        self._tok = Tokenizer.from_file(str(f))
        conf: dict[str, Any] = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            p = folder / name
            if p.is_file():
                conf.update(json.loads(p.read_text(encoding="utf-8")))
        self.cls_token = _token(conf.get("cls_token")) or _token(conf.get("bos_token")) or "[CLS]"
        self.sep_token = _token(conf.get("sep_token")) or _token(conf.get("eos_token")) or "[SEP]"
        self.pad_token = _token(conf.get("pad_token")) or "[PAD]"
        self.unk_token = _token(conf.get("unk_token")) or "[UNK]"
        for name in ("cls", "sep", "unk"):
            if self._tok.token_to_id(getattr(self, f"{name}_token")) is None:
                raise ValueError(f"{f}: its vocabulary has no {name} token {getattr(self, f'{name}_token')!r}")

    def _id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    @property
    def cls_token_id(self) -> int:
        return self._id(self.cls_token)  # type: ignore[return-value]

    @property
    def sep_token_id(self) -> int:
        return self._id(self.sep_token)  # type: ignore[return-value]

    @property
    def unk_token_id(self) -> int:
        return self._id(self.unk_token)  # type: ignore[return-value]

    @property
    def pad_token_id(self) -> int:
        pid = self._id(self.pad_token)
        return 0 if pid is None else pid

    def tokenize(self, text: str) -> list[str]:
        return list(self._tok.encode(text, add_special_tokens=False).tokens)

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        unk = self.unk_token_id
        return [unk if (i := self._id(t)) is None else i for t in tokens]


__all__ = ["FileTokenizer"]
