"""Frozen-text-encoder cache: run the text backbone once per utterance, train on its outputs.

With ``model.freeze_text_encoder`` the backbone's hidden states of an utterance never
change, so recomputing them every epoch (the dominant cost of MIB) is wasted work. A
:class:`TextCache` computes them once, stores them on disk and hands back examples whose
``text`` input is the unpadded hidden states (L, H) instead of the token ids (L,);
:class:`~mmib.encoders.PretrainedTextEncoder` skips its backbone for such inputs, and the
Conv1D after the backbone (and everything downstream) still trains.

On-disk layout (one folder per key, under ``train.cache_dir``, default ``.mmib_cache/``)::

    text/<key>/states.npy    float32 (sum of L over utterances, H), utterances back to back
    text/<key>/offsets.npy   int64 (N + 1,): utterance i is states[offsets[i]:offsets[i+1]]
    text/<key>/meta.json     what the key was made of, sizes, build time

The key hashes everything the states depend on: the encoder's architecture (class and
config), a fingerprint of all its weights, the compute precision and the token ids of
every utterance in order; any change gives another key, so a stale cache is never read.
Old folders are left in place and are safe to delete. Writes are atomic (a temporary
folder renamed into place), so concurrent runs never see a half-written cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.batching import length_sorted_batches
from ..data.types import Example
from ..encoders.last_layer import padded_ids
from ..encoders.text import PretrainedTextEncoder
from ..progress import Progress
from .speed import autocast, precision_name

FORMAT_VERSION = 1
_VOLATILE_CONFIG_KEYS = {"transformers_version", "architectures", "torch_dtype", "dtype",
                         "name_or_path", "output_hidden_states", "output_attentions", "return_dict"}


def weights_fingerprint(module: torch.nn.Module) -> str:
    """blake2b of every parameter and buffer (name, dtype, shape, bytes) of ``module``."""
    h = hashlib.blake2b(digest_size=16)
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def architecture_identity(backbone: torch.nn.Module) -> dict[str, Any]:
    """The backbone's class and config (minus fields that do not change its outputs)."""
    config = getattr(backbone, "config", None)
    cfg = {} if config is None else {k: v for k, v in config.to_dict().items()
                                     if not k.startswith("_") and k not in _VOLATILE_CONFIG_KEYS}
    return {"class": type(backbone).__name__, "config": cfg}


def tokens_fingerprint(examples: list[Example]) -> str:
    """blake2b of the token ids of every example, in order (lengths included)."""
    h = hashlib.blake2b(digest_size=16)
    for ex in examples:
        ids = np.ascontiguousarray(ex.inputs["text"], dtype=np.int64)
        h.update(len(ids).to_bytes(8, "little"))
        h.update(ids.tobytes())
    return h.hexdigest()


def _versions(module: torch.nn.Module) -> int:
    # every in-place write (load_state_dict, an optimiser step) bumps a tensor's version
    return sum(t._version for t in module.state_dict(keep_vars=True).values())


