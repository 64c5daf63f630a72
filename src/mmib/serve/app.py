"""The FastAPI application: ``create_app(backend, settings, source)``.

Endpoints (docs/serving.md): ``GET /`` the web page, ``GET /health``, ``GET /v1/model``,
``POST /v1/predict`` (utterance records as JSON), ``POST /v1/predict/clip`` (a media upload),
``/docs`` (OpenAPI). A small JSON body (up to :data:`INLINE_BYTES`: well under a millisecond of
parsing and converting) is handled on the event loop, a larger one in a worker thread; the
model runs behind the batcher (in a child process by default, :mod:`.process`), so the event
loop never waits for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from . import docs
from .answers import model_description, utterance_answers
from .batching import Batcher, concat, split_sizes
from .clips import ClipJob
from .limits import ApiError, BodyLimit, TokenGate, error_body, field_of
from .process import ModelProcessDied
from .settings import Settings

log = logging.getLogger("mmib.serve")
INLINE_BYTES = 64 * 1024  # JSON bodies up to this size are parsed and converted on the event loop
CONVERSION_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)


def _stdlib_loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise ApiError(400, "body: not valid JSON (nested too deeply)", "body") from None
    except json.JSONDecodeError as e:
        raise ApiError(400, f"body: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})", "body") from None
    except ValueError as e:  # bytes that are not UTF-8/16/32
        raise ApiError(400, f"body: not valid JSON text ({e})", "body") from None


def _parse_json(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Body bytes -> [(where, record)]: one JSON object (one utterance) or an array of them."""
    if not raw.strip():
        raise ApiError(422, "body: empty; expected a JSON object (one utterance) or an array of them", "body")
    try:
        doc = orjson.loads(raw)  # fast; refuses NaN / Infinity and nesting past 1024 levels, which
    except orjson.JSONDecodeError:  # json below reads or words as before (NaN is then refused by field)
        doc = _stdlib_loads(raw)
    items = [("body", doc)] if isinstance(doc, dict) else \
        [(f"body[{i}]", r) for i, r in enumerate(doc)] if isinstance(doc, list) else None
    if items is None:
        raise ApiError(422, f"body: expected a JSON object (one utterance) or an array of them, got "
                            f"{type(doc).__name__}", "body")
    if not items:
        raise ApiError(422, "body: an empty array; expected at least one utterance", "body")
    for where, rec in items:
        if not isinstance(rec, dict):
            raise ApiError(422, f"{where}: expected a JSON object (an utterance record), got {type(rec).__name__}",
                           where)
    return items


def _json(content: Any) -> Response:
    """A JSON response written by orjson (FastAPI's own path re-encodes every nested value first)."""
    return Response(orjson.dumps(content), media_type="application/json")


