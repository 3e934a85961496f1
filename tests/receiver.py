"""A real HTTP receiver of webhooks on loopback: records every request, answers as scripted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        """The Standard Webhooks check, written here from the specification (not with the
        app's code): HMAC-SHA256 of ``id.timestamp.body`` under the base64 key after
        ``whsec_``, any of the space-separated ``v1,`` signatures."""
        key = base64.b64decode(secret.removeprefix("whsec_"))
        content = (
            f"{self.headers['webhook-id']}.{self.headers['webhook-timestamp']}.".encode()
            + self.body
        )
        expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
        return any(
            part.startswith("v1,") and hmac.compare_digest(part[3:], expected)
            for part in self.headers["webhook-signature"].split(" ")
        )


class Receiver:
    """``answers`` are the status codes to give, in order, then ``default``; ``routes`` maps a
    path to a (status, headers) answer that takes precedence (e.g. redirects)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        self.default = 200
        self.routes: dict[str, tuple[int, dict[str, str]]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    if self.path in receiver.routes:
                        status, headers = receiver.routes[self.path]
                    else:
                        status = receiver.answers.pop(0) if receiver.answers else receiver.default
                        headers = {}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def requests(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def running() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
