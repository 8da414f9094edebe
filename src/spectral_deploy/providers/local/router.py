"""The local router: a reverse proxy that plays the public CNAME for the sandbox.

Requests to the router's loopback address go to whichever color the record
(``.spectral/dns/record.json``) points at. Like a DNS resolver, the router caches the
record for its TTL, per client resolver: a request may name its resolver in the
``X-Spectral-Resolver`` header, and resolvers whose name starts with ``long-tail`` keep
the old answer for ``--long-tail-seconds`` (the runbook's "long-tail resolvers may cache
for hours"). Each response says which color served it in ``X-Spectral-Upstream``.

    python -m spectral_deploy.providers.local.router --state-dir .spectral/dns \\
        --listen 127.0.0.1:8100 --upstream blue=127.0.0.1:8101 --upstream green=127.0.0.1:8102
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

from spectral_deploy.providers.local.files import read_json

__all__ = ["ResolverCache", "main"]

HOP_BY_HOP = frozenset(
    {
        "server",  # the router's own Server and Date headers are sent instead
        "date",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
UPSTREAM_TIMEOUT_SECONDS = 30.0


@dataclass
class _Answer:
    target: str
    expires: float


class ResolverCache:
    """What each client resolver believes the record points at (pure but for the clock)."""

    def __init__(self, record_file: Path, long_tail_seconds: float) -> None:
        self.record_file = record_file
        self.long_tail_seconds = long_tail_seconds
        self._answers: dict[str, _Answer] = {}
        self._lock = threading.Lock()

    def resolve(self, resolver: str, now: float) -> str | None:
        """The target this resolver would use now."""
        with self._lock:
            answer = self._answers.get(resolver)
            if answer is not None and now < answer.expires:
                return answer.target
            record = read_json(self.record_file) or {}
            target = str(record.get("target") or "")
            if not target:
                return None
            ttl = float(record.get("ttl", 60))
            if resolver.startswith("long-tail"):
                ttl = max(ttl, self.long_tail_seconds)
            self._answers[resolver] = _Answer(target, now + ttl)
            return target


class _Router(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], cache: ResolverCache, upstreams: dict[str, str]
    ) -> None:
        super().__init__(address, _Handler)
        self.cache = cache
        self.upstreams = upstreams
        self.local = threading.local()


class _Handler(BaseHTTPRequestHandler):
    server: _Router
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._proxy()

    def do_POST(self) -> None:
        self._proxy()

    def do_PUT(self) -> None:
        self._proxy()

    def do_DELETE(self) -> None:
        self._proxy()

    def do_PATCH(self) -> None:
        self._proxy()

    def do_HEAD(self) -> None:
        self._proxy()

    def log_message(self, format: str, *args: object) -> None:
        return  # access logs would drown the sandbox; the apps log their own requests

    def _proxy(self) -> None:
        resolver = self.headers.get("X-Spectral-Resolver", "default")
        target = self.server.cache.resolve(resolver, time.monotonic())
        if target is None:
            self._fail(503, "the record points nowhere yet")
            return
        upstream = self.server.upstreams.get(target, target)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-For"] = self.client_address[0]
        try:
            response = self._send_upstream(upstream, headers, body)
        except (OSError, http.client.HTTPException) as exc:
            self._fail(502, f"upstream {target} ({upstream}) failed: {exc}")
            return
        payload = response.read()
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Spectral-Upstream", target)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_upstream(
        self, upstream: str, headers: dict[str, str], body: bytes | None
    ) -> http.client.HTTPResponse:
        connections: dict[str, http.client.HTTPConnection] = getattr(
            self.server.local, "connections", {}
        )
        self.server.local.connections = connections
        for attempt in (1, 2):  # a kept-alive connection the upstream closed: retry once fresh
            connection = connections.get(upstream)
            if connection is None:
                host, _, port = upstream.rpartition(":")
                connection = http.client.HTTPConnection(
                    host, int(port), timeout=UPSTREAM_TIMEOUT_SECONDS
                )
                connections[upstream] = connection
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                return connection.getresponse()
            except (OSError, http.client.HTTPException):
                connection.close()
                connections.pop(upstream, None)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _fail(self, status: int, message: str) -> None:
        payload = (message + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="spectral-router")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--upstream", action="append", default=[], metavar="NAME=HOST:PORT")
    parser.add_argument("--long-tail-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    upstreams = dict(item.split("=", 1) for item in args.upstream)
    cache = ResolverCache(args.state_dir / "record.json", args.long_tail_seconds)
    server = _Router((host, int(port)), cache, upstreams)
    pidfile = args.state_dir / "router.pid"
    pidfile.write_text(str(os.getpid()))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        pidfile.unlink(missing_ok=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
