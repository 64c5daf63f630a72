"""Named points where a test (or a user rehearsing a failure) stops the process on purpose.

``MMIB_FAULT="POINT:N:ACTION[,POINT:N:ACTION...]"`` acts the N-th time the engine passes
POINT; ACTION is ``sigint`` (as Ctrl-C), ``sigterm`` (as a batch scheduler's stop), ``kill`` (SIGKILL: no cleanup at all) or ``oserror``
(raise a disk-full error). Points: ``epoch_end`` (after an epoch's state is saved),
``write`` (inside an atomic write, after the temporary file is written and before it is
renamed into place), ``built`` (after config.toml is written, before the data and model are
built), ``step`` (after each training step, counted over all epochs). Fault tests stop at a named point instead of racing the machine's speed. Under
torchrun, ``MMIB_FAULT_RANK=K`` limits the faults to rank K (one rank killed, the others not).
"""

from __future__ import annotations

import errno
import os
import signal

ENV = "MMIB_FAULT"
RANK_ENV = "MMIB_FAULT_RANK"


class _Counter:
    def __init__(self) -> None:
        self.passes: dict[str, int] = {}


_COUNTER = _Counter()


def point(name: str) -> None:
    """Pass the named point; act if ``MMIB_FAULT`` says so for this pass."""
    spec = os.environ.get(ENV, "")
    if not spec:
        return
    only = os.environ.get(RANK_ENV, "")
    if only and only != os.environ.get("RANK", "0"):
        return
    n = _COUNTER.passes[name] = _COUNTER.passes.get(name, 0) + 1
    for item in spec.split(","):
        parts = item.strip().split(":")
        if len(parts) != 3 or parts[0] != name or not parts[1].isdigit() or int(parts[1]) != n:
            continue
        action = parts[2]
        if action == "sigint":
            os.kill(os.getpid(), signal.SIGINT)
        elif action == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        elif action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "oserror":
            raise OSError(errno.ENOSPC, f"No space left on device (MMIB_FAULT at {name} {n})")


__all__ = ["ENV", "point"]
