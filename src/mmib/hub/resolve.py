"""``mmib.load`` source -> a local folder: a run directory, an exported folder, a checkpoint
file, or a Hugging Face Hub repository id (downloaded once, data files only)."""

from __future__ import annotations

import re
from pathlib import Path

# what an exported model needs; code files (*.py) are never downloaded, nor anything else
DOWNLOAD_PATTERNS = ["config.json", "model.safetensors", "README.md", "results.json", "model.onnx", "onnx.json",
                     "text_encoder/*.json",
                     "text_encoder/*.txt", "text_encoder/*.model", "text_encoder/*.bpe"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve(source: str | Path, *, revision: str | None = None) -> Path:
    """A local path as it is; a Hub id (``user/name``) that is not a local path is downloaded
    with ``huggingface_hub.snapshot_download`` (only the data files above; refused at once
    when ``HF_HUB_OFFLINE`` is set and the repository is not in the local cache)."""
    path = Path(source).expanduser()
    if path.exists() or not _REPO_ID.match(str(source)):
        if not path.exists():
            raise FileNotFoundError(f"{source}: no such run directory, exported folder or checkpoint")
        return path
    from huggingface_hub import snapshot_download

    from ..encoders.huggingface import offline

    try:
        return Path(snapshot_download(str(source), revision=revision, allow_patterns=DOWNLOAD_PATTERNS,
                                      local_files_only=offline(), library_name="mmib"))
    except Exception as e:  # noqa: BLE001 - the hub client raises many types; one line for the user
        why = "HF_HUB_OFFLINE is set and it is not in the local cache" if offline() else \
            (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise FileNotFoundError(f"{source}: not a local folder, and the Hub repository cannot be downloaded "
                                f"({why})") from None


__all__ = ["DOWNLOAD_PATTERNS", "resolve"]
