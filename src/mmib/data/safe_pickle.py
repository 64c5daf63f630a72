"""Load feature pickles without running code hidden in them, and without trusting their bytes.

``pickle.load`` imports and calls whatever the file names, so a downloaded feature file can
run arbitrary code. Refusing unknown globals is not enough: NumPy's own reconstruction
functions, given crafted arguments, build object arrays over raw bytes (attacker-chosen
pointers: a segmentation fault, or worse). So nothing from the file reaches NumPy's
constructors. :class:`SafeUnpickler` (pure Python, so every opcode is ours to check):

- resolves globals from a fixed table of *stand-ins*; every other global is refused with
  :class:`UnsafePickleError` before it is looked up, so nothing in the file runs;
- rebuilds arrays itself (:class:`_Array`): numeric, bool, bytes and unicode dtypes from
  exactly as many bytes as the shape needs; object arrays only from a list of objects this
  unpickler already built (which can only be plain Python values and such arrays); no
  structured, void or datetime dtypes, no crafted dtype state, no object array from bytes;
- allows BUILD only on those stand-ins and NEWOBJ only on plain builtin types;
- bounds the result: nesting depth, and the size the structure expands to when shared
  references are followed (a "billion laughs" pickle fails fast).

Every failure is a :class:`~mmib.data.validate.DataError`: one line naming the file and what
was refused or broken. Protocols 0-5 and Python 2 pickles (``encoding="latin1"``) are read.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .validate import DataError

MAX_DEPTH = 100
"""Deepest nesting of containers accepted."""
MAX_NODES = 50_000_000
"""Most values the loaded structure may expand to, shared references counted each time."""
MAX_ELEMENTS = 2**34
"""Most elements one array may have."""
_KINDS = "biufcSU"  # bool, int, uint, float, complex, bytes, unicode


class UnsafePickleError(DataError):
    """The pickle names a global that is not on the allow list (nothing was executed)."""


class _Refused(pickle.UnpicklingError):
    """Something in the file is not allowed; the message says what."""


# ----------------------------------------------------------------------------- stand-ins

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
                raise _Refused(f"string dtype size {elsize!r} is not allowed")
            base = np.dtype((base.type, elsize // 4 if base.kind == "U" else elsize))
        if order in ("<", ">") and base.itemsize > 1 and base.kind != "S":
            base = base.newbyteorder(order)
        elif order not in ("<", ">", "|", "="):
            raise _Refused(f"dtype byte order {order!r} is not allowed")
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
        raise _Refused(f"an array shape must be a tuple of non-negative integers, got {shape!r}"[:200])
    if int(np.prod(shape, dtype=object)) > MAX_ELEMENTS:
        raise _Refused(f"an array of shape {shape} is larger than {MAX_ELEMENTS} elements")
    return shape


def _from_bytes(raw: Any, dtype: np.dtype, shape: tuple[int, ...], fortran: bool) -> np.ndarray:
    if not isinstance(raw, (bytes, bytearray)):
        raise _Refused(f"array data must be bytes, got {type(raw).__name__}")
    if dtype.kind == "O":
        raise _Refused("an object array built from raw bytes (memory addresses) is refused")
    count = int(np.prod(shape, dtype=np.int64))
    if dtype.itemsize == 0 and count:
        raise _Refused("zero-width elements are not allowed")
    if len(raw) != count * dtype.itemsize:
        raise _Refused(f"array data holds {len(raw)} bytes; shape {shape} of {dtype} needs {count * dtype.itemsize}")
    flat = np.frombuffer(raw, dtype=dtype, count=count).copy()  # writable, owns its memory
    return flat.reshape(shape, order="F" if fortran else "C")


class _Array:
    """An array under construction: ``_reconstruct(ndarray, shape, typecode)`` then BUILD(state)."""

    def __init__(self) -> None:
        self.value: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Refused("array state is not the tuple NumPy writes")
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
            flat = np.empty(count, dtype=object)
            for i, v in enumerate(raw):
                flat[i] = _resolve(v, {}, 0)
            self.value = flat.reshape(shape, order="F" if fortran else "C")
        else:
            if isinstance(raw, str):  # Python 2 pickles keep array bytes as str (latin1)
                raw = raw.encode("latin1")
            self.value = _from_bytes(raw, dtype, shape, fortran)


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _Array:
    if cls is not _NDArray:
        raise _Refused("_reconstruct may only rebuild numpy.ndarray")
    return _Array()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if order not in ("C", "F"):
        raise _Refused(f"array order {order!r} is not allowed")
    return _from_bytes(buf, _dtype_of(dtype), _shape(shape), order == "F")


def _scalar(dtype: Any, data: Any = None) -> Any:
    dt = _dtype_of(dtype)
    if dt.kind == "O":
        return _resolve(data, {}, 0)
    if isinstance(data, str):
        data = data.encode("latin1")
    return _from_bytes(data, dt, (), False)[()]


class _NDArray:
    """Stands for ``numpy.ndarray`` as an argument of ``_reconstruct``; never constructed."""

    def __new__(cls, *args: Any, **kwargs: Any):
        raise _Refused("numpy.ndarray(...) called directly (it can build arrays over raw memory)")


def _latin1_encode(text: Any, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol <= 2 uses it for ``bytes``; any other codec is refused."""
    try:
        ok = codecs.lookup(encoding).name == "iso8859-1"
    except (LookupError, TypeError):
        ok = False
    if not ok or not isinstance(text, str) or errors != "strict":
        raise _Refused(f"_codecs.encode with codec {encoding!r} (only latin1 is allowed)")
    return codecs.encode(text, "latin1", errors)