def _telemetry() -> dict[str, Any]:
    """FastAPI >= 0.165 looks up OpenTelemetry providers on every request; switched off unless
    OpenTelemetry is configured (an ``OTEL_*`` variable is set), and nothing is passed to a
    FastAPI without the option."""
    import inspect

    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters or \
            any(k.startswith("OTEL_") for k in os.environ):
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def vocab_size(source: Path) -> int | None:
    """The text encoder's vocabulary size (``text_encoder/config.json`` of the run or export)."""
    folder = source.parent if source.is_file() else source
    try:
        return int(json.loads((folder / "text_encoder" / "config.json").read_text())["vocab_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _check_token_ids(examples: list[Any], where: list[str], size: int) -> None:
    """Token ids given by the client must exist in the model's vocabulary (else the embedding
    lookup would fail inside a batch shared with other requests)."""
    for w, ex in zip(where, examples):
        ids = ex.inputs.get("text")
        if ids is not None and ids.ndim == 1 and len(ids) and (ids.min() < 0 or ids.max() >= size):
            raise ApiError(422, f"{w}: 'token_ids' must lie in [0, {size}) (the model's vocabulary), got values "
                                f"from {int(ids.min())} to {int(ids.max())}", f"{w}.token_ids")


def create_app(backend: Any, settings: Settings, source: str | Path, backend_name: str = "torch") -> FastAPI:
    """The app serving ``backend`` (loaded from ``source``) with ``settings``."""
    source = Path(source)
    inputs = backend.inputs
    description = model_description(source, backend_name, inputs)
    batcher = Batcher(backend.predict, max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms,
                      max_pending=settings.max_pending)
    extract_pool = ThreadPoolExecutor(settings.extract_workers, thread_name_prefix="mmib-extract")
    clips = ClipJob(inputs, extract_pool)
    vocab = vocab_size(source)
    started = time.time()

    problem: list[str] = []  # why the server is not ready, if it is not

    def warm_up() -> None:
        """One prediction before the first request (the first call of a model pays for lazy setup)."""
        dims = inputs.dims
        rec: dict[str, Any] = {"id": "warm-up"}
        for m in inputs.modalities:
            if m == "text":
                rec.update({"text": "hello"} if not dims.get("text") else {"text_vectors": [[0.0] * int(dims["text"])]})
            else:
                rec[m] = [[0.0] * int(dims[m])] * 2
        backend.predict(inputs.from_records([rec], ["warm-up"]))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            await run_in_threadpool(warm_up)
        except Exception as e:  # noqa: BLE001 - reported by /health, the server still starts
            problem.append(f"the warm-up prediction failed: {type(e).__name__}: {e}")
            log.error("mmib serve: %s", problem[-1])
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()
            extract_pool.shutdown(wait=False, cancel_futures=True)
            if hasattr(backend, "close"):
                backend.close()

    app = FastAPI(title="mmib serve", version=description["mmib_version"], lifespan=lifespan,
                  description=docs.DESCRIPTION, openapi_tags=docs.TAGS, **_telemetry())
    app.add_middleware(BodyLimit, max_bytes=settings.max_bytes)
    if settings.token:  # checked before any byte of the body is read
        app.add_middleware(TokenGate, token=settings.token, prefix="/v1/")
    app.state.batcher = batcher

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc, ApiError):
            body = error_body(exc.status_code, exc.message, exc.field)
        else:
            body = error_body(exc.status_code, str(exc.detail), None)
        return JSONResponse(body, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        e = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid request"}
        loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "form")] or ["body"]
        field = ".".join(loc)
        msg = "missing" if e.get("type") == "missing" else e.get("msg", "invalid")
        expected = docs.FORM_FIELDS.get(field, "")
        return JSONResponse(error_body(422, f"{field}: {msg}" + (f"; expected {expected}" if expected else ""),
                                       field), 422)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("mmib serve: request %s %s failed", request.method, request.url.path)
        return JSONResponse(error_body(500, f"internal error ({type(exc).__name__}: {str(exc)[:200]}); the "
                                            "server keeps running"), 500)

    async def predict(examples: list[Any]) -> Any:
        if batcher.busy():
            raise ApiError(503, f"server busy ({batcher.pending} utterances waiting); try again shortly", None,
                           headers={"Retry-After": "1"})
        try:
            if len(examples) <= settings.max_batch:  # the usual case: no tasks to gather
                return await batcher.submit(examples)
            parts = await asyncio.gather(*(batcher.submit(examples[a:b])
                                           for a, b in split_sizes(len(examples), settings.max_batch)))
        except ModelProcessDied as e:
            raise ApiError(503, f"{e}; try again shortly", None, headers={"Retry-After": "5"}) from None
        return concat(list(parts))

    async def within_timeout(work: Any) -> Any:
        try:
            return await asyncio.wait_for(work, settings.timeout)
        except asyncio.TimeoutError:
            raise ApiError(504, f"the request took longer than the server's limit of {settings.timeout:g} s "
                                "(--timeout)") from None

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(resources.files("mmib.serve") / "static" / "index.html")

    app.mount("/static", StaticFiles(directory=str(resources.files("mmib.serve") / "static")), name="static")

    @app.get("/health", tags=["service"], responses=docs.HEALTH)
    async def health() -> JSONResponse:
        """Ready or not, with the reason (no token needed)."""
        ready, reason = True, "ready"
        if problem:
            ready, reason = False, problem[0]
        elif getattr(backend, "problem", None):  # the model process is being restarted
            ready, reason = False, str(backend.problem)
        elif batcher.busy():
            ready, reason = False, f"busy: {batcher.pending} utterances waiting (limit {settings.max_pending})"
        return JSONResponse({"ready": ready, "reason": reason, "model": description["name"],
                             "backend": backend_name, "uptime_s": round(time.time() - started, 1),
                             "batches": dict(batcher.stats),
                             "model_restarts": int(getattr(backend, "restarts", 0))}, 200 if ready else 503)

    @app.get("/v1/model", tags=["model"], responses=docs.MODEL)
    async def model(request: Request) -> dict[str, Any]:
        """What is served: variant, fusion, task, labels and range, modalities and dims, test
        metrics, extraction settings, mmib version, and this server's limits."""
        return {**description, "auth": bool(settings.token),
                "limits": {"max_body_mb": settings.max_body_mb, "max_batch": settings.max_batch,
                           "max_wait_ms": settings.max_wait_ms, "timeout_s": settings.timeout}}

    @app.post("/v1/predict", tags=["predict"], openapi_extra=docs.predict_body(description),
              responses=docs.PREDICT)
    async def predict_records(request: Request) -> Response:
        """One utterance (a JSON object) or a list of them, in the JSON-lines record schema."""

        def convert(raw: bytes) -> list[Any]:
            items = _parse_json(raw)
            for i, (_, rec) in enumerate(items):
                rec.setdefault("id", f"utterance{i}")
            where = [w for w, _ in items]
            try:
                examples = inputs.from_records([r for _, r in items], where)
            except CONVERSION_ERRORS as e:
                msg = str(e) if isinstance(e, ValueError) else f"cannot be read ({type(e).__name__}: {e})"
                w = next((x for x in reversed(where) if msg.startswith(x)), "body")
                raise ApiError(422, msg if msg.startswith(w) else f"{w}: {msg}", field_of(msg, w)) from None
            if vocab is not None and "text" in inputs.modalities:
                _check_token_ids(examples, where, vocab)
            return examples

        async def work() -> Response:
            raw = await request.body()
            examples = convert(raw) if len(raw) <= INLINE_BYTES else await run_in_threadpool(convert, raw)
            t = time.perf_counter()
            p = await predict(examples)
            return _json({"predictions": utterance_answers(p, inputs.task, list(inputs.label_names)),
                          "model_seconds": round(time.perf_counter() - t, 6)})

        return await within_timeout(work())

    @app.post("/v1/predict/clip", tags=["predict"], responses=docs.PREDICT_CLIP)
    async def predict_clip(request: Request,
                           file: UploadFile = File(..., description=docs.FORM_FIELDS["file"]),
                           text: str | None = Form(None, description=docs.FORM_FIELDS["text"]),
                           words: str | None = Form(None, description=docs.FORM_FIELDS["words"])) -> dict[str, Any]:
        """A media file (+ optional transcript) extracted exactly as the training data was."""
        if not description["clips"]:
            raise ApiError(409, "this model was trained on features mmib did not extract, so it cannot extract a "
                                "clip the same way; send features to POST /v1/predict instead", "file")

        async def work() -> dict[str, Any]:
            examples, info = await clips.examples(file, text, words)
            t = time.perf_counter()
            p = await predict(examples)
            answers = utterance_answers(p, inputs.task, list(inputs.label_names))
            for a, i in zip(answers, info):
                a.update({k: i.get(k) for k in ("transcript", "transcript_source", "extract_seconds")})
                if a["transcript_source"] == "manifest":  # here: the form field 'text'
                    a["transcript_source"] = "given"
            return {"predictions": answers, "model_seconds": round(time.perf_counter() - t, 6)}

        return await within_timeout(work())

    return app


__all__ = ["create_app"]
