"""The model in a process of its own (mmib.serve.process) and the batch window that waits for
the clients it expects (mmib.serve.batching): the server process holds no torch, a killed
model process fails one request and comes back, an orphaned one ends itself, the server's
tokenizer is checked against the model's, and batches grow to the number of clients."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

import mmib
from mmib.data.examples import tokenize
from mmib.inputs import FileTokenizer
from mmib.serve.batching import Batcher
from mmib.serve.process import PROBES, server_tokenizer
from serve_model import Server, served_run, server  # noqa: F401  (session fixtures)

pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")


def children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def model_child(pid: int) -> int:
    """The server's model process (a multiprocessing spawn child, not its resource tracker)."""
    for k in children(pid):
        cmd = Path(f"/proc/{k}/cmdline").read_bytes().decode(errors="replace")
        if "spawn_main" in cmd:
            return k
    raise AssertionError(f"no model process under {pid}: {children(pid)}")


def maps_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def record(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"id": f"r{seed}", "text": "a good film", "audio": rng.standard_normal((7, 50)).round(4).tolist(),
            "visual": rng.standard_normal((5, 41)).round(4).tolist()}


def test_the_server_process_holds_no_torch_and_the_model_runs_in_its_own(server, served_run):
    r = httpx.post(server.url + "/v1/predict", json=record(), timeout=60)
    assert r.status_code == 200
    child = model_child(server.proc.pid)
    assert not maps_torch(server.proc.pid), "the HTTP process loaded torch"
    assert maps_torch(child), "the model process did not load torch"
    local = mmib.load(served_run).predict([record()])
    assert r.json()["predictions"][0]["prediction"] == pytest.approx(float(local.pred[0, 0]), abs=1e-5)


def test_in_process_serving_gives_the_same_answers(served_run, server, tmp_path):
    recs = [record(i) for i in range(4)]
    with Server(served_run, "--in-process", log=tmp_path / "serve.log") as inproc:
        same = httpx.post(inproc.url + "/v1/predict", json=recs, timeout=60).json()["predictions"]
        assert maps_torch(inproc.proc.pid)
    other = httpx.post(server.url + "/v1/predict", json=recs, timeout=60).json()["predictions"]
    for a, b in zip(same, other):
        assert a["prediction"] == pytest.approx(b["prediction"], abs=1e-6)
        assert a["kl"] == pytest.approx(b["kl"], abs=1e-6)


def test_a_killed_model_process_fails_one_request_then_the_server_loads_it_again(served_run, tmp_path):
    with Server(served_run, log=tmp_path / "serve.log") as s:
        before = httpx.post(s.url + "/v1/predict", json=record(), timeout=60).json()["predictions"][0]
        child = model_child(s.proc.pid)
        os.kill(child, signal.SIGKILL)
        time.sleep(0.5)
        r = httpx.post(s.url + "/v1/predict", json=record(), timeout=120)
        assert r.status_code == 503, r.text
        assert "the model process stopped (exit code -9)" in r.json()["error"] and r.headers["retry-after"]
        deadline = time.monotonic() + 120
        while (h := httpx.get(s.url + "/health", timeout=10)).status_code != 200 and time.monotonic() < deadline:
            assert "loading the model again" in h.json()["reason"]
            time.sleep(0.5)
        assert h.status_code == 200 and h.json()["model_restarts"] == 1
        after = httpx.post(s.url + "/v1/predict", json=record(), timeout=60).json()["predictions"][0]
        assert after["prediction"] == pytest.approx(before["prediction"], abs=1e-6)
        assert model_child(s.proc.pid) != child and s.alive()


def test_a_model_process_whose_server_was_killed_ends_itself(served_run, tmp_path):
    with Server(served_run, log=tmp_path / "serve.log") as s:
        child = model_child(s.proc.pid)
        s.proc.kill()
        s.proc.wait(10)
        deadline = time.monotonic() + 15
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
            try:  # a zombie until reaped by init: gone from the table or state Z
                if Path(f"/proc/{child}/stat").read_text().split(") ")[1].startswith("Z"):
                    break
            except OSError:
                break
        assert not Path(f"/proc/{child}").exists() or \
            Path(f"/proc/{child}/stat").read_text().split(") ")[1].startswith("Z"), "the model process outlived the server"


