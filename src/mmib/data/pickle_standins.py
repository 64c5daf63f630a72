"""The stand-ins :mod:`mmib.data.safe_pickle` resolves globals to: nothing from a file reaches
NumPy's constructors, and every size a file passes to one is checked against the file's
:class:`~mmib.data.budget.Budget` before anything is allocated.

- :class:`_DType`: numeric, bool, bytes and unicode dtypes (no structured, void, datetime);
- :class:`_Array`: arrays rebuilt from exactly as many bytes as the shape needs, or object
  arrays from a list of values the unpickler built (their elements are resolved later, with
  the rest of the file, so nesting is counted across the whole object graph);
- ``bytes``, ``bytearray``, ``set``, ``frozenset``, ``dict``, ``complex`` and latin1
  ``_codecs.encode``, called through :func:`call`, which sizes their result first.
"""

from __future__ import annotations

import codecs
import pickle
from typing import Any

import numpy as np

from .budget import Budget, short

MAX_ELEMENTS = 2**34
"""Most elements one array may have (and the budget must allow their bytes too)."""
_KINDS = "biufcSU"  # bool, int, uint, float, complex, bytes, unicode


class _Refused(pickle.UnpicklingError):
    """Something in the file is not allowed; the message says what."""


class _DType:
    """A dtype under construction: ``numpy.dtype(spec, align, copy)`` then BUILD(state)."""

    def __init__(self, spec: Any, *args: Any) -> None:
        if not isinstance(spec, str) or len(spec) > 8:
            raise _Refused(f"a dtype spec must be a short string, got {type(spec).__name__}")
        try:
            base = np.dtype(spec)
        except TypeError:
            raise _Refused(f"unknown dtype {spec!r}") from None
        if base.kind not in _KINDS + "O":  # object arrays are built from lists only (_Array)
            raise _Refused(f"dtype {spec!r} (kind {base.kind!r}) is not allowed: only numeric, bool, bytes "
                           "and unicode arrays, and object arrays of plain values")
        self.value: np.dtype | None = base if base.kind not in "SU" else None
        self.spec = spec

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (8, 9):
            raise _Refused("dtype state is not the 8- or 9-tuple NumPy writes")
        order, subarray, names, fields, elsize = state[1], state[2], state[3], state[4], state[5]
        if subarray is not None or names is not None or fields is not None:
            raise _Refused("structured or sub-array dtypes are not allowed")
        base = np.dtype(self.spec)
        if base.kind in "SU":
            if not isinstance(elsize, int) or not 0 < elsize <= 1 << 20:
                raise _Refused(f"string dtype size {short(elsize)} is not allowed")
            base = np.dtype((base.type, elsize // 4 if base.kind == "U" else elsize))
        if order in ("<", ">") and base.itemsize > 1 and base.kind != "S":
            base = base.newbyteorder(order)
        elif order not in ("<", ">", "|", "="):
            raise _Refused(f"dtype byte order {short(order)} is not allowed")
        self.value = base

    def get(self) -> np.dtype:
        if self.value is None:
            raise _Refused("a string dtype was used before its state was read")
        return self.value


def _dtype_of(d: Any) -> np.dtype:
    if isinstance(d, _DType):
        return d.get()
    if isinstance(d, np.dtype) and d.kind in _KINDS + "O":
        return d
    raise _Refused(f"expected a dtype, got {type(d).__name__}")


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, tuple) or len(shape) > 32 or \
            not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise _Refused(f"an array shape must be a tuple of at most 32 non-negative integers, got {short(shape)}")
    if int(np.prod(shape, dtype=object)) > MAX_ELEMENTS:
        raise _Refused(f"an array of shape {short(shape)} is larger than {MAX_ELEMENTS} elements")
    return shape


def _from_bytes(raw: Any, dtype: np.dtype, shape: tuple[int, ...], fortran: bool, budget: Budget) -> np.ndarray:
    if not isinstance(raw, (bytes, bytearray)):
        raise _Refused(f"array data must be bytes, got {type(raw).__name__}")
    if dtype.kind == "O":
        raise _Refused("an object array built from raw bytes (memory addresses) is refused")
    count = int(np.prod(shape, dtype=np.int64))
    if dtype.itemsize == 0 and count:
        raise _Refused("zero-width elements are not allowed")
    if len(raw) != count * dtype.itemsize:
        raise _Refused(f"array data holds {len(raw)} bytes; shape {shape} of {dtype} needs {count * dtype.itemsize}")
    budget.charge(len(raw), f"an array of shape {shape} and dtype {dtype}")
    flat = np.frombuffer(raw, dtype=dtype, count=count).copy()  # writable, owns its memory
    return flat.reshape(shape, order="F" if fortran else "C")


class _Array:
    """An array under construction: ``_reconstruct(ndarray, shape, typecode)`` then BUILD(state).

    An object array holds the file's values as they are (stand-ins included) in ``flat``;
    :func:`mmib.data.safe_pickle._walk` resolves them with the rest of the file."""

    def __init__(self) -> None:
        self.value: np.ndarray | None = None
        self.flat: np.ndarray | None = None

    def build(self, state: Any, budget: Budget, made: list[np.ndarray]) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Refused("array state is not the tuple NumPy writes")
        if self.value is not None:
            raise _Refused("an array's state was set twice")
        _, shape, dtype, fortran, raw = state if len(state) == 5 else (1, *state)
        shape, dtype = _shape(shape), _dtype_of(dtype)
        if not isinstance(fortran, bool):
            raise _Refused("array order flag must be a bool")
        if dtype.kind == "O":
            if not isinstance(raw, list):
                raise _Refused("an object array's data must be a list of values")
            count = int(np.prod(shape, dtype=np.int64))
            if len(raw) != count:
                raise _Refused(f"object array of shape {shape} with {len(raw)} values")
            budget.charge(8 * count, f"an object array of shape {shape}")
            flat = np.empty(count, dtype=object)
            made.append(flat)  # torn down element by element if the file is refused
            for i, v in enumerate(raw):
                flat[i] = v
            self.flat = flat
            self.value = flat.reshape(shape, order="F" if fortran else "C")
        else:
            if isinstance(raw, str):  # Python 2 pickles keep array bytes as str (latin1)
                budget.charge(len(raw), "array data kept as text (a Python 2 pickle)")
                raw = raw.encode("latin1")
            self.value = _from_bytes(raw, dtype, shape, fortran, budget)


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _Array:
    if cls is not _NDArray:
        raise _Refused("_reconstruct may only rebuild numpy.ndarray")
    return _Array()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any, *, budget: Budget) -> np.ndarray:
    if order not in ("C", "F"):
        raise _Refused(f"array order {short(order)} is not allowed")
    return _from_bytes(buf, _dtype_of(dtype), _shape(shape), order == "F", budget)


