"""Checkpoints: atomic writes, safetensors weights with the resolved config inside, resume
state, and checksums that detect a file changed behind mmib's back.

``best.safetensors`` holds the weights plus metadata (``config`` as TOML, ``meta`` as JSON,
``tensors_sha256`` of the weights): one file, replaced atomically, so weights and config can
never disagree. ``state.pt`` holds what resuming needs; it is read with
``weights_only=True`` (no code can run from it); the previous epoch's state is kept as
``state.prev.pt`` so a damaged ``state.pt`` costs one epoch. ``checksums.json`` holds the
SHA-256 of each of these files as written; every read verifies it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..data.readers import sha256
from ..data.readers.converted import write_error
from . import faults

CHECKSUMS = "checksums.json"


class CorruptFileError(ValueError):
    """A run file is unreadable or its checksum does not match what mmib wrote."""


class DamagedFileWarning(UserWarning):
    """A damaged run file was replaced by an older good copy (resume from state.prev.pt)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[str], Any], *, checksum: bool = False) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over ``path``.

    The file gets the usual permissions (0666 less the umask), like any other file the user
    writes. Any failure (disk full, read-only folder) is an ``OSError`` naming ``path``, and
    the temporary file is removed. ``checksum``: record the new file's SHA-256 in
    checksums.json, accepting the old and the new file while the rename happens (a kill at
    any moment leaves a file that verifies)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OSError(e.errno, f"cannot write {path.name} there ({e.strerror})", str(path.parent)) from None
    os.close(fd)
    try:
        try:
            write(tmp)
            os.chmod(tmp, 0o666 & ~_umask())
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            digest = sha256(Path(tmp)) if checksum else None
            faults.point("write")
        except Exception as e:  # noqa: BLE001 - safetensors / torch raise their own types on a full disk
            raise write_error(e, path) from None
        if digest is not None:
            _accept(path, [digest, *_read_checksums(path.parent).get(path.name, [])[:1]])
        os.replace(tmp, path)
        if digest is not None:
            _accept(path, [digest])
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _read_checksums(run_dir: Path) -> dict[str, list[str]]:
    """{file name: accepted SHA-256 digests} (two only while a write is being renamed)."""
    f = run_dir / CHECKSUMS
    if not f.exists():
        return {}
    try:
        data = json.loads(f.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CorruptFileError(f"{f}: not valid JSON; the checksums of the run files are lost "
                               "(delete it to use the files unverified)") from None
    def digest(x: Any) -> bool:
        return isinstance(x, str) and len(x) == 64

    if not isinstance(data, dict) or not all(digest(v) or (isinstance(v, list) and v and all(map(digest, v)))
                                             for v in data.values()):
        raise CorruptFileError(f"{f}: expected an object {{file name: [sha256, ...]}}, got "
                               f"{type(data).__name__ if not isinstance(data, dict) else 'other values'}; the "
                               "checksums of the run files are lost (delete it to use the files unverified)")
    return {str(k): list(v) if isinstance(v, list) else [v] for k, v in data.items()}


def _accept(path: Path, digests: list[str] | None) -> None:
    sums = _read_checksums(path.parent)
    if digests:
        sums[path.name] = digests
    else:
        sums.pop(path.name, None)
    atomic_write_text(path.parent / CHECKSUMS, json.dumps(sums, indent=1, sort_keys=True))


def record(path: Path) -> None:
    """Record ``path``'s SHA-256 in its folder's checksums.json (or forget it if it is gone)."""
    path = Path(path)
    _accept(path, [sha256(path)] if path.exists() else None)


def verify(path: Path) -> None:
    """Raise CorruptFileError when ``path`` does not match the checksum recorded for it (a
    file with no recorded checksum, e.g. from an older mmib, is not checked)."""
    path = Path(path)
    expected = _read_checksums(path.parent).get(path.name)
    if not expected or not path.exists():
        return
    got = sha256(path)
    if got not in expected:
        raise CorruptFileError(f"{path}: checksum mismatch: the file changed after mmib wrote it "
                               f"(sha256 {got[:16]}..., recorded {expected[0][:16]}...); it is damaged")


def _tensors_digest(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().contiguous().cpu()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_weights(path: Path, model: torch.nn.Module | dict[str, torch.Tensor], config_toml: str,
                 meta: dict[str, Any]) -> None:
    """Write selected weights: a module's state dict, or a state dict as given."""
    state = model if isinstance(model, dict) else model.state_dict()
    state = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    metadata = {"config": config_toml, "meta": json.dumps(meta), "format": "mmib-1",
                "tensors_sha256": _tensors_digest(state)}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata=metadata), checksum=True)


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], str, dict[str, Any]]:
    """(state dict, config TOML, meta) from a checkpoint file; clear errors for bad files, and
    a CorruptFileError when its bytes are not those mmib wrote."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    verify(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises several types for corrupt files
        raise CorruptFileError(f"{path}: not a readable safetensors checkpoint ({e})") from None
    if metadata.get("format") != "mmib-1" or "config" not in metadata:
        raise CorruptFileError(f"{path}: safetensors file without mmib metadata (config/meta); "
                               "expected a checkpoint written by mmib")
    digest = metadata.get("tensors_sha256")
    if digest is not None and digest != _tensors_digest(state):
        raise CorruptFileError(f"{path}: the weights do not match the checksum stored with them; the file "
                               "is damaged")
    try:
        meta = json.loads(metadata.get("meta", "{}"))
    except (json.JSONDecodeError, RecursionError):
        raise CorruptFileError(f"{path}: its metadata is not valid JSON; the file is damaged") from None
    if not isinstance(meta, dict):
        raise CorruptFileError(f"{path}: its 'meta' metadata is a JSON {type(meta).__name__}; expected an object "
                               "(epoch, valid metrics, data); the file is damaged")
    return state, metadata["config"], meta


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the resume state; the one it replaces is kept as ``state.prev.pt``."""
    path = Path(path)
    prev = path.with_name("state.prev.pt")
    if path.exists():
        old = _read_checksums(path.parent).get(path.name)
        _accept(prev, old or [sha256(path)])  # the digest of what becomes state.prev.pt
        os.replace(path, prev)
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # through a Python file: a full disk is an OSError with its errno
            torch.save(state, f)

    atomic_write(path, write, checksum=True)