_BUILTINS = {"set": set, "frozenset": frozenset, "bytearray": bytearray, "complex": complex, "bytes": bytes}
_TABLE: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDArray,
    ("numpy", "dtype"): _DType,
    ("_codecs", "encode"): _latin1_encode,
    ("collections", "OrderedDict"): dict,  # plain mapping; order is kept by dict anyway
    **{(f"{core}.multiarray", "_reconstruct"): _reconstruct for core in ("numpy.core", "numpy._core")},
    **{(f"{core}.multiarray", "scalar"): _scalar for core in ("numpy.core", "numpy._core")},
    **{(f"{core}.numeric", "_frombuffer"): _frombuffer for core in ("numpy.core", "numpy._core")},
    **{(b, name): obj for b in ("builtins", "__builtin__") for name, obj in _BUILTINS.items()},
}
_NEW_OK = (set, frozenset, bytearray, complex, bytes, dict)


# ----------------------------------------------------------------------------- the unpickler

def _load_build(self: "SafeUnpickler") -> None:
    state = self.stack.pop()
    inst = self.stack[-1]
    if not isinstance(inst, (_Array, _DType)):
        raise _Refused(f"BUILD (setting an object's state) on a {type(inst).__name__} is not allowed")
    inst.__setstate__(state)


def _load_newobj(self: "SafeUnpickler") -> None:
    args = self.stack.pop()
    cls = self.stack.pop()
    if cls not in _NEW_OK or not isinstance(args, tuple):
        raise _Refused(f"NEWOBJ of {getattr(cls, '__name__', type(cls).__name__)} is not allowed")
    self.append(cls.__new__(cls, *args))


def _load_newobj_ex(self: "SafeUnpickler") -> None:
    kwargs = self.stack.pop()
    args = self.stack.pop()
    cls = self.stack.pop()
    if cls not in _NEW_OK or kwargs or not isinstance(args, tuple):
        raise _Refused(f"NEWOBJ_EX of {getattr(cls, '__name__', type(cls).__name__)} is not allowed")
    self.append(cls.__new__(cls, *args))


def _load_inst_refused(self: "SafeUnpickler") -> None:
    raise _Refused("the INST / OBJ opcodes (old-style instances) are not allowed")


