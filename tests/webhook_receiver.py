"""A webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread that records every request
and answers from a script (status codes, with headers), then 200."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        """Answer the next requests with ``statuses`` in order (a status, or status and headers)."""
        self.script.extend(s if isinstance(s, tuple) else (s, {}) for s in statuses)


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    lock = threading.Lock()
    receiver = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                receiver.received.append(Received(self.path, headers, body))
                status, answer = receiver.script.pop(0) if receiver.script else (200, {})
            self.send_response(status)
            for name, value in answer.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            receiver.arrived.set()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet tests
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
