"""Limits and errors: request bodies bounded while they are read (413 before the limit is
passed, not after the whole body arrived), every error one JSON object
``{"error": message, "field": where or null, "status": code}``, and the token check."""

from __future__ import annotations

import hmac
import re
from typing import Any

from starlette.exceptions import HTTPException

from .settings import is_loopback  # noqa: F401  (re-exported)


class ApiError(HTTPException):
    """An answer other than 200: ``status``, a readable ``message`` and the ``field`` it is about.
    (A Starlette HTTPException, so FastAPI re-raises it even while it parses a form.)"""

    def __init__(self, status: int, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.message = message
        self.field = field


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": message, "field": field, "status": status}


_QUOTED = re.compile(r"'([A-Za-z_][\w]*)'")


def field_of(message: str, where: str) -> str:
    """``body[0]: 'audio' has shape ...`` -> ``body[0].audio`` (the record itself when no field is named)."""
    rest = message[len(where):] if message.startswith(where) else message
    m = _QUOTED.search(rest)
    return f"{where}.{m.group(1)}" if m else where


class BodyLimit:
    """ASGI middleware: a declared Content-Length over ``max_bytes`` is refused at once; a body
    without one (chunked) is counted as it arrives and refused as soon as it passes the limit."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> ApiError:
        mb = self.max_bytes / 2**20
        return ApiError(413, f"request body larger than the server's limit of {mb:g} MB (--max-body-mb)", "body")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                return await _send(send, ApiError(400, "Content-Length header is not a number", "Content-Length"))
            if size > self.max_bytes:
                return await _send(send, self._too_large(), close=True)
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, limited, send)


async def _send(send: Any, err: ApiError, close: bool = False, extra: list | None = None) -> None:
    import json

    body = json.dumps(error_body(err.status_code, err.message, err.field)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    headers += extra or []
    await send({"type": "http.response.start", "status": err.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TokenGate:
    """ASGI middleware: requests under ``prefix`` need ``Authorization: Bearer <token>``; a
    request without it gets 401 before its body is read."""

    def __init__(self, app: Any, token: str, prefix: str = "/v1/") -> None:
        self.app = app
        self.token = token
        self.prefix = prefix

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(self.prefix):
            auth = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            if not token_ok(auth, self.token):
                err = ApiError(401, "missing or wrong token: send the header 'Authorization: Bearer <token>'",
                               "Authorization")
                return await _send(send, err, close=True, extra=[(b"www-authenticate", b"Bearer")])
        await self.app(scope, receive, send)


def token_ok(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].strip().encode(), token.encode())


__all__ = ["ApiError", "BodyLimit", "TokenGate", "error_body", "field_of", "is_loopback", "token_ok"]
