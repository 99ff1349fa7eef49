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
    """Serves ``routes``: path → bytes, or ("truncate", bytes) to close the connection half-way."""

    def __init__(self):
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                truncate = isinstance(body, tuple)
                data = body[1] if truncate else body
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if truncate else data)
                if truncate:
                    self.wfile.flush()
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server():
    server = FileServer()
    yield server
    server.close()
