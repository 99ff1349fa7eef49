"""What every request to the lab must pass: the Host header names the bound address (against DNS
rebinding), bodies stay under a size limit, JSON bodies are objects, numbers are finite; answers carry
security headers. A request that fails gets HTTP 400 and a JSON ``{"error": ...}`` line."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

JSON_LIMIT = 64 * 1024
UPLOAD_LIMIT = 4 * 1024 * 1024
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class BadRequest(Exception):
    """Answered with HTTP 400 and this message."""


class Guard:
    """ASGI middleware: the Host header must name the bound address; bodies over the limit are refused."""

    def __init__(self, app: ASGIApp, allowed_hosts: set[str], max_body: int = UPLOAD_LIMIT):
        self.app, self.allowed_hosts, self.max_body = app, allowed_hosts, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if host not in self.allowed_hosts:
            response = JSONResponse({"error": f"Host {host!r} is not this lab's address"}, status_code=400)
            await response(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            response = JSONResponse({"error": f"request body of {length} bytes is over the limit of "
                                              f"{self.max_body} bytes"}, status_code=400)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes even when no Content-Length was sent."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"request body over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> dict[str, Any]:
    body = await read_body(request, JSON_LIMIT)
    if not body:
        return {}
    try:
        value = json.loads(body, parse_constant=lambda name: float("nan"))
    except ValueError as error:
        raise BadRequest(f"the body is not JSON ({error})") from error
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value


def finite_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{name} {value!r}: expected a finite number")
    return float(value)
