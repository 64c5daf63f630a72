"""Running the extraction of many rows: in this process or in worker processes, with a
progress bar that moves within a clip (a 5-minute clip is not one frozen step).

``work(row, *args, queue)`` extracts one row and returns (row number, reason or None); as it
goes it puts (row number, fraction of the clip done) on ``queue``. Here the queue is either a
plain object that updates the bar at once (one process) or a manager queue drained while
waiting for the workers.
"""

from __future__ import annotations

import os
import queue as queue_mod
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Sequence

Done = Callable[[int, "str | None"], None]


class _Bar:
    """A clip-count progress bar whose value includes the fractions of the clips under way."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        self.finished, self.partial, self.shown, self.over = 0, {}, 0.0, set()
        if enabled and total:  # a bar on a terminal, plain lines in a log (mmib.progress)
            from ..progress import Progress

            self.bar = Progress(total=total, desc="mmib extract", unit="clip", stream=sys.stderr)

    def put(self, item: tuple[int, float]) -> None:  # the one-process "queue"
        row, fraction = item
        if row in self.over:  # a late message of a finished clip
            return
        self.partial[row] = fraction
        self._draw()

    def done(self, row: int) -> None:
        self.partial.pop(row, None)
        self.over.add(row)
        self.finished += 1
        self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        if self.bar is None:
            return
        n = self.finished + sum(self.partial.values())
        if force or n - self.shown >= 0.05:
            self.bar.update(round(n - self.shown, 3))  # fractions of a clip: the bar moves within one
            self.shown = n

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(todo: Sequence[Any], work: Callable[..., tuple[int, "str | None"]], args: tuple, *, workers: int | None,
        progress: bool, done: Done) -> None:
    """``work(row, *args, queue)`` for every row of ``todo``; ``done(row number, reason)`` as each
    finishes (it may raise to stop the run: the pending rows are cancelled)."""
    bar = _Bar(len(todo), progress)
    workers = workers or os.cpu_count() or 1
    try:
        if workers == 1 or len(todo) <= 1:
            for r in todo:
                n, reason = work(r, *args, bar if progress else None)
                bar.done(n)
                done(n, reason)
            return
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        manager = ctx.Manager() if progress else None
        q = manager.Queue() if manager is not None else None
        try:
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=ctx) as ex:
                pending = {ex.submit(work, r, *args, q) for r in todo}
                try:
                    while pending:
                        finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                        _drain(q, bar)
                        for f in finished:
                            n, reason = f.result()
                            bar.done(n)
                            done(n, reason)
                except BaseException:
                    for f in pending:
                        f.cancel()
                    raise
        finally:
            if manager is not None:
                manager.shutdown()
    finally:
        bar.close()


def _drain(q: Any, bar: _Bar) -> None:
    if q is None:
        return
    deadline = time.monotonic() + 0.1
    while time.monotonic() < deadline:
        try:
            bar.put(q.get_nowait())
        except queue_mod.Empty:
            return


__all__ = ["run"]
