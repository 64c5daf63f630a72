"""What the server predicts with: a *backend* is any object with

- ``inputs``: the model's :class:`mmib.inputs.ModelInputs` (modalities, dims, labels, task,
  data settings, extraction record, tokenizer) used to turn requests into examples, and
- ``predict(examples) -> Predictions`` (ids, pred (N, K), labels, heads, kl), safe to call
  from one worker thread at a time.

Backends are chosen by name (``mmib serve --backend NAME``) from :data:`BACKENDS`: a name ->
``"module:attribute"`` of a loader ``(source, device, threads) -> backend``. Plugging in another runtime
is one line here; the loader's module is imported only when that backend is asked for, so a
process serving with onnxruntime never imports torch.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Protocol


class Backend(Protocol):
    inputs: Any

    def predict(self, examples: list[Any]) -> Any: ...


class BackendUnavailable(RuntimeError):
    """The backend asked for cannot run in this installation (the message says why)."""


# name -> "module:loader"; the loader takes (source folder, device, threads) and returns a Backend
BACKENDS: dict[str, str] = {
    "torch": "mmib.serve.backends:load_torch",
    "onnxruntime": "mmib.serve.backends:load_onnxruntime",
}


def load_torch(source: Path, device: str | None = None, threads: int | None = None) -> Backend:
    """The PyTorch model (:class:`mmib.engine.Predictor`): a run directory, its checkpoint or an
    exported folder; ``threads``: torch's intra-op threads (default: torch's choice)."""
    import torch

    from ..engine import Predictor

    if threads:
        torch.set_num_threads(threads)
    return Predictor.load(source, device=device)


def load_onnxruntime(source: Path, device: str | None = None, threads: int | None = None) -> Backend:
    """The ``model.onnx`` of an ``mmib export RUN DIR --onnx`` folder in onnxruntime
    (:class:`mmib.runtime.OnnxPredictor`); torch is not imported."""
    if device not in (None, "cpu"):
        raise BackendUnavailable(f"--device {device}: the onnxruntime backend runs on the CPU")
    try:
        from ..runtime import OnnxPredictor  # type: ignore[import-not-found]
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("mmib"):
            raise BackendUnavailable("--backend onnxruntime: not available in this mmib (it has no mmib.runtime, "
                                     "the ONNX export and its runtime); use --backend torch") from None
        raise BackendUnavailable(f"--backend onnxruntime: not available: {e.name!r} is not installed "
                                 "(pip install 'mmib[onnx]')") from None
    try:
        return OnnxPredictor.load(source, threads=threads)
    except ImportError as e:
        raise BackendUnavailable(f"--backend onnxruntime: not available: {e}") from None


def _loader(name: str) -> Callable[..., Backend]:
    if name not in BACKENDS:
        raise BackendUnavailable(f"--backend: unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    module, attr = BACKENDS[name].split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and (module == e.name or module.startswith(e.name + ".")):
            raise BackendUnavailable(f"--backend {name}: not available in this mmib ({module} is missing)") from None
        raise BackendUnavailable(f"--backend {name}: not available: the package {e.name!r} is not installed "
                                 f"(pip install {e.name})") from None
    fn = getattr(mod, attr, None)
    if fn is None:
        raise BackendUnavailable(f"--backend {name}: not available in this mmib ({module} has no {attr})")
    return fn


def load_backend(name: str, source: str | Path, *, device: str | None = None, revision: str | None = None,
                 threads: int | None = None) -> Backend:
    """The model at ``source`` (a run, a checkpoint, an exported folder or a Hub id, resolved as
    :func:`mmib.load` does) loaded once by the backend ``name``."""
    loader = _loader(name)
    return loader(resolve_source(source, revision), device, threads)


def resolve_source(source: str | Path, revision: str | None = None) -> Path:
    """A local path as it is (without importing :mod:`mmib.hub`, which imports torch); a Hub id
    through :func:`mmib.hub.resolve`."""
    path = Path(source).expanduser()
    if path.exists():
        return path
    from ..hub import resolve

    return resolve(source, revision=revision)


__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "load_backend", "load_onnxruntime", "load_torch",
           "resolve_source"]
