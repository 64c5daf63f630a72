"""``mmib serve RUN_OR_EXPORT``: the model behind an HTTP API and a web page (docs/serving.md)."""

from __future__ import annotations

import argparse


def cmd_serve(args: argparse.Namespace) -> int:
    from ..serve import Settings
    from ..serve.run import serve

    settings = Settings(host=args.host, port=args.port, token=args.token or Settings.token_from_env(),
                        no_auth=args.no_auth, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                        max_body_mb=args.max_body_mb, timeout=args.timeout, extract_workers=args.extract_workers,
                        model_process=not args.in_process)
    settings.check()  # refuses before the model is loaded
    serve(args.model, settings, backend=args.backend, device=args.device, revision=args.revision,
          workers=args.workers, threads=args.threads, log_level=args.log_level)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..serve.backends import BACKENDS

    p = sub.add_parser("serve", help="serve a trained model over HTTP: JSON API, clip uploads and a web page")
    p.add_argument("model", help="a run directory, its best.safetensors, an `mmib export` folder or a Hub id")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine "
                                                       "only; any other needs --token or --no-auth)")
    p.add_argument("--port", type=int, default=8000, help="default 8000")
    p.add_argument("--device", help="cpu, cuda, ... (default: the run's train.device)")
    p.add_argument("--backend", default="torch", choices=list(BACKENDS), help="what runs the model (default torch)")
    p.add_argument("--token", help="require 'Authorization: Bearer TOKEN' on /v1/* (default: $MMIB_SERVE_TOKEN)")
    p.add_argument("--no-auth", action="store_true", help="serve a non-loopback --host without a token (warned)")
    p.add_argument("--max-batch", type=int, default=32, help="utterances per model call (default 32)")
    p.add_argument("--max-wait-ms", type=float, default=20.0,
                   help="how long a batch may wait for as many utterances as the last batch had (default 20 ms; "
                        "a lone client never waits)")
    p.add_argument("--max-body-mb", type=float, default=50.0, help="largest request or upload (default 50 MB; "
                                                                   "larger: 413)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a request may take, extraction "
                                                               "included (default 60; longer: 504)")
    p.add_argument("--extract-workers", type=int, default=2, help="clips extracted at once (default 2)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes, each with its own model "
                                                          "(default 1)")
    p.add_argument("--threads", type=int, help="the model's intra-op threads per worker (default: the runtime's "
                                               "choice, usually all cores)")
    p.add_argument("--in-process", action="store_true",
                   help="run the model in the server's own process (default: a child process of its own, so the "
                        "HTTP side never slows it; docs/serving.md)")
    p.add_argument("--revision", help="a Hub id's branch, tag or commit")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=cmd_serve)