def _scalar(dtype: Any, data: Any = None, *, budget: Budget) -> Any:
    dt = _dtype_of(dtype)
    if dt.kind == "O":
        return data  # resolved with the rest of the file
    if isinstance(data, str):
        data = data.encode("latin1")
    return _from_bytes(data, dt, (), False, budget)[()]


class _NDArray:
    """Stands for ``numpy.ndarray`` as an argument of ``_reconstruct``; never constructed."""

    def __new__(cls, *args: Any, **kwargs: Any):
        raise _Refused("numpy.ndarray(...) called directly (it can build arrays over raw memory)")


def _latin1_encode(text: Any, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol <= 2 uses it for ``bytes``; any other codec is refused."""
    try:
        ok = isinstance(encoding, str) and codecs.lookup(encoding).name == "iso8859-1"
    except (LookupError, TypeError):
        ok = False
    if not ok or not isinstance(text, str) or errors != "strict":
        raise _Refused(f"_codecs.encode with codec {short(encoding)} (only latin1 is allowed)")
    return codecs.encode(text, "latin1", errors)


_BUILTINS = {"set": set, "frozenset": frozenset, "bytearray": bytearray, "complex": complex, "bytes": bytes}
TABLE: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDArray,
    ("numpy", "dtype"): _DType,
    ("_codecs", "encode"): _latin1_encode,
    ("collections", "OrderedDict"): dict,  # plain mapping; order is kept by dict anyway
    **{(f"{core}.multiarray", "_reconstruct"): _reconstruct for core in ("numpy.core", "numpy._core")},
    **{(f"{core}.multiarray", "scalar"): _scalar for core in ("numpy.core", "numpy._core")},
    **{(f"{core}.numeric", "_frombuffer"): _frombuffer for core in ("numpy.core", "numpy._core")},
    **{(b, name): obj for b in ("builtins", "__builtin__") for name, obj in _BUILTINS.items()},
}
NEW_OK = (set, frozenset, bytearray, complex, bytes, dict)
_WITH_BUDGET = (_frombuffer, _scalar)


def _result_size(func: Any, args: tuple) -> tuple[int, int]:
    """(bytes, values) that ``func(*args)`` would build, from its arguments alone."""
    a = args[0] if args else None
    if func in (bytes, bytearray):
        if isinstance(a, bool) or a is None:
            return 1, 0
        if isinstance(a, int):
            return max(a, 0), 0
        if isinstance(a, str):
            return 4 * len(a), 0
        if isinstance(a, np.ndarray):
            return int(a.nbytes), 0
        return (len(a), 0) if hasattr(a, "__len__") else (0, 0)
    if func is _latin1_encode:
        return (len(a), 0) if isinstance(a, str) else (0, 0)
    if func in (set, frozenset, dict):
        return 0, (len(a) if hasattr(a, "__len__") else 0)
    if func is complex:
        return 0, 1
    return 0, 0


def call(func: Any, args: Any, budget: Budget, *, new: bool = False) -> Any:
    """``func(*args)`` (REDUCE) or ``func.__new__(func, *args)`` (NEWOBJ), sized first."""
    if not isinstance(args, tuple):
        raise _Refused(f"call arguments must be a tuple, got {type(args).__name__}")
    nbytes, values = _result_size(func, args)
    what = f"{getattr(func, '__name__', type(func).__name__)}() of {nbytes} bytes" if nbytes else \
        f"{getattr(func, '__name__', type(func).__name__)}() of {values} values"
    budget.charge(nbytes, what)
    budget.charge_values(values, what)
    if new:
        return func.__new__(func, *args)
    if func in _WITH_BUDGET:
        return func(*args, budget=budget)
    return func(*args)


__all__ = ["MAX_ELEMENTS", "NEW_OK", "TABLE", "call"]
