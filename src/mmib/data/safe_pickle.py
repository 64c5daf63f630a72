"""Load feature pickles without running code hidden in them, and without trusting their bytes.

``pickle.load`` imports and calls whatever the file names, so a downloaded feature file can
run arbitrary code. Refusing unknown globals is not enough: NumPy's own reconstruction
functions, given crafted arguments, build object arrays over raw bytes (attacker-chosen
pointers: a segmentation fault, or worse). So nothing from the file reaches NumPy's
constructors. :class:`SafeUnpickler` (pure Python, so every opcode is ours to check):

- resolves globals from a fixed table of *stand-ins* (:mod:`mmib.data.pickle_standins`);
  every other global is refused with :class:`UnsafePickleError` before it is looked up;
- rebuilds arrays itself: numeric, bool, bytes and unicode dtypes from exactly as many
  bytes as the shape needs; object arrays only from a list of values the unpickler built;
- allows BUILD only on those stand-ins and NEWOBJ only on plain builtin types;
- holds one :class:`~mmib.data.budget.Budget` per file: every size the file passes to an
  allowed constructor (an array, ``bytes(n)``, ``bytearray`` of a declared length, a set)
  is charged before it is allocated; nesting is bounded across the whole object graph
  (object arrays inside object arrays included), tuples as they are built (hashing a deep
  tuple would overflow the C stack), and the values reached when shared references are
  followed are counted once per file (a "billion laughs" pickle fails fast);
- tears refused data down element by element (object arrays are freed recursively by
  NumPy: a few thousand nested ones would crash the process on the way out).

Every failure is a :class:`~mmib.data.validate.DataError`: one line naming the file and what
was refused or broken. Protocols 0-5 and Python 2 pickles (``encoding="latin1"``) are read.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from struct import unpack
from typing import Any

import numpy as np

from .budget import MAX_DEPTH, Budget, BudgetExceeded, clip
from .pickle_standins import MAX_ELEMENTS, NEW_OK, TABLE, _Array, _DType, _Refused, call
from .validate import DataError

__all__ = ["MAX_DEPTH", "MAX_ELEMENTS", "SafeUnpickler", "UnsafePickleError", "safe_load"]


class UnsafePickleError(DataError):
    """The pickle names a global that is not on the allow list (nothing was executed)."""


_IN_MEMORY = 64 << 20
"""Files up to this size are read into memory first (the pure-Python unpickler reads by opcode)."""


class _Bounded:
    """The file, read no further than its end: a declared length never sizes a buffer."""

    def __init__(self, f: io.BufferedIOBase, size: int) -> None:
        self.f, self.left = f, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.f.read(n)
        self.left -= len(data)
        return data

    def readline(self) -> bytes:
        data = self.f.readline()
        self.left -= len(data)
        return data


# ----------------------------------------------------------------------------- opcodes we check

def _load_build(self: "SafeUnpickler") -> None:
    state = self.stack.pop()
    inst = self.stack[-1]
    if isinstance(inst, _Array):
        inst.build(state, self.budget, self.made)
    elif isinstance(inst, _DType):
        inst.__setstate__(state)
    else:
        raise _Refused(f"BUILD (setting an object's state) on a {type(inst).__name__} is not allowed")


def _load_reduce(self: "SafeUnpickler") -> None:
    args = self.stack.pop()
    self.stack[-1] = call(self.stack[-1], args, self.budget)


def _new(self: "SafeUnpickler", cls: Any, args: Any, kwargs: Any = None) -> None:
    if cls not in NEW_OK or kwargs or not isinstance(args, tuple):
        raise _Refused(f"NEWOBJ of {getattr(cls, '__name__', type(cls).__name__)} is not allowed")
    self.append(call(cls, args, self.budget, new=True))


def _load_newobj(self: "SafeUnpickler") -> None:
    args = self.stack.pop()
    _new(self, self.stack.pop(), args)


def _load_newobj_ex(self: "SafeUnpickler") -> None:
    kwargs = self.stack.pop()
    args = self.stack.pop()
    _new(self, self.stack.pop(), args, kwargs)


def _load_bytearray8(self: "SafeUnpickler") -> None:
    (n,) = unpack("<Q", self.read(8))
    if n > self.file_bytes:
        raise _Refused(f"BYTEARRAY8 declares {n} bytes in a file of {self.file_bytes}")
    self.budget.charge(n, f"a bytearray of {n} bytes")
    b = bytearray(n)
    self.readinto(b)
    self.append(b)


def _load_inst_refused(self: "SafeUnpickler") -> None:
    raise _Refused("the INST / OBJ opcodes (old-style instances) are not allowed")


def _tuple_op(original):
    """A tuple opcode that records the tuple's nesting as it is built: hashing a tuple (a dict
    key, a set member) recurses in C, so a deep one is refused before it can be hashed."""

    def op(self: "SafeUnpickler") -> None:
        original(self)
        t = self.stack[-1]
        height = 1 + max((self.tuples.get(id(x), (None, 0))[1] for x in t if type(x) is tuple), default=0)
        if height > self.budget.max_depth:
            raise _Refused(f"tuples nested deeper than {self.budget.max_depth} levels")
        self.tuples[id(t)] = (t, height)  # the tuple is kept alive, so its id stays its own

    return op


class SafeUnpickler(pickle._Unpickler):  # the Python implementation: every opcode can be checked
    """An unpickler whose globals come from a table of stand-ins (see the module docstring)."""

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.REDUCE[0]] = _load_reduce
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex
    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    dispatch[pickle.INST[0]] = _load_inst_refused
    dispatch[pickle.OBJ[0]] = _load_inst_refused
    for _op in (pickle.TUPLE, pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3):
        dispatch[_op[0]] = _tuple_op(pickle._Unpickler.dispatch[_op[0]])

    def __init__(self, file: io.BufferedIOBase, *, source: str = "<pickle>", budget: Budget | None = None,
                 file_bytes: int | None = None) -> None:
        if file_bytes is None:
            file_bytes = os.fstat(file.fileno()).st_size if hasattr(file, "fileno") else 1 << 30
        if file_bytes <= _IN_MEMORY:  # read once; BytesIO never sizes a buffer from a declared length
            super().__init__(io.BytesIO(file.read(file_bytes)), encoding="latin1")
        else:
            super().__init__(_Bounded(file, file_bytes), encoding="latin1")
        self.source = source
        self.file_bytes = file_bytes
        self.budget = budget or Budget(file_bytes)
        self.made: list[np.ndarray] = []  # every object array built, in order (inner ones first)
        self.tuples: dict[int, tuple[tuple, int]] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return TABLE[(module, name)]
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

    def teardown(self) -> None:
        """Free what a refused file built without recursing: every object array is emptied,
        inner ones first, so no chain of nested arrays is left to free recursively."""
        for flat in self.made:
            flat.fill(None)
        self.made.clear()
        self.tuples.clear()
        self.stack, self.metastack, self.memo = [], [], {}


# ----------------------------------------------------------------------------- after loading

def _walk(obj: Any, seen: dict[int, tuple[Any, int]], depth: int, budget: Budget) -> tuple[Any, int]:
    """(``obj`` with every stand-in replaced by what it built, the number of values it expands
    to). One memo for the whole file: a value reached twice through shared references counts
    twice, in time linear in the distinct values; object arrays are walked into, so nesting
    and size are counted across the whole object graph."""
    if depth > budget.max_depth:
        raise _Refused(f"containers nested deeper than {budget.max_depth} levels")
    if isinstance(obj, _Array):
        if obj.value is None:
            raise _Refused("an array without its state")
        if obj.flat is None:
            return obj.value, 1
        key = id(obj)
        if key in seen:
            return seen[key]
        seen[key] = (obj.value, 1)  # a cycle back to it counts once
        total = 1
        flat = obj.flat
        for i in range(len(flat)):
            flat[i], n = _walk(flat[i], seen, depth + 1, budget)
            total += n
            _bound(total, budget)
        seen[key] = (obj.value, total)
        return obj.value, total
    if isinstance(obj, _DType):
        return obj.get(), 1
    if isinstance(obj, (str, bytes, bytearray, int, float, complex, bool, type(None), np.generic, np.ndarray,
                        np.dtype)):
        return obj, 1
    key = id(obj)
    if key in seen:
        return seen[key]
    if isinstance(obj, list):
        seen[key] = (obj, 1)  # a cycle back to it counts once
        total = 1
        for i in range(len(obj)):
            obj[i], n = _walk(obj[i], seen, depth + 1, budget)
            total += n
            _bound(total, budget)
        seen[key] = (obj, total)
        return obj, total
    if isinstance(obj, dict):
        seen[key] = (obj, 1)
        total, items = 1, list(obj.items())
        obj.clear()
        for k, v in items:  # keys too: a stand-in may sit in a key
            (k, a), (v, b) = _walk(k, seen, depth + 1, budget), _walk(v, seen, depth + 1, budget)
            obj[k] = v
            total += a + b
            _bound(total, budget)
        seen[key] = (obj, total)
        return obj, total
    if isinstance(obj, (tuple, set, frozenset)):
        parts = [_walk(v, seen, depth + 1, budget) for v in obj]
        total = 1 + sum(n for _, n in parts)
        _bound(total, budget)
        out = type(obj)(v for v, _ in parts)
        seen[key] = (out, total)
        return out, total
    raise _Refused(f"a {type(obj).__name__} object is not allowed in a data file")


def _bound(total: int, budget: Budget) -> None:
    budget.check(total * 64, f"the structure (expanding to more than {total} values when its shared "
                             "references are followed: a 'billion laughs' pickle?)")


def _resolve(unpickler: SafeUnpickler, obj: Any) -> Any:
    out, total = _walk(obj, {}, 0, unpickler.budget)
    unpickler.budget.charge_values(total, f"the structure ({total} values)")
    return out


def safe_load(path: str | Path, *, budget: Budget | None = None) -> Any:
    """Unpickle ``path`` with :class:`SafeUnpickler`; errors name the file and the cause."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: data file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot open it ({e.strerror or e})") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if not size:
            raise DataError(f"{path}: the file is empty; expected a pickle of train/valid/test splits")
        unpickler = SafeUnpickler(f, source=str(path), budget=budget or Budget(size), file_bytes=size)
        error: str | None = None
        try:
            return _resolve(unpickler, unpickler.load())
        except UnsafePickleError:
            unpickler.teardown()
            raise
        except (_Refused, BudgetExceeded) as e:
            error = f"refused to load it ({e}); nothing in the file was executed"
        except RecursionError:
            error = "refused to load it (nested too deeply); nothing in the file was executed"
        except MemoryError:
            error = "cannot load it: not enough memory"
        except Exception as e:  # noqa: BLE001 - whatever a broken file makes the unpickler raise
            cut = isinstance(e, EOFError) or any(w in str(e) for w in ("truncated", "exhausted", "ran out"))
            what = "truncated" if cut else "corrupt or not a pickle"
            error = (f"cannot read it as a pickle ({what}: {type(e).__name__}: {clip(str(e))[:200]}); "
                     "expected an MMSA, MAG-BERT or Multimodal Transformer feature pickle, or a file "
                     "written by `mmib data convert`")
        unpickler.teardown()  # outside the handler: the exception no longer holds the half-built data
        raise DataError(f"{path}: {error}")
