"""A vendor API on 127.0.0.1, served from a thread: routes, auth, recorded requests, faults.

Subclasses add routes (``@route("GET", r"/v1/services/(?P<id>[^/]+)")``) that return a
``Reply``. Every request is recorded (method, path, query, headers, body) before it is
answered, so tests can assert what was sent and what was never sent. ``fail`` queues
answers that replace the next matching requests (429 with Retry-After, 5xx, a malformed
body), which is how retries and error mapping are exercised.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeServer", "Recorded", "Reply", "route"]


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    def arg(self, name: str) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    """What a route answers: JSON (any value), raw bytes, or nothing (204)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        """The body bytes and headers to send."""
        headers = dict(self.headers)
        if self.body is None:
            return b"", headers
        if isinstance(self.body, bytes):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body, headers
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode(), headers


@dataclass
class _Fault:
    reply: Reply
    times: int
    method: str | None
    path: re.Pattern[str] | None

    def matches(self, request: Recorded) -> bool:
        if self.method is not None and request.method != self.method:
            return False
        return self.path is None or bool(self.path.search(request.path))


Handler = Callable[..., Reply]


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Mark a method of a ``FakeServer`` subclass as the handler of ``method pattern``."""

    def mark(function: Handler) -> Handler:
        function.__dict__.setdefault("_routes", []).append((method, pattern))
        return function

    return mark


class FakeServer:
    """Base of the vendor fakes. Start with ``with Fake(...) as fake`` or ``start()``."""

    provider: ClassVar[str] = "fake"

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for name in dir(type(self)):
            function = getattr(type(self), name)
            for method, pattern in getattr(function, "_routes", ()):
                self._routes.append((method, re.compile(f"^{pattern}$"), getattr(self, name)))
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # how long stop() waits for the loop to notice
            name=f"fake-{self.provider}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use --------------------------------------------------------------------

    def fail(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with this instead of the real route."""
        with self.lock:
            self._faults.append(
                _Fault(
                    Reply(status, body, dict(headers or {})),
                    times,
                    method,
                    re.compile(path) if path else None,
                )
            )

    def malformed(self, *, times: int = 1, method: str | None = None, path: str | None = None):
        """Answer 200 with a body that claims to be JSON and is not."""
        self.fail(
            200,
            b'{"result": [ {"id": "truncated',
            headers={"Content-Type": "application/json"},
            times=times,
            method=method,
            path=path,
        )

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """Recorded requests, filtered by method and a regex searched in the path."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method)
                and (path is None or re.search(path, r.path))
            ]

    # --- what subclasses override ----------------------------------------------------------

    def authorized(self, request: Recorded) -> bool:
        """Bearer token auth, as most of the vendors do it."""
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def unauthorized(self, request: Recorded) -> Reply:
        """The vendor's answer to a missing or wrong token."""
        return Reply(401, {"message": "unauthorized"})

    def not_found(self, request: Recorded) -> Reply:
        """The vendor's answer to an unknown path."""
        return Reply(404, {"message": "not found"})

    # --- dispatch --------------------------------------------------------------------------

    def _answer(self, request: Recorded) -> Reply:
        with self.lock:
            self.requests.append(request)
            for fault in self._faults:
                if fault.times > 0 and fault.matches(request):
                    fault.times -= 1
                    return fault.reply
        if not self.authorized(request):
            return self.unauthorized(request)
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                with self.lock:
                    return handler(request, **match.groupdict())
        return self.not_found(request)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that gave up (a timeout test) is not an error of the fake
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes; without TCP_NODELAY each answer waits ~40 ms
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Recorded(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        fake: FakeServer = self.server.fake  # type: ignore[attr-defined]
        try:
            reply = fake._answer(request)
        except Exception as exc:  # a bug in a fake must show up in the test, not hang it
            reply = Reply(500, {"message": f"fake error: {type(exc).__name__}: {exc}"})
        body, headers = reply.encoded()
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is ``FakeServer.requests``."""
