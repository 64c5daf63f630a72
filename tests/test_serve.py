"""mmib serve over real loopback HTTP (uvicorn in a subprocess, httpx as the client): every
endpoint, batching under concurrent requests, the error table, a fuzz run of malformed bodies."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import numpy as np
import pytest

import mmib
from serve_model import Server, clips, served_run, server  # noqa: F401  (session fixtures)

pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")
TOKEN = "s3cret-token-for-tests"


def records(n: int, seed: int = 0) -> list[dict]:
    """Utterances of different lengths in the JSON-lines record schema."""
    rng = np.random.default_rng(seed)
    words = ["good", "bad", "film", "plot", "great", "boring"]
    return [{"id": f"u{i}", "text": " ".join(rng.choice(words, int(rng.integers(1, 9)))),
             "audio": np.round(rng.standard_normal((int(rng.integers(1, 50)), 50)), 4).tolist(),
             "visual": np.round(rng.standard_normal((int(rng.integers(1, 50)), 41)), 4).tolist()}
            for i in range(n)]


@pytest.fixture(scope="module")
def guarded(served_run, tmp_path_factory):
    """A second server with a token, a 1 MB body limit and a 1 s timeout."""
    with Server(served_run, "--token", TOKEN, "--max-body-mb", "1", "--timeout", "1",
                log=tmp_path_factory.mktemp("guarded") / "serve.log") as s:
        yield s


def test_health_model_page_and_docs(server, served_run):
    h = httpx.get(server.url + "/health").json()
    assert h["ready"] is True and h["reason"] == "ready" and h["backend"] == "torch"
    m = httpx.get(server.url + "/v1/model").json()
    summary = json.loads((served_run / "summary.json").read_text())
    assert m["variant"] == "cmib" and m["fusion"] == "concat" and m["task"] == "regression"
    assert m["labels"] == ["sentiment"] and m["range"] == [-3.0, 3.0] and m["clips"] is True
    assert m["modalities"] == ["text", "audio", "visual"] and m["dims"] == {"text": 0, "audio": 50, "visual": 41}
    assert m["test_metrics"] == summary["test"] and m["mmib_version"] == mmib.__version__
    assert m["extraction"]["audio"]["extractor"] == "librosa" and m["extraction"]["visual"]["extractor"] == "face"
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="predict"' in page.text and "/static/app.js" in page.text and "http" not in page.text.split("<body>")[1]
    assert httpx.get(server.url + "/static/app.js").status_code == 200
    assert httpx.get(server.url + "/docs").status_code == 200
    api = httpx.get(server.url + "/openapi.json").json()
    body = api["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    example = body["examples"]["one utterance"]["value"]
    assert len(example["audio"][0]) == 50 and len(example["visual"][0]) == 41
    assert "multipart/form-data" in api["paths"]["/v1/predict/clip"]["post"]["requestBody"]["content"]
    # the documented example is itself a valid request
    assert httpx.post(server.url + "/v1/predict", json=example).status_code == 200


async def _concurrent(url: str, bodies: list) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await asyncio.gather(*(client.post("/v1/predict", json=b) for b in bodies))


def test_batched_answers_equal_single_requests_and_the_predictor(server, served_run):
    recs = records(20)
    singles = [httpx.post(server.url + "/v1/predict", json=r, timeout=60).json()["predictions"][0] for r in recs]
    before = httpx.get(server.url + "/health").json()["batches"]
    together = [r.json()["predictions"][0] for r in asyncio.run(_concurrent(server.url, recs))]
    after = httpx.get(server.url + "/health").json()["batches"]
    # 20 concurrent one-utterance requests went through fewer model calls than requests
    assert after["utterances"] - before["utterances"] == 20
    assert after["batches"] - before["batches"] < 20 and after["largest_batch"] > 1
    one_list = httpx.post(server.url + "/v1/predict", json=recs, timeout=60).json()["predictions"]  # > --max-batch
    local = mmib.load(served_run).predict(recs)
    assert [a["id"] for a in together] == [a["id"] for a in one_list] == local.ids == [r["id"] for r in recs]
    for answers in (together, one_list):
        for i, (a, s) in enumerate(zip(answers, singles)):
            # the same numbers up to float32 rounding (padding a batch reorders a few sums)
            assert a["prediction"] == pytest.approx(s["prediction"], abs=1e-5)
            assert a["prediction"] == pytest.approx(float(local.pred[i, 0]), abs=1e-5)
            for m in ("text", "audio", "visual"):
                assert a["heads"][m] == pytest.approx(float(local.heads[m][i, 0]), abs=1e-5)
            for b in ("text", "audio", "visual", "fused"):
                assert a["kl"][b] == pytest.approx(float(local.kl[b][i]), abs=1e-5)


def test_clip_endpoint_extracts_as_the_training_data_was(server, served_run, clips):
    with open(clips["video"], "rb") as f:
        r = httpx.post(server.url + "/v1/predict/clip", files={"file": ("smile.mp4", f, "video/mp4")},
                       data={"text": "what a wonderful day"}, timeout=120)
    assert r.status_code == 200, r.text
    (a,) = r.json()["predictions"]
    assert a["id"] == "smile" and a["transcript"] == "what a wonderful day" and a["transcript_source"]
    assert a["extract_seconds"] > 0 and set(a["kl"]) == {"text", "audio", "visual", "fused"}
    model = mmib.load(served_run)
    from mmib.inputs import clip_rows

    rows, bad, _ = clip_rows(clips["video"], text="what a wonderful day")
    got = model.inputs.from_clips(rows)
    local = model.predict(got.examples)
    assert not bad and a["prediction"] == pytest.approx(float(local.pred[0, 0]), abs=1e-5)
    assert a["heads"]["audio"] == pytest.approx(float(local.heads["audio"][0, 0]), abs=1e-5)


def _chunked_upload(port: int, path: str, total: int, chunk: int = 64 * 1024) -> tuple[bytes, int]:
    """POST a chunked body of ``total`` bytes, stopping as soon as the server answers; returns
    (the answer's first bytes, how many body bytes were sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                  "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        s.setblocking(False)
        answer = b""
        while sent < total:
            try:
                answer += s.recv(4096)
                if answer:
                    break
            except BlockingIOError:
                pass
            try:
                s.sendall(f"{chunk:x}\r\n".encode() + b"[" * chunk + b"\r\n")
                sent += chunk
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
        s.setblocking(True)
        s.settimeout(10)
        try:
            answer += s.recv(4096)
        except (ConnectionResetError, TimeoutError):
            pass
    return answer, sent


GOOD = records(1)[0]
ERRORS = [  # (body, status, field, words the message must hold)
    (b'{"id": "x", "text": "good"', 400, "body", "not valid JSON"),
    (b"", 422, "body", "empty"),
    (b"[]", 422, "body", "at least one utterance"),
    (b"42", 422, "body", "expected a JSON object"),
    (b'[{"text": "good"}, 3]', 422, "body[1]", "expected a JSON object"),
    ({**GOOD, "audio": [[0.0] * 7] * 3}, 422, "body.audio", "expected (T >= 1, 50)"),
    ([GOOD, {**GOOD, "visual": [[0.0] * 50]}], 422, "body[1].visual", "expected (T >= 1, 41)"),
    ({k: v for k, v in GOOD.items() if k != "visual"}, 422, "body.visual", "missing"),
    ({**GOOD, "audio": "loud"}, 422, "body.audio", "audio"),
    ({**GOOD, "audio": [[float("nan")] * 50]}, 422, "body.audio", "NaN"),
    ({**GOOD, "label": [1, 2]}, 422, "body.label", "expected 1"),
    ({**GOOD, "text": "", "words": []}, 422, "body.words", "give 'words'"),
    ({**{k: v for k, v in GOOD.items() if k != "text"}, "token_ids": [101, 10 ** 7, 102]}, 422,
     "body.token_ids", "vocabulary"),
]


@pytest.mark.parametrize("body,status,field,words", ERRORS, ids=[f"{i}-{e[1]}" for i, e in enumerate(ERRORS)])
def test_error_table_for_features(server, body, status, field, words):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = httpx.post(server.url + "/v1/predict", content=content, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()
    assert err["status"] == status and err["field"] == field and words in err["error"], err


def _clip(server, path, name, mime, text="hello there"):
    with open(path, "rb") as f:
        return httpx.post(server.url + "/v1/predict/clip", files={"file": (name, f, mime)},
                          data={"text": text} if text else {}, timeout=120)


def test_error_table_for_clips(server, clips):
    cases = [
        (_clip(server, clips["broken"], "broken.mp4", "video/mp4"), 422, "file", "not a readable"),
        (_clip(server, clips["audio"], "voice.wav", "audio/wav"), 422, "file", "no video track"),
        (_clip(server, clips["video"], "notes.txt", "text/plain"), 415, "file", "expected a media file"),
        (httpx.post(server.url + "/v1/predict/clip", data={"text": "hi"}), 422, "file", "missing"),
    ]
    for r, status, field, words in cases:
        err = r.json()
        assert (r.status_code, err["status"], err["field"]) == (status, status, field) and words in err["error"], err
        assert "mmib-serve-" not in err["error"]  # never the server's temporary path
    # no transcript and no speech recognition recorded by the run's extraction
    r = _clip(server, clips["video"], "smile.mp4", "video/mp4", text=None)
    assert r.status_code == 422 and r.json()["field"] == "text", r.text


def test_token_size_and_time_limits(guarded, tmp_path):
    url = guarded.url
    assert httpx.get(url + "/health").status_code == 200  # no token needed to ask if it is up
    r = httpx.post(url + "/v1/predict", json=GOOD)
    assert r.status_code == 401 and r.json()["field"] == "Authorization" and r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(url + "/v1/model", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(url + "/v1/predict", json=GOOD, headers=auth).status_code == 200
    # over 1 MB with a Content-Length: refused before the body is read
    big = json.dumps({**GOOD, "audio": [[0.123456] * 50] * 4000}).encode()
    r = httpx.post(url + "/v1/predict", content=big, headers=auth)
    assert r.status_code == 413 and r.json()["field"] == "body" and "1 MB" in r.json()["error"]
    # chunked, no Content-Length: refused while reading, long before the client's 32 MB are sent
    # (what the client pushes past the 1 MB limit sits in loopback socket buffers: a few MB,
    # more when the machine is busy and the answer comes later; 5.3 MB seen at load 10)
    answer, sent = _chunked_upload(guarded.port, "/v1/predict", 32 * 2**20)
    assert answer.startswith(b"HTTP/1.1 413") and sent < 16 * 2**20, (answer[:200], sent)
    # an upload over the limit
    r = httpx.post(url + "/v1/predict/clip", files={"file": ("big.mp4", b"\0" * (2 * 2**20), "video/mp4")},
                   headers=auth)
    assert r.status_code == 413
    # extracting a 10-s video takes longer than --timeout 1 s: 504, and the server goes on
    from media import face_frames, voiced, write_clip

    long = write_clip(tmp_path / "long.mp4", audio=voiced(200, 10.0), frames=face_frames(250, size=(120, 160)))
    t = time.perf_counter()
    r = _clip_with(url, long, auth)
    assert r.status_code == 504 and "1 s" in r.json()["error"] and time.perf_counter() - t < 30
    assert httpx.post(url + "/v1/predict", json=GOOD, headers=auth).status_code == 200
    assert guarded.alive()


def _clip_with(url, path, headers):
    with open(path, "rb") as f:
        return httpx.post(url + "/v1/predict/clip", files={"file": ("smile.mp4", f, "video/mp4")},
                          data={"text": "hi"}, headers=headers, timeout=60)


def test_cli_refuses_an_open_host_without_a_token_and_unknown_backends(served_run, capsys, monkeypatch):
    from mmib.cli import main
    from mmib.serve import Settings
    from mmib.serve import backends

    assert main(["serve", str(served_run), "--host", "0.0.0.0"]) == 2
    assert "--token" in capsys.readouterr().err
    warnings = Settings(host="0.0.0.0", no_auth=True).check()
    assert warnings and "WITHOUT authentication" in warnings[0]
    assert Settings(host="::1").check() == [] and Settings(host="10.1.2.3", token="long-enough-token").check() == []
    monkeypatch.setitem(backends.BACKENDS, "elsewhere", "mmib.no_such_runtime:load")
    with pytest.raises(backends.BackendUnavailable, match="--backend elsewhere: not available"):
        backends.load_backend("elsewhere", served_run)


def fuzz_bodies(n: int, seed: int = 0) -> list[bytes]:
    """``n`` bodies that are each wrong in some way: broken JSON, wrong types and shapes."""
    rng = np.random.default_rng(seed)
    good = json.dumps(GOOD)
    bad_values = ["x", 3, -1.5, None, True, {}, [], [[]], [["a"]], [1, 2], [[[0.0]]], {"a": [1]}, "[[0]]",
                  [[0.0] * 49], [[1e400] * 50], [[0.0] * 50, [0.0] * 3]]
    out = []
    for i in range(n):
        kind = i % 6
        if kind == 0:  # truncated JSON
            out.append(good[: int(rng.integers(1, len(good) - 1))].encode())
        elif kind == 1:  # random bytes
            out.append(rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes())
        elif kind == 2:  # a modality of the wrong type or shape
            field = ["audio", "visual"][i % 2]
            out.append(json.dumps({**GOOD, field: bad_values[int(rng.integers(len(bad_values)))]}).encode())
        elif kind == 3:  # text, masks, labels, ids of the wrong kind
            k = int(rng.integers(6))
            rec = dict(GOOD)
            if k == 0:
                rec.update(text="", words=bad_values[int(rng.integers(4, 6))])
            elif k == 1:
                rec["label"] = ["a", [1, 2], {}, "x"][int(rng.integers(4))]
            elif k == 2:
                rec["audio_mask"] = [[2], "x", [0, 1, 0, 1, 0, 1] * 20, {}][int(rng.integers(4))]
            elif k == 3:
                rec.pop("text")
                rec["token_ids"] = [["a"], [-3], [10 ** 30], [None]][int(rng.integers(4))]
            elif k == 4:
                rec.pop("audio")
            else:
                rec["visual_mask"] = [7] * 3
            out.append(json.dumps(rec).encode())
        elif kind == 4:  # not an utterance at all
            out.append([b"null", b"[1, 2]", b'"text"', b"[" * 5000 + b"]" * 5000, b"{}" * 3, b"[[]]",
                        b"{\"audio\": NaN}", "\u00e9\u4e2d".encode("utf-16")][int(rng.integers(8))])
        else:  # a list mixing a good record and a broken one
            broken = {**GOOD, "visual": bad_values[int(rng.integers(len(bad_values)))]}
            out.append(json.dumps([GOOD, broken]).encode())
    return out


async def _fuzz(url: str, bodies: list[bytes]) -> list[httpx.Response]:
    limit = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async def one(b: bytes) -> httpx.Response:
            async with limit:
                return await client.post("/v1/predict", content=b, headers={"content-type": "application/json"})
        return await asyncio.gather(*(one(b) for b in bodies))


def test_fuzz_500_malformed_bodies_then_the_server_still_answers(server):
    bodies = fuzz_bodies(540)
    answers = asyncio.run(_fuzz(server.url, bodies))
    statuses = [r.status_code for r in answers]
    bad = [(b[:80], r.status_code, r.text[:200]) for b, r in zip(bodies, answers) if not 400 <= r.status_code < 500]
    assert not bad, bad[:5]
    for r in answers:
        err = r.json()
        assert set(err) == {"error", "field", "status"} and err["status"] == r.status_code and err["error"]
    assert set(statuses) <= {400, 422}
    assert httpx.get(server.url + "/health").json()["ready"] is True
    assert httpx.post(server.url + "/v1/predict", json=GOOD).status_code == 200 and server.alive()


def test_answers_for_each_task_are_strict_json():
    from mmib.data.types import Predictions
    from mmib.serve.answers import utterance_answers

    logits = np.array([[2.0, -1.0, 0.0], [np.nan, 0.0, 0.0]], np.float32)
    p = Predictions(ids=["a", "b"], pred=logits, labels=np.full((2, 3), np.nan, np.float32),
                    heads={"audio": logits[::-1].copy(), "fused": logits}, kl={"fused": np.array([0.5, np.inf])})
    names = ["happy", "sad", "angry"]
    multi = utterance_answers(p, "multilabel", names)
    assert multi[0]["present"] == ["happy"] and multi[0]["prediction"]["sad"] == pytest.approx(1 / (1 + np.e))
    assert multi[1]["prediction"]["happy"] is None and multi[1]["kl"]["fused"] is None  # NaN, inf -> null
    assert set(multi[0]["heads"]) == {"audio"}
    one = utterance_answers(p, "multiclass", names)
    assert one[0]["class"] == "happy" and sum(one[0]["prediction"].values()) == pytest.approx(1.0)
    reg = utterance_answers(Predictions(["r"], np.array([[1.5]]), np.array([[np.nan]]), {"text": np.array([[0.2]])},
                                        {"text": np.array([0.1])}), "regression", ["sentiment"])
    assert reg == [{"id": "r", "prediction": 1.5, "heads": {"text": pytest.approx(0.2)}, "kl": {"text": pytest.approx(0.1)}}]
    json.dumps([multi, one, reg], allow_nan=False)


def test_the_onnxruntime_backend_serves_the_same_answers(served_run, server, tmp_path):
    from mmib.cli import main

    out = tmp_path / "export"
    assert main(["export", str(served_run), str(out), "--onnx"]) == 0
    with Server(out, "--backend", "onnxruntime", log=tmp_path / "onnx.log") as onnx:
        m = httpx.get(onnx.url + "/v1/model").json()
        assert m["backend"] == "onnxruntime" and m["variant"] == "cmib" and m["dims"]["audio"] == 50
        recs = records(6, seed=3)
        got = httpx.post(onnx.url + "/v1/predict", json=recs, timeout=60).json()["predictions"]
        ref = httpx.post(server.url + "/v1/predict", json=recs, timeout=60).json()["predictions"]
        for a, b in zip(got, ref):
            assert a["id"] == b["id"] and a["prediction"] == pytest.approx(b["prediction"], abs=1e-4)
            assert a["heads"] == pytest.approx(b["heads"], abs=1e-4) and a["kl"] == pytest.approx(b["kl"], abs=1e-4)
        bad = httpx.post(onnx.url + "/v1/predict", json={**GOOD, "audio": [[0.0] * 3]})
        assert bad.status_code == 422 and bad.json()["field"] == "body.audio"
