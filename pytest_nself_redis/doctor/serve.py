"""``nself-redis serve``: doctor over HTTP, for ``nself doctor --deep`` and HTTP health probes.

``GET /health`` and ``GET /healthz`` answer 200 when doctor finds no error (warnings pass)
and 503 when it finds one or cannot look, with doctor's JSON as the body (the
``application/health+json`` document when the request's Accept asks for it). Requests are
served one at a time in the main thread, so doctor's deadline (SIGALRM) bounds each run; an
answer is reused for ``cache`` seconds, so a storm of probes runs doctor once and waits for
no second run. A slow client holds the server for at most ``REQUEST_TIMEOUT`` seconds.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TextIO
from urllib.parse import urlsplit

from pytest_nself_redis.doctor.bounds import signals_interrupt
from pytest_nself_redis.doctor.formats import Unavailable, render, render_unavailable
from pytest_nself_redis.doctor.formats.healthjson import MEDIA_TYPE
from pytest_nself_redis.doctor.runner import DoctorReport

PATHS = ("/health", "/healthz")
JSON = "application/json"
REQUEST_TIMEOUT = 5.0
PASSED, FAILED, NOT_FOUND = 200, 503, 404
Examine = Callable[[], DoctorReport | Unavailable]


@dataclass(frozen=True)
class Answer:
    """One doctor run, rendered both ways, and when it was made (monotonic seconds)."""

    status: int
    json: bytes
    health: bytes
    made: float


def answer(outcome: DoctorReport | Unavailable) -> Answer:
    """200 when no check errs, else 503; the bodies scrubbed by the formats."""
    if isinstance(outcome, Unavailable):
        problem = {"status": "error", "error": outcome.shown}
        health = render_unavailable("health-json", outcome).stdout
        return Answer(FAILED, _json(problem), health.encode(), time.monotonic())
    status = FAILED if outcome.status == "error" else PASSED
    body, health = render("json", outcome).stdout, render("health-json", outcome).stdout
    return Answer(status, body.encode(), health.encode(), time.monotonic())


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


class Cache:
    """The last answer, reused while younger than ``seconds``."""

    def __init__(self, examine: Examine, seconds: float) -> None:
        self.examine = examine
        self.seconds = seconds
        self.last: Answer | None = None

    def get(self) -> tuple[Answer, bool]:
        """The answer, and whether it was reused."""
        if self.last is not None and time.monotonic() - self.last.made < self.seconds:
            return self.last, True
        self.last = answer(self.examine())
        return self.last, False


def handler(cache: Cache, log: TextIO) -> type[BaseHTTPRequestHandler]:
    class Health(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT  # a client that sends nothing cannot hold the server
        server_version = "nself-redis-serve"
        sys_version = ""  # no Python version in the Server header

        def do_GET(self) -> None:
            self._respond(body=True)

        def do_HEAD(self) -> None:
            self._respond(body=False)

        def _respond(self, body: bool) -> None:
            started = time.monotonic()
            if urlsplit(self.path).path not in PATHS:
                self._send(NOT_FOUND, JSON, _json({"error": "not found: GET /health or /healthz"}), body)
                self._log(NOT_FOUND, started, "")
                return
            found, reused = cache.get()
            wants_health = MEDIA_TYPE in self.headers.get("Accept", "")
            content = found.health if wants_health else found.json
            age = int(time.monotonic() - found.made)
            self._send(found.status, MEDIA_TYPE if wants_health else JSON, content, body, age)
            self._log(found.status, started, f" (cached, {age} s old)" if reused else "")

        def _send(self, status: int, media: str, content: bytes, body: bool, age: int = 0) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(content)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Age", str(age))
            self.end_headers()
            if body:
                self.wfile.write(content)

        def _log(self, status: int, started: float, note: str) -> None:
            took = (time.monotonic() - started) * 1000
            log.write(f"nself-redis serve: {self.command} {self.path} {status} in {took:.0f} ms{note}\n")
            log.flush()

        def log_message(self, format: str, *args: object) -> None:
            """Silence http.server's own lines (errors included: ``_log`` says what happened)."""

    return Health


class _Server(HTTPServer):
    def __init__(self, bind: str, port: int, health: type[BaseHTTPRequestHandler]) -> None:
        if ":" in bind:
            self.address_family = socket.AF_INET6
        super().__init__((bind, port), health)

    def server_bind(self) -> None:
        """Bind without http.server's reverse DNS lookup of the address (it can stall startup)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


def listen(bind: str, port: int, cache: Cache, log: TextIO = sys.stderr) -> HTTPServer:
    """The bound server (OSError when the address is taken or not ours)."""
    return _Server(bind, port, handler(cache, log))


def serve(server: HTTPServer, log: TextIO = sys.stderr) -> None:
    """Answer until SIGTERM or SIGINT (``bounds.Interrupted``, raised to the caller: a doctor run it
    stops deletes its keys first)."""
    host = f"[{server.server_name}]" if ":" in server.server_name else server.server_name
    log.write(f"nself-redis serve: listening on http://{host}:{server.server_port}/health and /healthz\n")
    log.flush()
    with signals_interrupt():
        try:
            server.serve_forever(poll_interval=0.5)
        finally:
            server.server_close()
