"""The model in a process of its own: :class:`ModelProcess` is a backend (``inputs`` +
``predict``) whose model lives in a child process, loaded there by any backend of
:data:`~mmib.serve.backends.BACKENDS`.

Why: the HTTP side (uvicorn's event loop, JSON parsing, converting records) is Python code
that holds the interpreter lock; a model in the same process needs that lock between every
one of its hundreds of operations per batch, so under load the two slow each other down
(``benchmarks/serve_latency.py --in-process`` against the default, docs/serving.md: 183
against 246 requests/s at 32 clients). In a child process the model has its own interpreter; the server process imports no
torch, converts requests with the run's own tokenizer read by ``tokenizers`` alone
(:class:`mmib.inputs.FileTokenizer`, checked against the model's tokenizer on probe sentences
at start) and sends the converted examples to the child, one batch per call.

A child that dies (killed, out of memory, a crash in native code) fails only the batch it was
running; the next call starts a new child and loads the model again, and ``problem`` says why
the server is not ready in the meantime.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

from ..data.examples import tokenize
from ..inputs import FileTokenizer, ModelInputs

# sentences whose token ids must come out the same from the server's tokenizer and the model's
PROBES = ("What a GREAT film, really!", "naïve café déjà-vu", "i'd rate it 7.5/10 :) #wow",
          "東京 was fine", "unbelievably un-boring antidisestablishmentarianism")


class ModelProcessDied(RuntimeError):
    """The child process stopped while predicting (the message says how); it is restarted."""


class _Child:
    """What the child process holds: the loaded backend (set by :func:`_load`)."""

    backend: Any = None
    error: BaseException | None = None


def _exit_with_parent(parent: int) -> None:
    """A server killed outright (SIGKILL, out of memory) cannot stop its pool: the child ends
    itself within a second of being orphaned."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _load(name: str, source: str, device: str | None, threads: int | None) -> None:
    """Runs first in the child: load the model by the backend ``name``; a failure is kept and
    reported by :func:`_describe` (an initializer's own exception would only break the pool)."""
    import signal

    from .backends import load_backend

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the server stops us
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="mmib-parent-watch").start()
    try:
        _Child.backend = load_backend(name, source, device=device, threads=threads)
    except Exception as e:  # noqa: BLE001 - raised again, in the parent, by _describe
        _Child.error = e


def _describe() -> dict[str, Any]:
    """In the child: what the server needs to convert requests for this model (its config, data
    record and tokenizer folder, with the token ids of :data:`PROBES`) and one warm-up call."""
    if _Child.backend is None:
        raise _Child.error or RuntimeError("the model was not loaded")
    inputs = _Child.backend.inputs
    tok = inputs.tokenizer() if "text" in inputs.modalities else None
    tokenizer = None
    if tok is not None:
        folder = getattr(tok, "folder", None) or getattr(tok, "name_or_path", None)
        tokenizer = {"folder": str(folder) if folder else None,
                     "probes": [tokenize(p.split(), tok, inputs.cfg.data.max_len).tolist() for p in PROBES]}
    return {"cfg": inputs.cfg, "data": inputs.data, "where": inputs.where, "tokenizer": tokenizer}


def _predict(examples: list[Any]) -> Any:
    return _Child.backend.predict(examples)


def server_tokenizer(info: dict[str, Any] | None, max_len: int) -> Callable[[], Any]:
    """A loader of the tokenizer the server converts text with: the fast tokenizer file of the
    model's folder when it gives the model's own token ids on :data:`PROBES`, else the
    ``transformers`` tokenizer of that folder (slower, always the model's)."""
    if info is None:
        return lambda: None
    folder = info["folder"]
    try:
        fast = FileTokenizer(folder)
        if [tokenize(p.split(), fast, max_len).tolist() for p in PROBES] == info["probes"]:
            return lambda: fast
    except (OSError, ValueError, ImportError, TypeError):
        pass
    from transformers import AutoTokenizer  # the model's own (imports torch where installed)

    slow = AutoTokenizer.from_pretrained(folder)
    return lambda: slow


class ModelProcess:
    """A backend run in a child process (``spawn``: safe with CUDA and threads).

    ``name``: a backend of :data:`~mmib.serve.backends.BACKENDS`; ``source``, ``device``,
    ``threads``: as :func:`~mmib.serve.backends.load_backend` takes them. Loads at once and
    raises RuntimeError with the child's reason when the model cannot be loaded."""

    def __init__(self, name: str, source: str | Path, *, device: str | None = None,
                 threads: int | None = None) -> None:
        self._args = (name, str(source), device, threads)
        self._lock = threading.Lock()
        self.problem: str | None = None  # why the model is not usable now, if it is not
        self.restarts = 0
        self._pool = self._start()
        try:
            info = self._pool.submit(_describe).result()
        except BrokenExecutor:
            self.close()
            raise RuntimeError(f"{source}: the model process stopped while loading the model (its error is above; "
                               "a Python program started from stdin, or one that starts the server outside "
                               "`if __name__ == '__main__':`, cannot start it: serve with --in-process / "
                               "Settings(model_process=False) there)") from None
        self.inputs = ModelInputs(info["cfg"], info["data"], info["where"],
                                  server_tokenizer(info["tokenizer"], info["cfg"].data.max_len))

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_load,
                                   initargs=self._args)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        pool = self._pool
        try:
            return pool.submit(fn, *args).result()
        except BrokenExecutor:
            codes = [p.exitcode for p in getattr(pool, "_processes", {}).values() if p.exitcode is not None]
            how = f"exit code {codes[0]}" if codes else "it stopped"
            self._restart(pool)
            raise ModelProcessDied(f"the model process stopped ({how}) during this call; a new one was "
                                   "started") from None

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is not broken:  # another caller restarted it already
                return
            broken.shutdown(wait=False, cancel_futures=True)
            self.restarts += 1
            self.problem = "the model process stopped; loading the model again"
            self._pool = self._start()
        try:
            self._pool.submit(_describe).result()
            self.problem = None
        except Exception as e:  # noqa: BLE001 - kept for /health; the next call tries again
            self.problem = f"the model process could not be restarted: {type(e).__name__}: {e}"

    def predict(self, examples: list[Any]) -> Any:
        """Predictions for ``examples`` (computed in the child; its exceptions come back as they were)."""
        return self._call(_predict, list(examples))

    def close(self, timeout: float = 10.0) -> None:
        """Stop the child: it finishes the batch it is running and exits (waited for up to
        ``timeout`` seconds, so its queues are released before the server exits)."""
        stopper = threading.Thread(target=self._pool.shutdown, kwargs={"wait": True, "cancel_futures": True},
                                   daemon=True, name="mmib-model-stop")
        stopper.start()
        stopper.join(timeout)


__all__ = ["PROBES", "ModelProcess", "ModelProcessDied", "server_tokenizer"]
