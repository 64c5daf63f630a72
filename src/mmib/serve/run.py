"""Start the server: load the model once, build the app, run uvicorn.

``serve(source, settings)`` runs in this process; with ``workers > 1`` uvicorn starts that
many processes, each building its app through :func:`app_from_env` (the settings travel in
``MMIB_SERVE_*`` environment variables), each with its own copy of the model."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .settings import Settings


def require_serve_extra() -> None:
    """A clear error when FastAPI, uvicorn or python-multipart is missing."""
    missing = []
    for module, dist in (("fastapi", "fastapi"), ("uvicorn", "uvicorn"), ("multipart", "python-multipart"),
                         ("orjson", "orjson")):
        try:
            __import__(module)
        except ImportError:
            missing.append(dist)
    if missing:
        raise ImportError(f"mmib serve needs {', '.join(missing)}: pip install 'mmib[serve]'")


def build_app(source: str | Path, settings: Settings, *, backend: str = "torch", device: str | None = None,
              revision: str | None = None, threads: int | None = None) -> Any:
    require_serve_extra()
    from .app import create_app
    from .backends import load_backend, resolve_source

    path = resolve_source(source, revision)
    if settings.model_process:
        from .process import ModelProcess

        model = ModelProcess(backend, path, device=device, threads=threads)
    else:
        model = load_backend(backend, path, device=device, threads=threads)
    return create_app(model, settings, path, backend)


def app_from_env() -> Any:
    """The app factory of each uvicorn worker process (``uvicorn --factory``)."""
    env = json.loads(os.environ["MMIB_SERVE_CONFIG"])
    return build_app(env["source"], Settings(**env["settings"]), backend=env["backend"], device=env["device"],
                     revision=env.get("revision"), threads=env.get("threads"))


def serve(source: str | Path, settings: Settings, *, backend: str = "torch", device: str | None = None,
          revision: str | None = None, workers: int = 1, threads: int | None = None, log_level: str = "info") -> None:
    """Serve until interrupted (Ctrl-C)."""
    require_serve_extra()
    import uvicorn

    for w in settings.check():
        print(w, file=sys.stderr, flush=True)
    common = dict(host=settings.host, port=settings.port, log_level=log_level, timeout_keep_alive=5,
                  timeout_graceful_shutdown=5, server_header=False)
    if workers > 1:
        os.environ["MMIB_SERVE_CONFIG"] = json.dumps({"source": str(source), "settings": asdict(settings),
                                                      "backend": backend, "device": device, "revision": revision,
                                                      "threads": threads})
        uvicorn.run("mmib.serve.run:app_from_env", factory=True, workers=workers, **common)
        return
    app = build_app(source, settings, backend=backend, device=device, revision=revision, threads=threads)
    scheme_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"mmib serve: {source} ({backend}) on http://{scheme_host}:{settings.port}/  "
          f"(API docs at /docs{', token required on /v1/*' if settings.token else ''})", file=sys.stderr, flush=True)
    uvicorn.run(app, **common)


__all__ = ["app_from_env", "build_app", "require_serve_extra", "serve"]
