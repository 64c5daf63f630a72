"""Run a parser of untrusted files in a child process, under a time limit.

libhdf5 is C: on some damaged files it loops forever (seen: an attribute read of a fuzzed
``.csd`` never returned) or could crash, and no Python code can interrupt it. So
:func:`isolated` forks, parses in the child and hands the result back as a pickle that the
parent reads with :func:`mmib.data.safe_pickle.safe_load` (plain values and arrays only:
even a child subverted by a hostile file cannot make the parent run code). A child that
runs past the limit is killed; one that dies of a signal is reported; either is one
DataError naming the file.

The limit is 60 s + 1 s per 10 MiB of the file; ``MMIB_HDF5_TIMEOUT=SECONDS`` sets it.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from ..data.budget import clip
from ..data.safe_pickle import safe_load
from ..data.validate import DataError


def limit_for(path: Path) -> float:
    raw = os.environ.get("MMIB_HDF5_TIMEOUT", "").strip()
    if raw:
        try:
            return max(float(raw), 0.1)
        except ValueError:
            raise ValueError(f"MMIB_HDF5_TIMEOUT={raw!r}: expected a number of seconds") from None
    return 60.0 + path.stat().st_size / (10 << 20)


def isolated(work: Callable[[], Any], path: Path, what: str = "HDF5") -> Any:
    """``work()`` run in a forked child (its result: plain values and NumPy arrays); a DataError
    naming ``path`` when it raises one, runs past :func:`limit_for` or dies of a signal."""
    limit = limit_for(path)
    folder = Path(tempfile.mkdtemp(prefix="mmib-isolated-"))
    out = folder / "result.pkl"
    try:
        pid = os.fork()
        if pid == 0:  # the child: parse, write the result, leave without running the parent's cleanup
            code = 0
            try:
                try:
                    result: tuple = ("ok", work())
                except (DataError, FileNotFoundError, ValueError) as e:
                    result = ("error", str(e))
                except MemoryError:
                    result = ("error", f"{path}: not enough memory to read it")
                with open(out, "wb") as f:
                    pickle.dump(result, f, protocol=4)
            except BaseException:  # noqa: BLE001 - nothing may escape the child
                code = 1
            finally:
                os._exit(code)
        deadline = time.monotonic() + limit
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise DataError(f"{path}: {what} did not finish reading it within {limit:.0f} s (a damaged file "
                                "makes it loop); refused. Set MMIB_HDF5_TIMEOUT=SECONDS for a slow disk")
            time.sleep(0.005)
        if os.WIFSIGNALED(status):
            raise DataError(f"{path}: {what} crashed reading it (signal {os.WTERMSIG(status)}); the file is damaged")
        if not out.exists():
            raise DataError(f"{path}: {what} failed reading it (exit status {os.WEXITSTATUS(status)}); the file "
                            "is damaged")
        kind, value = safe_load(out)
        if kind != "ok":
            raise DataError(clip(value, 2000))
        return value
    finally:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["isolated", "limit_for"]
