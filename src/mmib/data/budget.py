"""One memory budget per untrusted file: what reading it may materialise, set by its size.

A file of ``S`` bytes may make mmib build at most ``FACTOR x S + EXTRA`` bytes (arrays,
byte strings, containers counted at 64 bytes per value reached, shared references counted
each time they are reached) and nest containers at most ``MAX_DEPTH`` deep across the whole
object graph. Defaults: 8 x the file size + 256 MiB, 100 levels: a real feature file
(arrays stored as raw bytes) needs about 1 x its size; a "memory bomb" (a few hundred bytes
declaring gigabytes) needs far more and is refused before anything that large is allocated.

Raise it for a file you trust that legitimately expands more (a heavily compressed HDF5
file): ``MMIB_LOAD_BUDGET="FACTOR,EXTRA_MIB"`` (e.g. ``"32,4096"``) and
``MMIB_LOAD_MAX_DEPTH=N`` in the environment.
"""

from __future__ import annotations

import os
import reprlib

FACTOR = 8.0
"""Bytes a file may materialise per byte of its size."""
EXTRA_MIB = 256
"""Plus this many MiB, whatever the size (small files, headers, bookkeeping)."""
MAX_DEPTH = 100
"""Deepest nesting of containers in one file, counted across the whole object graph."""
VALUE_BYTES = 64
"""What one value reached (a reference followed) is charged: a Python object and its pointer."""
ENV, ENV_DEPTH = "MMIB_LOAD_BUDGET", "MMIB_LOAD_MAX_DEPTH"

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = _SHORT.maxfrozenset = 4
_SHORT.maxlevel = 2
_SHORT.maxlong = 40


def short(x: object) -> str:
    """A bounded ``repr`` for error messages: never formats a whole object from a file."""
    if isinstance(x, (bytes, bytearray)):
        return repr(bytes(x[:40])) + (f"... ({len(x)} bytes)" if len(x) > 40 else "")
    if isinstance(x, str):
        return repr(x[:60]) + (f"... ({len(x)} characters)" if len(x) > 60 else "")
    try:
        return _SHORT.repr(x)[:120]
    except Exception:  # noqa: BLE001 - a value whose repr fails is shown by its type
        return f"<{type(x).__name__}>"


def clip(text: str, n: int = 160) -> str:
    """``text`` (an error message, a name from a file) cut to ``n`` characters, without quotes."""
    text = str(text)
    return text if len(text) <= n else text[:n] + f"... ({len(text)} characters)"


class BudgetExceeded(ValueError):
    """Reading a file would materialise more than its budget allows (nothing that large was built)."""


def _settings() -> tuple[float, int, int]:
    factor, extra, depth = FACTOR, EXTRA_MIB, MAX_DEPTH
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            a, b = raw.split(",")
            factor, extra = float(a), int(b)
            if not (factor >= 0 and extra >= 0):
                raise ValueError
        except ValueError:
            raise ValueError(f"{ENV}={raw!r}: expected FACTOR,EXTRA_MIB (e.g. 16,1024)") from None
    raw = os.environ.get(ENV_DEPTH, "").strip()
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
            raise ValueError(f"{ENV_DEPTH}={raw!r}: expected an integer in [1, 10000]")
        depth = int(raw)
    return factor, extra, depth


class Budget:
    """What one file may still materialise; :meth:`charge` before allocating."""

    def __init__(self, file_bytes: int, *, factor: float | None = None, extra_mib: int | None = None,
                 max_depth: int | None = None) -> None:
        f, e, d = _settings()
        self.factor = f if factor is None else factor
        self.extra_mib = e if extra_mib is None else extra_mib
        self.max_depth = d if max_depth is None else max_depth
        self.file_bytes = int(file_bytes)
        self.limit = int(self.factor * self.file_bytes) + self.extra_mib * 2**20
        self.used = 0

    def describe(self) -> str:
        return (f"{self.factor:g} x the file's {self.file_bytes} bytes + {self.extra_mib} MiB = "
                f"{self.limit / 2**20:.0f} MiB; raise it with {ENV}=FACTOR,EXTRA_MIB if you trust the file")

    def check(self, nbytes: int, what: str) -> None:
        """Refuse ``what`` if ``nbytes`` more would exceed the budget (nothing is charged)."""
        if nbytes < 0 or self.used + nbytes > self.limit:
            raise BudgetExceeded(f"{what} needs {nbytes / 2**20:.1f} MiB more than the file's memory budget "
                                 f"allows ({self.describe()})")

    def charge(self, nbytes: int, what: str) -> None:
        self.check(nbytes, what)
        self.used += int(nbytes)

    def charge_values(self, n: int, what: str) -> None:
        self.charge(n * VALUE_BYTES, what)


__all__ = ["Budget", "BudgetExceeded", "clip", "ENV", "ENV_DEPTH", "EXTRA_MIB", "FACTOR", "MAX_DEPTH", "short"]
