"""A short queue that batches concurrent requests: the first waiting request opens a batch,
which takes every request already queued, up to ``max_batch`` utterances; the model then runs
on the whole batch in one worker thread (never on the event loop) and each request gets its
own rows back. While the model is busy new requests queue up, so under load batches grow by
themselves and throughput with them.

How long a batch waits for more: the utterances in the server when the last batch finished
(that batch's, whose clients usually send their next request at once, and those queued
meanwhile) are expected, so a batch short of that waits for them, at most ``max_wait_ms``; a
lone client never waits, and after a second without batches the expectation starts again
from one. Without the wait, 32 closed-loop clients split into two halves that take turns and
the model runs half-size batches (measured in docs/serving.md).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class _Job:
    examples: list[Any]
    future: asyncio.Future
    queued: float = field(default_factory=time.perf_counter)


def take(p: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a Predictions (same class, every per-utterance array sliced)."""
    return type(p)(ids=list(p.ids[start:stop]), pred=p.pred[start:stop], labels=p.labels[start:stop],
                   heads={k: v[start:stop] for k, v in p.heads.items()},
                   kl={k: v[start:stop] for k, v in p.kl.items()},
                   fused=None if p.fused is None else p.fused[start:stop], terms=dict(p.terms))


class Batcher:
    """``await batcher.submit(examples)`` -> that request's Predictions.

    ``predict``: a function examples -> Predictions (the backend's), run in one thread."""

    IDLE_RESET_S = 1.0  # after this long without a batch, expect one utterance again

    def __init__(self, predict: Callable[[list[Any]], Any], *, max_batch: int = 32, max_wait_ms: float = 20.0,
                 max_pending: int = 4096) -> None:
        if max_batch < 1:
            raise ValueError(f"--max-batch: expected at least 1, got {max_batch}")
        if max_wait_ms < 0:
            raise ValueError(f"--max-wait-ms: expected 0 or more, got {max_wait_ms}")
        self.predict = predict
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_pending = max_pending
        self.pending = 0  # utterances queued or running
        self.stats = {"batches": 0, "utterances": 0, "largest_batch": 0}
        self._expect = 1  # utterances the next batch waits for (the last batch's size)
        self._last_end = 0.0
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="mmib-model")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="mmib-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._pool.shutdown(wait=False, cancel_futures=True)

    def busy(self) -> bool:
        return self.pending >= self.max_pending

    async def submit(self, examples: list[Any]) -> Any:
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        fut = asyncio.get_running_loop().create_future()
        self.pending += len(examples)
        try:
            await self._queue.put(_Job(list(examples), fut))
            return await fut
        finally:
            self.pending -= len(examples)

    async def _collect(self, first: _Job) -> list[_Job]:
        assert self._queue is not None
        jobs, n = [first], len(first.examples)
        now = time.perf_counter()
        if now - self._last_end > self.IDLE_RESET_S:
            self._expect = 1
        target = min(self.max_batch, self._expect)
        deadline = now + self.max_wait
        while n < self.max_batch:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                left = deadline - time.perf_counter()
                if n >= target or left <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), left)
                except asyncio.TimeoutError:
                    break
            jobs.append(job)
            n += len(job.examples)
        return jobs

    def _finished(self) -> None:
        """A batch is done: its requests (still counted in ``pending``) and those queued since
        are what the next batch expects."""
        self._last_end = time.perf_counter()
        self._expect = max(1, self.pending)

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect(await self._queue.get())
            jobs = [j for j in jobs if not j.future.done()]  # a request that timed out or left
            if not jobs:
                continue
            examples = [ex for j in jobs for ex in j.examples]
            try:
                p = await loop.run_in_executor(self._pool, self.predict, examples)
            except Exception as e:  # noqa: BLE001 - never fatal: one request's input must not fail the others
                self._finished()
                if len(jobs) == 1:
                    if not jobs[0].future.done():
                        jobs[0].future.set_exception(e)
                    continue
                for j in jobs:  # run each request alone: only the one that fails gets the error
                    try:
                        one = await loop.run_in_executor(self._pool, self.predict, j.examples)
                    except Exception as e1:  # noqa: BLE001
                        if not j.future.done():
                            j.future.set_exception(e1)
                    else:
                        if not j.future.done():
                            j.future.set_result(one)
                continue
            self._finished()
            self.stats["batches"] += 1
            self.stats["utterances"] += len(examples)
            self.stats["largest_batch"] = max(self.stats["largest_batch"], len(examples))
            start = 0
            for j in jobs:
                stop = start + len(j.examples)
                if not j.future.done():
                    j.future.set_result(take(p, start, stop))
                start = stop


def split_sizes(total: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) pieces of at most ``size`` covering ``range(total)``."""
    return [(i, min(i + size, total)) for i in range(0, total, size)]


def concat(parts: list[Any]) -> Any:
    """Predictions of consecutive pieces -> one Predictions."""
    if len(parts) == 1:
        return parts[0]
    p0 = parts[0]
    return type(p0)(ids=[i for p in parts for i in p.ids], pred=np.concatenate([p.pred for p in parts]),
                    labels=np.concatenate([p.labels for p in parts]),
                    heads={k: np.concatenate([p.heads[k] for p in parts]) for k in p0.heads},
                    kl={k: np.concatenate([p.kl[k] for p in parts]) for k in p0.kl},
                    fused=None if p0.fused is None else np.concatenate([p.fused for p in parts]), terms={})


__all__ = ["Batcher", "concat", "split_sizes", "take"]