class TextCache:
    """Hidden states of a (frozen) pretrained text encoder's backbone, cached on disk.

    encoder: the model's text encoder; its backbone must not be trained while a cache is in
        use (the fingerprint is recomputed if its weights are written in place).
    root: the cache folder (``train.cache_dir``).
    device / dtype: where and in which autocast precision the states are computed (the
        precision is part of the key).
    """

    def __init__(self, encoder: PretrainedTextEncoder, root: str | Path, *, device: torch.device,
                 dtype: torch.dtype | None = None, batch_size: int = 128, progress: bool = True,
                 max_padding: float = 0.2):
        self.encoder = encoder
        self.progress = progress
        self.root = Path(root) / "text"
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.max_padding = max_padding
        self._encoder_key: str | None = None
        self._encoder_version = -1
        self.log: list[dict[str, Any]] = []
        """One record per :meth:`apply`: key, hit or built, seconds."""

    # ------------------------------------------------------------------ keys
    def encoder_key(self) -> str:
        """Hash of the backbone's architecture and weights (recomputed after in-place writes)."""
        backbone = self.encoder.backbone
        version = _versions(backbone)
        if self._encoder_key is None or version != self._encoder_version:
            ident = {**architecture_identity(backbone), "weights": weights_fingerprint(backbone),
                     "precision": precision_name(self.dtype)}
            self._encoder_key = hashlib.blake2b(json.dumps(ident, sort_keys=True, default=str).encode(),
                                                digest_size=16).hexdigest()
            self._encoder_version = version
        return self._encoder_key

    def key(self, examples: list[Example]) -> str:
        parts = f"v{FORMAT_VERSION}|{self.encoder_key()}|{tokens_fingerprint(examples)}"
        return hashlib.blake2b(parts.encode(), digest_size=16).hexdigest()

    # ------------------------------------------------------------------ public
    def apply(self, examples: list[Example], name: str = "") -> list[Example]:
        """Copies of ``examples`` whose ``text`` input is float32 hidden states (L, H)
        (memory-mapped from the cache), building the cache first when it is missing."""
        if not examples:
            return []
        t0 = time.perf_counter()
        key = self.key(examples)
        folder = self.root / key
        loaded = self._load(folder, examples)
        hit = loaded is not None
        if loaded is None:
            self._build(folder, examples, key, name)
            loaded = self._load(folder, examples)
            if loaded is None:  # pragma: no cover - only if the disk lies to us
                raise RuntimeError(f"{folder}: text cache unreadable right after writing it")
        states, offsets = loaded
        out = [dataclasses.replace(ex, inputs={**ex.inputs, "text": states[offsets[i]:offsets[i + 1]]})
               for i, ex in enumerate(examples)]
        self.log.append({"split": name, "key": key, "hit": hit, "seconds": time.perf_counter() - t0})
        return out

    # ------------------------------------------------------------------ disk
    def _load(self, folder: Path, examples: list[Example]) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            meta = json.loads((folder / "meta.json").read_text())
            offsets = np.load(folder / "offsets.npy")
            states = np.load(folder / "states.npy", mmap_mode="r")
        except (FileNotFoundError, ValueError, OSError):
            return None
        lengths = np.diff(offsets)
        expected = np.array([len(ex.inputs["text"]) for ex in examples])
        if meta.get("format") != FORMAT_VERSION or len(lengths) != len(examples) \
                or not np.array_equal(lengths, expected) or states.shape[0] != offsets[-1]:
            return None  # a damaged or foreign folder: rebuild it
        return states, offsets

    @torch.no_grad()
    def compute(self, examples: list[Example], desc: str = "text cache") -> tuple[np.ndarray, np.ndarray]:
        """Backbone hidden states of every example: (sum L, H) float32 and offsets (N + 1,).

        Batches of similar lengths (sorted, little padding), padded to their longest member;
        the attention mask keeps padding out, and only each utterance's valid steps are kept.
        """
        backbone = self.encoder.backbone
        was_training = backbone.training
        backbone.eval()
        lengths = np.array([len(ex.inputs["text"]) for ex in examples], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        hidden = None
        try:
            batches = length_sorted_batches(examples, self.batch_size, self.max_padding)
            bar = Progress(batches, desc=desc, enabled=self.progress)
            for idx in bar:
                bar.add_items(len(idx))
                idx = np.asarray(idx)
                T = int(lengths[idx].max())
                ids = np.zeros((len(idx), T), dtype=np.int64)
                mask = np.zeros((len(idx), T), dtype=np.int64)
                for r, i in enumerate(idx):
                    ids[r, :lengths[i]] = examples[i].inputs["text"]
                    mask[r, :lengths[i]] = 1
                ids_t, mask_t = torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)
                with autocast(self.device, self.dtype):
                    h = backbone(input_ids=padded_ids(backbone, ids_t, mask_t), attention_mask=mask_t).last_hidden_state
                h = h.float().cpu().numpy()
                if hidden is None:
                    hidden = np.empty((int(offsets[-1]), h.shape[-1]), dtype=np.float32)
                for r, i in enumerate(idx):
                    hidden[offsets[i]:offsets[i + 1]] = h[r, :lengths[i]]
        finally:
            backbone.train(was_training)
        assert hidden is not None
        return hidden, offsets

    def _build(self, folder: Path, examples: list[Example], key: str, name: str) -> None:
        t0 = time.perf_counter()
        states, offsets = self.compute(examples, desc=f"text cache {name}".strip())
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{key}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            np.save(tmp / "states.npy", states)
            np.save(tmp / "offsets.npy", offsets)
            meta = {"format": FORMAT_VERSION, "key": key, "split": name, "utterances": len(examples),
                    "tokens": int(offsets[-1]), "hidden": int(states.shape[1]),
                    "precision": precision_name(self.dtype), "encoder": self.encoder_key(),
                    "architecture": architecture_identity(self.encoder.backbone)["class"],
                    "seconds": round(time.perf_counter() - t0, 3), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
            if folder.exists():  # a damaged folder (valid ones were loaded before building)
                shutil.rmtree(folder, ignore_errors=True)
            try:
                os.rename(tmp, folder)
            except OSError:
                if not folder.exists():
                    raise  # not a lost race with another process writing the same key
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def cache_applies(cfg, model: torch.nn.Module) -> tuple[bool, str]:
    """Whether a run with ``cfg`` trains on the text cache, and why not when it does not.

    The cache is exact only when the backbone is frozen (its states are fixed) and padding
    never reaches the model (masked pooling zeroes padded states; with ``pooling = last``
    the model reads the backbone's outputs at padding positions, which depend on the pad
    length and are not cached)."""
    encoders = getattr(model, "encoders", None)
    enc = encoders["text"] if encoders is not None and "text" in encoders else None
    if not cfg.train.cache_text:
        return False, "train.cache_text = false"
    if not isinstance(enc, PretrainedTextEncoder):
        return False, "no pretrained text encoder"
    if not cfg.model.freeze_text_encoder:
        return False, "model.freeze_text_encoder = false (the encoder trains)"
    if cfg.model.pooling != "masked":
        return False, "model.pooling = last reads padding states, which are not cached"
    return True, "frozen text encoder"


__all__ = ["TextCache", "architecture_identity", "cache_applies", "tokens_fingerprint", "weights_fingerprint"]
