"""Hugging Face text encoders from a model name or a local folder, offline-aware.

A name that is not a folder is looked up in the local Hugging Face cache first. When it is
not there and the Hub cannot be used (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` set, or
the Hub's host does not answer a 3-second connection attempt), the error is one line at
once, instead of the library's retries.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .registry import Backbone, TextEncoderSpec

_TRUE = ("1", "true", "yes", "on")
POOLER_FAMILIES = ("bert", "roberta", "xlm-roberta", "mpnet")
"""Model types whose AutoModel has a pooler mmib never reads (built without it)."""


def offline() -> bool:
    """Whether the user asked the Hugging Face libraries to stay offline."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def is_local(source: str | Path) -> bool:
    text = str(source)
    return text.startswith((".", "~", "/")) or Path(text).expanduser().exists()


def cached(name: str) -> bool:
    """Whether the Hugging Face cache holds the model's config.json."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of transformers
        return False
    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # an invalid repo id, a broken cache
        return False


@lru_cache(maxsize=4)
def hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connection attempt to the Hub's host (``HF_ENDPOINT``), at most ``timeout`` s."""
    try:
        from huggingface_hub import constants

        endpoint = constants.ENDPOINT
    except ImportError:  # pragma: no cover
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def availability(name: str) -> str | None:
    """Why ``name`` cannot be loaded without a download that cannot happen, or None if it may load."""
    if is_local(name):
        return None if Path(name).expanduser().exists() else "no such folder"
    if cached(name):
        return None
    if offline():
        return "not in the local Hugging Face cache, and HF_HUB_OFFLINE is set"
    if not hub_reachable():
        return "not in the local Hugging Face cache, and the Hugging Face Hub is unreachable"
    return None


def cannot_load(source: str | Path, reason: str) -> RuntimeError:
    return RuntimeError(
        f"model.text_encoder {str(source)!r}: cannot load it ({reason}). Without network access, "
        "give a local folder with config.json, weights and tokenizer files (--text-encoder "
        "/path/to/bert-base-uncased), or use --text-encoder minilm (the offline default)."
    )


def _check(source: str | Path) -> dict[str, Any]:
    """Raise the one-line error when ``source`` cannot load; else the loading options."""
    reason = availability(str(source))
    if reason:
        raise cannot_load(source, reason)
    return {} if is_local(source) or not (offline() or cached(str(source))) else {"local_files_only": True}


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def load_tokenizer(source: str | Path):
    from transformers import AutoTokenizer

    options = _check(source)
    try:
        return AutoTokenizer.from_pretrained(str(Path(source).expanduser()) if is_local(source) else str(source),
                                             trust_remote_code=False, **options)
    except (OSError, ValueError) as e:
        raise cannot_load(source, _first_line(e)) from None


def load_backbone(source: str | Path, pretrained: bool = True) -> Backbone:
    """A Hugging Face encoder from a name or folder; ``pretrained=False`` builds the
    architecture only (weights then come from an mmib checkpoint)."""
    from transformers import AutoConfig, AutoModel

    options = _check(source)
    where = str(Path(source).expanduser()) if is_local(source) else str(source)
    try:
        config = AutoConfig.from_pretrained(where, trust_remote_code=False, **options)  # never a folder's code
    except (OSError, ValueError) as e:
        raise cannot_load(source, _first_line(e)) from None
    kwargs = {"add_pooling_layer": False} if config.model_type in POOLER_FAMILIES else {}
    if pretrained:
        from transformers.utils import logging as hf_logging

        # the pooler we drop on purpose shows up as "unexpected keys": not worth a report
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            model = AutoModel.from_pretrained(where, trust_remote_code=False, **kwargs, **options)
        except (OSError, ValueError) as e:
            raise cannot_load(source, _first_line(e)) from None
        finally:
            hf_logging.set_verbosity(verbosity)
            hf_logging.enable_progress_bar()
    else:
        model = AutoModel.from_config(config, trust_remote_code=False, **kwargs)
    return Backbone(model, config.hidden_size)


def hf_spec(source: str) -> TextEncoderSpec:
    """A spec for a Hugging Face model name or local folder."""
    return TextEncoderSpec(f"Hugging Face encoder {source}", "tokens",
                           backbone=lambda pretrained: load_backbone(source, pretrained),
                           tokenizer=lambda: load_tokenizer(source), source=source)


__all__ = ["availability", "cannot_load", "hf_spec", "hub_reachable", "load_backbone", "load_tokenizer", "offline"]
