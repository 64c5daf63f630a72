"""Progress that shows everywhere: a tqdm bar on a terminal, plain lines in a log.

When stderr is a terminal, :class:`Progress` draws a tqdm bar (as before). When it is not (a
log file, ``nohup``, SLURM, CI) a bar would print nothing useful, so a plain line goes to
stderr at a steady interval instead: step / total, items per second (utterances, clips) and
the ETA, e.g.::

    epoch 3/40: 120/412 batches (29%), 312 utt/s, ETA 2m41s, loss 0.8123

The interval is ``MMIB_PROGRESS_EVERY`` seconds (default 30; ``0``: a line at every step);
a task that printed a line ends with a closing one. ``enabled=False`` prints nothing (``-q``,
``train.progress = false``, the ranks other than 0). This module imports no other part of
mmib: every layer may use it.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Iterable, Iterator, TextIO

ENV = "MMIB_PROGRESS_EVERY"
DEFAULT_EVERY = 30.0


def interval() -> float:
    """Seconds between plain progress lines (``MMIB_PROGRESS_EVERY``, default 30)."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return DEFAULT_EVERY
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{ENV}={text!r}: expected a number of seconds (e.g. 30; 0 = every step)") from None
    if value < 0:
        raise ValueError(f"{ENV}={text!r}: expected a number of seconds >= 0")
    return value


def duration(seconds: float) -> str:
    """``45s``, ``2m41s``, ``1h05m``."""
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Progress:
    """Wrap ``iterable`` (or count with :meth:`update`) and show progress: a bar on a terminal,
    plain lines elsewhere. ``items``: the name of what :meth:`add_items` counts (its rate is
    shown, e.g. utterances per second)."""

    def __init__(self, iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "batch", items: str = "utt", enabled: bool = True, stream: TextIO | None = None,
                 every: float | None = None) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit, self.items_name = total, desc, unit, items
        self.stream = stream or sys.stderr
        self.n = self.items = 0
        self.postfix: dict[str, Any] = {}
        self.start = self.last = time.monotonic()
        self.lines = 0
        self.bar = None
        self.plain = False
        if not enabled:
            return
        if _is_terminal(self.stream):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, leave=False, file=self.stream)
        else:
            self.plain = True
            self.every = interval() if every is None else every

    def __iter__(self) -> Iterator[Any]:
        assert self.iterable is not None
        try:
            for x in self.iterable:
                yield x
                self.update(1)
        finally:
            self.close()

    def add_items(self, k: int) -> None:
        """Count ``k`` items (utterances) of the current step."""
        self.items += k

    def set_postfix(self, **values: Any) -> None:
        self.postfix = values
        if self.bar is not None:
            self.bar.set_postfix(**values)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.plain:
            now = time.monotonic()
            if now - self.last >= self.every:
                self.last = now
                self._line(now)

    def _line(self, now: float, final: bool = False) -> None:
        elapsed = max(now - self.start, 1e-9)
        units = self.unit + ("es" if self.unit.endswith(("s", "sh", "ch")) else "s")
        parts = [f"{self.n}/{self.total} {units} ({100 * self.n / self.total:.0f}%)" if self.total
                 else f"{self.n} {units}"]
        if self.items:
            parts.append(f"{self.items / elapsed:.0f} {self.items_name}/s")
        elif self.n:
            parts.append(f"{self.n / elapsed:.2f} {self.unit}/s")
        if final:
            parts.append(f"done in {duration(elapsed)}")
        elif self.total and self.n:
            parts.append(f"ETA {duration((self.total - self.n) * elapsed / self.n)}")
        parts += [f"{k} {v}" for k, v in self.postfix.items()]
        print(f"{self.desc}: {', '.join(parts)}", file=self.stream, flush=True)
        self.lines += 1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.plain and self.lines:  # a task that showed progress says when it ended
            self.plain = False
            self._line(time.monotonic(), final=True)
        self.plain = False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["DEFAULT_EVERY", "ENV", "Progress", "duration", "interval"]
