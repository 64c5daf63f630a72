"""Stops that wait for a safe point: Ctrl-C (SIGINT) or SIGTERM while an epoch's files are
being written takes effect once they are all written, so that the epoch is not lost.

Outside :func:`safe_point` a stop acts at once (the files written so far are complete: every
write is atomic), and a resumed run repeats at most the epoch that was under way. The
command line turns SIGTERM (what SLURM, ``kill`` and most schedulers send) into the same
``KeyboardInterrupt`` as Ctrl-C (:mod:`mmib.cli`); a process whose SIGTERM keeps the default
action dies at once, as before.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def safe_point() -> Iterator[None]:
    """Hold SIGINT / SIGTERM (those with a Python handler) until the block ends, then act on
    the first one received. Only the main thread can hold signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[tuple[int, Any]] = []
    old = {}
    for s in _SIGNALS:
        h = signal.getsignal(s)
        if callable(h):  # a Python handler (Ctrl-C's default one included): hold it
            old[s] = h
            signal.signal(s, lambda signum, frame: held.append((signum, frame)))
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if held:
            signum, frame = held[0]
            old[signum](signum, frame)


def note_run(e: BaseException, run_dir: Any) -> None:
    """Record on a KeyboardInterrupt the run folder it stopped (the command line prints the
    resume command with it); the first folder recorded wins."""
    if getattr(e, "run_dir", None) is None:
        try:
            e.run_dir = run_dir  # type: ignore[attr-defined]
        except AttributeError:
            pass


__all__ = ["note_run", "safe_point"]