# key -> (accepted types, what it must be)
_STATE_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "model": ((dict,), "the model's weights"), "optimizer": ((dict,), "the optimizer's state"),
    "epoch": ((int,), "the number of finished epochs"), "rng": ((dict,), "the random generators' states"),
    "best_score": ((int, float, type(None)), "the best validation score"),
    "best_epoch": ((int,), "the epoch of the selected weights"),
}


def check_state(state: Any, path: Path, epochs: int | None = None) -> dict[str, Any]:
    """A resume state checked by meaning (its checksum only says mmib wrote it): the keys
    resuming needs, of the right types, epochs within [0, ``epochs``] and the selected epoch
    within [0, epoch]. A CorruptFileError naming the file and the key otherwise."""
    if not isinstance(state, dict):
        raise CorruptFileError(f"{path}: not an mmib resume state (a {type(state).__name__}, not a dict)")
    for key, (types, what) in _STATE_KEYS.items():
        if key not in state:
            raise CorruptFileError(f"{path}: the resume state has no {key!r} ({what}); the file is damaged")
        if not isinstance(state[key], types) or isinstance(state[key], bool):
            raise CorruptFileError(f"{path}: {key!r} in the resume state is a {type(state[key]).__name__}; "
                                   f"expected {what}; the file is damaged")
    epoch, best = state["epoch"], state["best_epoch"]
    top = "" if epochs is None else f", {epochs}"
    if epoch < 0 or (epochs is not None and epoch > epochs):
        raise CorruptFileError(f"{path}: the resume state says {epoch} epochs are done; expected a number in "
                               f"[0{top or ', ...'}] (train.epochs = {epochs}); the file is damaged")
    if not 0 <= best <= epoch:
        raise CorruptFileError(f"{path}: the resume state selects epoch {best} of {epoch} done; the file is damaged")
    return state


def load_state(path: Path, epochs: int | None = None) -> dict[str, Any]:
    """The resume state, checked by :func:`check_state`; a CorruptFileError naming the file
    when it is damaged."""
    path = Path(path)
    verify(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - empty (EOFError), hostile (UnpicklingError), truncated (RuntimeError)
        raise CorruptFileError(f"{path}: unreadable resume state ({type(e).__name__}: {str(e).splitlines()[0][:160]})") \
            from None
    return check_state(state, path, epochs)


def remove_state(run_dir: Path) -> None:
    """Delete the resume state of a finished run (and forget its checksums)."""
    for name in ("state.pt", "state.prev.pt"):
        f = Path(run_dir) / name
        f.unlink(missing_ok=True)
        _accept(f, None)


__all__ = ["CHECKSUMS", "CorruptFileError", "DamagedFileWarning", "atomic_write", "check_state", "atomic_write_text", "load_state", "read_weights",
           "record", "remove_state", "save_state", "save_weights", "sha256", "verify"]
