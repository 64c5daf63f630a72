"""Load feature pickles without running code hidden in them.

``pickle.load`` imports and calls whatever the file names, so a downloaded feature file
can run arbitrary code. :class:`SafeUnpickler` resolves globals from a fixed table
instead of importing: only what rebuilds NumPy arrays, dtypes and scalars, and the plain
builtin containers that older protocols spell as globals. Every other global is refused
with :class:`UnsafePickleError` *before* it is looked up, so nothing in the file runs.

Protocols 0-5 and Python 2 pickles (``encoding="latin1"``, NumPy's advice for old array
pickles) are read; ``persistent_load`` is never set, so persistent ids are refused too.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .validate import DataError


class UnsafePickleError(DataError):
    """The pickle names a global that is not on the allow list (nothing was executed)."""


def _numpy_attr(*paths: str) -> Any:
    """The first of ``module:name`` paths that exists (NumPy 1 vs 2 moved ``core`` to ``_core``)."""
    import importlib

    for p in paths:
        mod, name = p.split(":")
        try:
            return getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"none of {paths} exists in this NumPy")  # pragma: no cover


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol <= 2 uses it for ``bytes``; any other codec is refused."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"_codecs.encode with codec {encoding!r} (only latin1 is allowed)")
    return codecs.encode(text, "latin1", errors)


def _allowed() -> dict[tuple[str, str], Callable[..., Any] | type]:
    reconstruct = _numpy_attr("numpy._core.multiarray:_reconstruct", "numpy.core.multiarray:_reconstruct")
    scalar = _numpy_attr("numpy._core.multiarray:scalar", "numpy.core.multiarray:scalar")
    frombuffer = _numpy_attr("numpy._core.numeric:_frombuffer", "numpy.core.numeric:_frombuffer")
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
        ("collections", "OrderedDict"): dict,  # plain mapping; order is kept by dict anyway
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        table[(f"{core}.multiarray", "scalar")] = scalar
        table[(f"{core}.numeric", "_frombuffer")] = frombuffer
    for builtins in ("builtins", "__builtin__"):
        for name, obj in (("set", set), ("frozenset", frozenset), ("bytearray", bytearray),
                          ("complex", complex), ("bytes", bytes)):
            table[(builtins, name)] = obj
    return table


_ALLOWED: dict[tuple[str, str], Any] | None = None


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` answers only from the allow list."""

    def __init__(self, file: io.BufferedIOBase, *, source: str = "<pickle>") -> None:
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        global _ALLOWED
        if _ALLOWED is None:
            _ALLOWED = _allowed()
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refused to load global {module}.{name}: this pickle would import "
                "or call code. mmib only rebuilds NumPy arrays, dtypes, numbers, strings and plain "
                "containers; nothing in the file was executed. If you trust the file, re-save its "
                "arrays with NumPy (np.savez) or use `mmib data convert` on a clean copy."
            ) from None


def safe_load(path: str | Path) -> Any:
    """Unpickle ``path`` with :class:`SafeUnpickler`; errors name the file and the cause."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: data file not found") from None
    with f:
        head = f.read(2)
        f.seek(0)
        if not head:
            raise DataError(f"{path}: the file is empty; expected a pickle of train/valid/test splits")
        try:
            return SafeUnpickler(f, source=str(path)).load()
        except UnsafePickleError:
            raise
        except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError,
                AttributeError, UnicodeDecodeError, OverflowError, MemoryError) as e:
            what = "truncated" if isinstance(e, EOFError) or "truncated" in str(e) else "corrupt or not a pickle"
            raise DataError(
                f"{path}: cannot read it as a pickle ({what}: {type(e).__name__}: {e}); "
                "expected an MMSA, MAG-BERT or Multimodal Transformer feature pickle, or a file "
                "written by `mmib data convert`"
            ) from None
