"""The lab's web server: a small Starlette app served by Uvicorn on 127.0.0.1.

Routes are one explicit list. The page is static (``static/``); live state goes out as server-sent
events, at most ``fps`` frames a second with the latest state winning, so a slow page never slows
training. Every ``/api`` request needs the per-launch token (header ``X-Lab-Token``, or ``?token=`` for
the event stream, which cannot send headers); every request needs a Host header naming the bound
address and request bodies are capped (:mod:`.guard`). A bad request gets HTTP 400 and a JSON
``{"error": ...}`` line, and the lab's state is left as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from .guard import UPLOAD_LIMIT, BadRequest, Guard, finite_number, read_body, read_json
from .session import LabError, LabSettings, Session

STATIC = Path(__file__).parent / "static"
KEEPALIVE_SECONDS = 15.0


def create_app(session: Session, token: str, allowed_hosts: set[str], fps: float = 30.0) -> ASGIApp:
    """The lab's ASGI app for one session and one launch token."""
    cache: dict[str, Any] = {"version": None}

    def published() -> tuple[int, int, dict[str, Any], dict[str, Any]]:
        """(version, slow version, the whole frame, its live part) of the newest frame."""
        frame, live = session.published  # one tuple: a frame and its own live part
        return frame.get("version"), frame.get("slow_version"), frame, live

    def as_json(version: int, part: str, value: dict[str, Any]) -> str:
        """``value`` (the frame's ``part``: full or live) as JSON, encoded at most once per version and part,
        and only when some page or request needs it."""
        if cache["version"] != version:
            cache.clear()
            cache["version"] = version
        if part not in cache:
            cache[part] = json.dumps(value)
        return cache[part]

    def check_token(request: Request) -> None:
        given = request.headers.get("x-lab-token") or request.query_params.get("token") or ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise PermissionError("missing or wrong lab token: use the URL the lab printed")

    def endpoint(handler: Any) -> Any:
        """Token check and uniform errors: 403 for the token, 400 for bad input, 500 for our own bugs."""

        async def wrapped(request: Request) -> Response:
            try:
                check_token(request)
                return await handler(request)
            except PermissionError as error:
                return JSONResponse({"error": str(error)}, status_code=403)
            except (BadRequest, LabError) as error:
                return JSONResponse({"error": str(error)}, status_code=400)
            except Exception as error:  # keep serving; say what failed
                return JSONResponse({"error": f"{type(error).__name__}: {error}"}, status_code=500)

        return wrapped

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def state(request: Request) -> Response:
        version, _, frame, _ = published()
        return Response(as_json(version, "full", frame), media_type="application/json")

    async def stream(request: Request) -> Response:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        unsubscribe = session.subscribe(lambda: loop.call_soon_threadsafe(wake.set))

        async def frames() -> Any:
            sent_version, sent_slow, sent_at, quiet_since = None, None, 0.0, time.monotonic()
            try:
                while not session_closed["yes"]:
                    wake.clear()
                    if published()[0] != sent_version:
                        pause = 1 / fps - (time.monotonic() - sent_at)
                        if pause > 0:  # bounded rate; whatever is newest after the pause is sent
                            await asyncio.sleep(pause)
                        version, slow, frame, live = published()
                        # the page keeps the slow part it has: send it only when it changed
                        text = as_json(version, "live", live) if slow == sent_slow else as_json(version, "full", frame)
                        sent_version, sent_slow = version, slow
                        sent_at = quiet_since = time.monotonic()
                        yield f"data: {text}\n\n"
                        continue
                    if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                        quiet_since = time.monotonic()
                        yield ": keep-alive\n\n"
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), timeout=1.0)
            finally:
                unsubscribe()

        return StreamingResponse(frames(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    async def control(request: Request) -> Response:
        body = await read_json(request)
        action = body.get("action")
        if action == "pause":
            action = "paused"
        speed = None if body.get("speed") is None else finite_number(body["speed"], "speed")
        if action == "reset":
            seed = body.get("seed")
            settings = LabSettings(**{**session.settings.__dict__})
            settings.seed = secrets.randbelow(2**31) if seed is None else seed
            message = await run_in_threadpool(session.configure, settings)
            return JSONResponse({"ok": True, "message": f"{message} (seed {settings.seed})"})
        if not isinstance(action, str):
            raise BadRequest(f"action {action!r}: expected one of step, batch, epoch, play, pause, reset")
        return JSONResponse({"ok": True, "message": session.control(action, speed)})

    async def lr(request: Request) -> Response:
        body = await read_json(request)
        return JSONResponse({"ok": True, "message": session.change_lr(finite_number(body.get("lr"), "lr"))})

    async def settings(request: Request) -> Response:
        body = await read_json(request)
        known = set(LabSettings.__dataclass_fields__)
        unknown = sorted(set(body) - known)
        if unknown:
            raise BadRequest(f"unknown setting {unknown[0]!r}: choose from {', '.join(sorted(known))}")
        merged = LabSettings(**{**session.settings.__dict__, **body})
        message = await run_in_threadpool(session.configure, merged, True)
        return JSONResponse({"ok": True, "message": message})

    async def rewind(request: Request) -> Response:
        body = await read_json(request)
        return JSONResponse({"ok": True, "message": await run_in_threadpool(session.rewind, body.get("id"))})

    async def save(request: Request) -> Response:
        await read_json(request)
        run_dir = await run_in_threadpool(session.save_run)
        return JSONResponse({"ok": True, "message": f"saved in {run_dir}", "run_dir": str(run_dir)})

    async def open_run(request: Request) -> Response:
        body = await read_json(request)
        path = body.get("path")
        if not isinstance(path, str) or not path:
            raise BadRequest("path: expected the run folder's path")
        return JSONResponse({"ok": True, "message": await run_in_threadpool(session.open_run, Path(path))})

    async def draw(request: Request) -> Response:
        body = await read_body(request, UPLOAD_LIMIT)
        if not body:
            raise BadRequest("no image in the request body")
        return JSONResponse(await run_in_threadpool(classify_bytes, session, body))

    async def gradcheck(request: Request) -> Response:
        body = await read_json(request)
        return JSONResponse(await run_in_threadpool(session.gradcheck, body.get("weights", "chosen")))

    session_closed = {"yes": False}
    routes = [
        Route("/", index),
        Route("/api/state", endpoint(state)),
        Route("/api/stream", endpoint(stream)),
        Route("/api/control", endpoint(control), methods=["POST"]),
        Route("/api/lr", endpoint(lr), methods=["POST"]),
        Route("/api/settings", endpoint(settings), methods=["POST"]),
        Route("/api/rewind", endpoint(rewind), methods=["POST"]),
        Route("/api/save", endpoint(save), methods=["POST"]),
        Route("/api/open", endpoint(open_run), methods=["POST"]),
        Route("/api/draw", endpoint(draw), methods=["POST"]),
        Route("/api/gradcheck", endpoint(gradcheck), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.close = lambda: session_closed.update(yes=True)
    guarded = Guard(app, allowed_hosts)
    guarded.close = app.state.close  # type: ignore[attr-defined]
    return guarded


def classify_bytes(session: Session, data: bytes) -> dict[str, Any]:
    """An uploaded or drawn image through ``sevensteps predict``'s own preprocessing, then classified."""
    from ..data.dataset import DataError
    from ..data.preprocess import load_digit_image

    with tempfile.TemporaryDirectory(prefix="sevensteps-lab-") as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        try:
            image = load_digit_image(path)
        except DataError as error:
            raise LabError(str(error).replace(str(path), "the image")) from error
    return session.classify(image)


def allowed_hosts_for(host: str, port: int) -> set[str]:
    """The Host headers a browser sends for this address (localhost too, for loopback)."""
    shown = f"[{host}]" if ":" in host else host
    hosts = {f"{shown}:{port}"}
    if host in ("127.0.0.1", "::1", "localhost"):
        hosts |= {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    return hosts


def serve(session: Session, host: str, port: int, open_browser: bool, fps: float = 30.0,
          announce: Any = print) -> None:
    """Bind, print the URL with its token, serve until Ctrl-C, then stop training cleanly."""
    import socket

    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    app = create_app(session, token, allowed_hosts_for(host, port), fps)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/?token={token}"
    announce(f"Lab: {url}")
    announce("Press Ctrl-C to stop.")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            app.close()  # type: ignore[attr-defined]  # end the event streams so shutdown need not wait
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="off")
    server = Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        app.close()  # type: ignore[attr-defined]
        session.close()
        sock.close()
