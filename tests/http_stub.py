"""A real HTTP server on 127.0.0.1 standing in for an SMS / push provider or a webhook receiver.

Replies are scripted per path: a list of (status, body, delay in seconds) used up one
request at a time, then 200; a GET answers with `pages`. Every request is recorded with
its headers and body."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Request:
    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path = path
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class HttpStub:
    def __init__(self) -> None:
        self.replies: dict[str, list[tuple[int, str, float]]] = {}
        #: Headers every answer to a path's POST carries besides its content's (Retry-After, Location).
        self.headers: dict[str, dict[str, str]] = {}
        self.requests: list[Request] = []
        #: What a GET of a path answers (200 with these bytes; 404 for any other path).
        self.pages: dict[str, bytes] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                stub.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                queue = stub.replies.get(self.path) or []
                status, text, delay = queue.pop(0) if queue else (200, '{"id": "ok"}', 0.0)
                if delay:
                    time.sleep(delay)
                payload = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in stub.headers.get(self.path, {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                stub.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, b""))
                page = stub.pages.get(self.path)
                self.send_response(200 if page is not None else 404)
                self.send_header("Content-Length", str(len(page or b"")))
                self.end_headers()
                self.wfile.write(page or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> HttpStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]
