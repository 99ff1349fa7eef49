"""Shared fixtures: an isolated SEVENSTEPS_HOME, the real MNIST test set when present, a local HTTP server."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MNIST_TEST_DIR = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session", autouse=True)
def sevensteps_home(tmp_path_factory):
    """Every test session gets its own cache folder, never the user's."""
    home = tmp_path_factory.mktemp("sevensteps-home")
    previous = os.environ.get("SEVENSTEPS_HOME")
    os.environ["SEVENSTEPS_HOME"] = str(home)
    os.environ.pop("SEVENSTEPS_MIRRORS", None)
    yield home
    if previous is None:
        os.environ.pop("SEVENSTEPS_HOME", None)
    else:
        os.environ["SEVENSTEPS_HOME"] = previous


@pytest.fixture
def mnist_test_dir() -> Path:
    """../shared/data/mnist (the real MNIST test set); the test is skipped only when it is absent."""
    if not (MNIST_TEST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the real MNIST test set is not at {MNIST_TEST_DIR}")
    return MNIST_TEST_DIR


class FileServer:
    """Serves ``routes``: path → bytes, or a (mode, ...) tuple for a misbehaving mirror:

    - ``("truncate", body)``: announce the whole body, send half, close the connection;
    - ``("trickle", body, delay)``: one byte every ``delay`` seconds (each read is quick, the whole is not);
    - ``("stall", body)``: send half, then nothing until the server closes;
    - ``("endless", chunk)``: no Content-Length, ``chunk`` after ``chunk`` until the client hangs up;
    - ``("redirect", location)``: a 302 to ``location`` (itself, for a redirect loop);
    - ``("slow", body, delay)``: the whole body after ``delay`` seconds (to make transfers overlap).

    ``requests`` lists the paths asked for; ``sent`` counts the body bytes written per path.
    """

    def __init__(self):
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        self.sent: dict[str, int] = {}
        self.closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def send_body(self, data: bytes) -> None:
                self.wfile.write(data)
                self.wfile.flush()
                server.sent[self.path] = server.sent.get(self.path, 0) + len(data)

            def do_GET(self):
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                mode, data, *rest = route if isinstance(route, tuple) else ("plain", route)
                if mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", data)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                if mode != "endless":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.serve(mode, data, *rest)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should
                self.close_connection = True

            def serve(self, mode: str, data: bytes, delay: float = 0.0) -> None:
                if mode == "plain":
                    self.send_body(data)
                elif mode == "truncate":
                    self.send_body(data[: len(data) // 2])
                elif mode == "trickle":
                    for i in range(len(data)):
                        if server.closing.wait(delay):
                            return
                        self.send_body(data[i:i + 1])
                elif mode == "stall":
                    self.send_body(data[: len(data) // 2])
                    server.closing.wait(60)
                elif mode == "endless":
                    while not server.closing.is_set():
                        self.send_body(data)
                elif mode == "slow":
                    server.closing.wait(delay)
                    self.send_body(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server():
    server = FileServer()
    yield server
    server.close()