class SafeUnpickler(pickle._Unpickler):  # the Python implementation: every opcode can be checked
    """An unpickler whose globals come from a table of stand-ins (see the module docstring)."""

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex
    dispatch[pickle.INST[0]] = _load_inst_refused
    dispatch[pickle.OBJ[0]] = _load_inst_refused

    def __init__(self, file: io.BufferedIOBase, *, source: str = "<pickle>") -> None:
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _TABLE[(module, name)]
        except (KeyError, TypeError):
            shown = repr(f"{module}.{name}")[1:-1][:200]  # names come from the file: no raw control characters
            raise UnsafePickleError(
                f"{self.source}: refused to load global {shown}: this pickle would import "
                "or call code. mmib only rebuilds NumPy arrays, dtypes, numbers, strings and plain "
                "containers; nothing in the file was executed. If you trust the file, re-save its "
                "arrays with NumPy (np.savez) or use `mmib data convert` on a clean copy."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent references are not supported (not a data file?)")


# ----------------------------------------------------------------------------- after loading

_TOO_BIG = (f"the structure expands to more than {MAX_NODES} values when its shared references are "
            "followed (a 'billion laughs' pickle?)")


def _resolve(obj: Any, seen: dict[int, tuple[Any, int]], depth: int) -> Any:
    """``obj`` with every stand-in replaced by what it built (see :func:`_walk`)."""
    return _walk(obj, seen, depth)[0]


def _walk(obj: Any, seen: dict[int, tuple[Any, int]], depth: int) -> tuple[Any, int]:
    """(``obj`` with stand-ins replaced, the number of values it expands to): a value reached
    twice through shared references counts twice, in time linear in the distinct values."""
    if depth > MAX_DEPTH:
        raise _Refused(f"containers nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, (str, bytes, bytearray, int, float, complex, bool, type(None), np.generic, np.ndarray,
                        np.dtype)):
        return obj, 1
    if isinstance(obj, (_Array, _DType)):
        if obj.value is None:
            raise _Refused(f"an {'array' if isinstance(obj, _Array) else 'dtype'} without its state")
        return obj.value, 1
    key = id(obj)
    if key in seen:
        return seen[key]
    if isinstance(obj, (list, dict)):
        seen[key] = (obj, 1)  # a cycle back to it counts once
        total = 1
        for k in (range(len(obj)) if isinstance(obj, list) else list(obj)):
            obj[k], n = _walk(obj[k], seen, depth + 1)
            total += n
            if total > MAX_NODES:
                raise _Refused(_TOO_BIG)
        seen[key] = (obj, total)
        return obj, total
    if isinstance(obj, (tuple, set, frozenset)):
        parts = [_walk(v, seen, depth + 1) for v in obj]
        total = 1 + sum(n for _, n in parts)
        if total > MAX_NODES:
            raise _Refused(_TOO_BIG)
        out = type(obj)(v for v, _ in parts)
        seen[key] = (out, total)
        return out, total
    raise _Refused(f"a {type(obj).__name__} object is not allowed in a data file")


def safe_load(path: str | Path) -> Any:
    """Unpickle ``path`` with :class:`SafeUnpickler`; errors name the file and the cause."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: data file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot open it ({e.strerror or e})") from None
    with f:
        head = f.read(2)
        f.seek(0)
        if not head:
            raise DataError(f"{path}: the file is empty; expected a pickle of train/valid/test splits")
        try:
            return _resolve(SafeUnpickler(f, source=str(path)).load(), {}, 0)
        except UnsafePickleError:
            raise
        except _Refused as e:
            raise DataError(f"{path}: refused to load it ({e}); nothing in the file was executed") from None
        except RecursionError:
            raise DataError(f"{path}: refused to load it (nested too deeply)") from None
        except MemoryError:
            raise DataError(f"{path}: cannot load it: not enough memory") from None
        except Exception as e:  # noqa: BLE001 - whatever a broken file makes the unpickler raise
            cut = isinstance(e, EOFError) or any(w in str(e) for w in ("truncated", "exhausted", "ran out"))
            what = "truncated" if cut else "corrupt or not a pickle"
            raise DataError(
                f"{path}: cannot read it as a pickle ({what}: {type(e).__name__}: {str(e)[:200]}); "
                "expected an MMSA, MAG-BERT or Multimodal Transformer feature pickle, or a file "
                "written by `mmib data convert`"
            ) from None