def test_the_server_tokenizer_is_the_fast_file_only_when_it_agrees_with_the_model(served_run):
    folder = served_run / "text_encoder"
    own = mmib.load(served_run).tokenizer()
    max_len = 40
    probes = [tokenize(p.split(), own, max_len).tolist() for p in PROBES]
    fast = server_tokenizer({"folder": str(folder), "probes": probes}, max_len)()
    assert isinstance(fast, FileTokenizer)
    wrong = [ids[:-2] + ids[-1:] for ids in probes]  # a model whose tokenizer differs from the file
    slow = server_tokenizer({"folder": str(folder), "probes": wrong}, max_len)()
    assert not isinstance(slow, FileTokenizer)
    assert tokenize("a great film".split(), slow, max_len).tolist() == tokenize("a great film".split(), own, max_len).tolist()
    assert server_tokenizer(None, max_len)() is None  # a model reading text as vectors


def _closed_loop(clients: int, rounds: int, model_s: float, max_wait_ms: float) -> tuple[list[int], list[float]]:
    """``clients`` closed-loop clients, each sending ``rounds`` one-utterance requests to a
    Batcher whose model takes ``model_s``; returns the batch sizes and each request's time."""
    sizes: list[int] = []

    def predict(examples):
        sizes.append(len(examples))
        time.sleep(model_s)
        return list(examples)

    async def main() -> list[float]:
        b = Batcher(predict, max_batch=64, max_wait_ms=max_wait_ms)
        await b.start()
        times: list[float] = []

        async def client(k: int) -> None:
            for i in range(rounds):
                t = time.perf_counter()
                await b.submit([f"{k}-{i}"])
                times.append(time.perf_counter() - t)
                await asyncio.sleep(0.002 * (k % 3))  # the clients take different times to come back

        await asyncio.gather(*(client(k) for k in range(clients)))
        await b.stop()
        return times

    return sizes, asyncio.run(main())


def test_a_lone_client_never_waits_for_the_batch_window(monkeypatch):
    import mmib.serve.batching as batching

    monkeypatch.setattr(batching, "take", lambda p, a, b: p[a:b])
    sizes, times = _closed_loop(1, 15, 0.002, max_wait_ms=200)
    assert set(sizes) == {1}
    assert np.median(times) < 0.05  # the 200 ms window would show


def test_batches_grow_to_the_number_of_clients_instead_of_taking_turns(monkeypatch):
    import mmib.serve.batching as batching

    monkeypatch.setattr(batching, "take", lambda p, a, b: p[a:b])
    sizes, _ = _closed_loop(16, 12, 0.02, max_wait_ms=50)
    steady = sizes[len(sizes) // 3:]
    assert max(sizes) == 16 and np.mean(steady) >= 12, sizes
    sizes0, _ = _closed_loop(16, 12, 0.02, max_wait_ms=0)  # no window: two halves take turns
    assert np.mean(sizes0[len(sizes0) // 3:]) < np.mean(steady), (sizes0, sizes)


def test_several_workers_each_with_a_model_process_answer_alike_and_stop_cleanly(served_run, server, tmp_path):
    recs = [record(i) for i in range(6)]
    want = httpx.post(server.url + "/v1/predict", json=recs, timeout=60).json()["predictions"]
    with Server(served_run, "--workers", "2", "--threads", "1", log=tmp_path / "serve.log") as multi:

        async def each() -> list[dict]:
            async with httpx.AsyncClient(base_url=multi.url, timeout=60) as http:
                rs = await asyncio.gather(*(http.post("/v1/predict", json=r) for r in recs * 3))
            return [r.json()["predictions"][0] for r in rs]

        got = asyncio.run(each())
        kids = children(multi.proc.pid)
        models = [g for k in kids for g in children(k)
                  if "spawn_main" in Path(f"/proc/{g}/cmdline").read_bytes().decode(errors="replace")]
        assert len(models) == 2, (kids, models)  # one model process per worker
    for a, b in zip(got, want * 3):
        assert a["prediction"] == pytest.approx(b["prediction"], abs=1e-5)
    time.sleep(2)
    assert not [m for m in models if Path(f"/proc/{m}").exists()
                and not Path(f"/proc/{m}/stat").read_text().split(") ")[1].startswith("Z")]
    assert "leaked" not in (tmp_path / "serve.log").read_text()
