"""The read-only dashboard: one page, its JSON endpoints and ``/metrics``, on a loopback address.

A ``Monitor`` reads a snapshot every ``interval`` seconds in a background thread (the backup
catalog only every ``BACKUP_REFRESH_SECONDS``) and keeps the outbox backlog per generation
over time; requests only read what it holds, so any number of browsers and scrapers cost
the database one snapshot per interval. The server has no authentication: it refuses to
listen beyond loopback unless told to, and refuses requests whose ``Host`` is not the
address it listens on (a web page elsewhere cannot read it through DNS rebinding).

    GET /               the page (inline CSS, JS and SVG; nothing loaded from elsewhere)
    GET /api/status     the snapshot (the shape of ``status --format json``)
    GET /api/timeline   the ledger's newest entries, newest first
    GET /api/backlog    backlog per generation over time
    GET /metrics        Prometheus text format 0.0.4
"""

from __future__ import annotations

import base64
import hashlib
import html
import ipaddress
import json
import logging
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from spectral_deploy.errors import PreconditionFailed, SpectralError, UsageError
from spectral_deploy.web.metrics import CONTENT_TYPE, render_metrics
from spectral_deploy.web.model import BackupView, Snapshot

__all__ = [
    "DEFAULT_LISTEN",
    "DashboardServer",
    "Monitor",
    "make_server",
    "parse_listen",
]

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:8180"
SAMPLE_SECONDS = 2.0
BACKUP_REFRESH_SECONDS = 60.0
HISTORY_SECONDS = 30 * 60
TIMELINE_ENTRIES = 40
CONNECTION_TIMEOUT_SECONDS = 10.0


def parse_listen(text: str, *, allow_remote: bool) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPV6]:PORT`` or ``PORT`` -> (host, port); non-loopback needs
    ``allow_remote`` because the dashboard has no authentication."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", text.strip()
    host = host.strip("[]") or "127.0.0.1"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(
            f"--listen {text!r} is not HOST:PORT",
            hint=f"spectral-deploy dashboard --listen {DEFAULT_LISTEN}",
        )
    if not allow_remote and not _is_loopback(host):
        raise UsageError(
            f"refusing to serve the dashboard on {host}: it has no authentication, so it "
            "listens on loopback only",
            hint="reach it through an SSH tunnel or an authenticating proxy, or pass "
            "--allow-remote",
        )
    return host, int(port_text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name could resolve anywhere


@dataclass(frozen=True)
class BacklogSample:
    """Unfinished rows per generation at one moment (epoch seconds)."""

    at: float
    backlog: dict[int, int]
    stranded: tuple[int, ...]


class Monitor:
    """Reads snapshots on a schedule and keeps the backlog history; thread-safe."""

    def __init__(
        self,
        read: Callable[[BackupView | None], Snapshot],
        read_backup: Callable[[], BackupView],
        *,
        interval: float = SAMPLE_SECONDS,
        history_seconds: float = HISTORY_SECONDS,
    ) -> None:
        self._read = read
        self._read_backup = read_backup
        self.interval = interval
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._error: SpectralError | None = None
        self._backup: BackupView | None = None
        self._backup_read_at = float("-inf")
        self._history: deque[BacklogSample] = deque(
            maxlen=max(1, int(history_seconds / max(interval, 0.1)))
        )

    def sample(self) -> None:
        """Read a snapshot now (the backup catalog when it is due)."""
        backup = self._backup
        if time.monotonic() - self._backup_read_at >= BACKUP_REFRESH_SECONDS:
            backup = self._read_backup()
            self._backup, self._backup_read_at = backup, time.monotonic()
        try:
            snapshot = self._read(backup)
        except SpectralError as exc:
            log.warning("action=dashboard.sample_failed error=%s", exc.message)
            with self._lock:
                self._error = exc
            return
        except Exception as exc:  # a bug must not stop the sampler thread: say it, go on
            log.exception("action=dashboard.sample_crashed")
            with self._lock:
                self._error = SpectralError(
                    f"internal error: {type(exc).__name__}: {exc}",
                    hint="rerun the dashboard with -v for the traceback and report it",
                )
            return
        sample = BacklogSample(
            at=time.time(),
            backlog={g.generation: g.pending + g.in_flight for g in snapshot.outbox.generations},
            stranded=tuple(g.generation for g in snapshot.outbox.stranded),
        )
        with self._lock:
            self._snapshot, self._error = snapshot, None
            self._history.append(sample)

    def current(self) -> tuple[Snapshot | None, SpectralError | None]:
        """The latest snapshot, and the error of the latest read if it failed."""
        with self._lock:
            return self._snapshot, self._error

    def history(self) -> list[BacklogSample]:
        """Backlog samples, oldest first."""
        with self._lock:
            return list(self._history)

    def run(self, stop: threading.Event) -> None:
        """Sample every ``interval`` until ``stop`` is set."""
        while not stop.wait(self.interval):
            self.sample()


def _page(project: str) -> tuple[bytes, str]:
    """The page with the project's name, and a CSP that allows only its own inline code."""
    text = resources.files("spectral_deploy.web").joinpath("dashboard.html").read_text("utf-8")
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
        for block in re.findall(r"<(?:script|style)>(.*?)</(?:script|style)>", text, re.DOTALL)
    ]
    policy = (
        "default-src 'none'; connect-src 'self'; img-src 'self' data:; "
        f"script-src {' '.join(hashes)}; style-src {' '.join(hashes)}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return text.replace("{{project}}", html.escape(project)).encode(), policy


class DashboardServer(ThreadingHTTPServer):
    """The HTTP server; its handler reads ``monitor``.

    Connections are served by at most ``MAX_THREADS`` threads; up to ``MAX_WAITING`` more
    wait their turn, and beyond that a connection is closed at once (idle connections
    cannot pile up one thread each). A client that sends nothing for
    ``CONNECTION_TIMEOUT_SECONDS`` is dropped.
    """

    daemon_threads = True
    request_queue_size = 128
    MAX_THREADS = 16
    MAX_WAITING = 64

    def __init__(
        self,
        address: tuple[str, int],
        monitor: Monitor,
        *,
        project: str,
        allowed_hosts: frozenset[str] | None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self._pool = ThreadPoolExecutor(
            max_workers=self.MAX_THREADS, thread_name_prefix="dashboard-request"
        )
        self._slots = threading.BoundedSemaphore(self.MAX_THREADS + self.MAX_WAITING)
        self.monitor = monitor
        self.page, self.policy = _page(project)
        port = self.server_address[1]
        self.allowed_hosts = (
            None
            if allowed_hosts is None
            else allowed_hosts | {f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")}
        )

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to the bounded pool, or close it when the pool is full."""
        if not self._slots.acquire(blocking=False):
            log.warning("action=dashboard.busy client=%s", client_address)
            self.shutdown_request(request)
            return
        self._pool.submit(self._serve, request, client_address)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def server_close(self) -> None:
        """Stop listening, then let the pool finish (its threads hold no lock we need)."""
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def url(self) -> str:
        """The base URL to open."""
        host, port = self.server_address[0], self.server_address[1]
        name = host.decode() if isinstance(host, bytes) else host
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/"


def make_server(
    host: str, port: int, monitor: Monitor, *, project: str, allow_remote: bool = False
) -> DashboardServer:
    """Bind the dashboard; a port in use is a failed precondition."""
    try:
        server = DashboardServer(
            (host, port),
            monitor,
            project=project,
            allowed_hosts=None if allow_remote else frozenset({f"{host}:{port}"}),
        )
    except OSError as exc:
        raise PreconditionFailed(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="spectral-deploy dashboard --listen 127.0.0.1:PORT (another port)",
        ) from exc
    return server


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    server_version = "spectral-deploy-dashboard"
    # the socket timeout of every read and write: a silent or slow client is dropped
    timeout = CONNECTION_TIMEOUT_SECONDS

    def do_GET(self) -> None:
        allowed = self.server.allowed_hosts
        host = self.headers.get("Host")
        if allowed is not None and host is not None and host not in allowed:
            self._json(HTTPStatus.MISDIRECTED_REQUEST, {"error": f"unexpected Host {host!r}"})
            return
        path = self.path.split("?", 1)[0]
        routes: dict[str, Callable[[], None]] = {
            "/": self._index,
            "/index.html": self._index,
            "/api/status": self._status,
            "/api/timeline": self._timeline,
            "/api/backlog": self._backlog,
            "/metrics": self._metrics,
        }
        route = routes.get(path)
        if route is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})
            return
        route()

    def _index(self) -> None:
        self._send(
            HTTPStatus.OK,
            "text/html; charset=utf-8",
            self.server.page,
            {"Content-Security-Policy": self.server.policy},
        )

    def _current(self) -> Snapshot | None:
        snapshot, error = self.server.monitor.current()
        if snapshot is None or error is not None:
            message = error.message if error else "no snapshot yet"
            self._json(
                HTTPStatus.SERVICE_UNAVAILABLE,
                {"error": message, "hint": error.hint if error else None},
            )
            return None
        return snapshot

    def _status(self) -> None:
        snapshot = self._current()
        if snapshot is not None:
            self._json(HTTPStatus.OK, snapshot.as_json())

    def _timeline(self) -> None:
        snapshot = self._current()
        if snapshot is not None:
            entries = [e.as_json() for e in reversed(snapshot.timeline[-TIMELINE_ENTRIES:])]
            self._json(HTTPStatus.OK, {"entries": entries})

    def _backlog(self) -> None:
        samples = self.server.monitor.history()
        self._json(
            HTTPStatus.OK,
            {
                "interval_seconds": self.server.monitor.interval,
                "samples": [
                    {
                        "at": round(s.at, 3),
                        "backlog": {str(g): n for g, n in s.backlog.items()},
                        "stranded": list(s.stranded),
                    }
                    for s in samples
                ],
            },
        )

    def _metrics(self) -> None:
        snapshot, error = self.server.monitor.current()
        body = render_metrics(None if error is not None else snapshot)
        self._send(HTTPStatus.OK, CONTENT_TYPE, body.encode())

    def _json(self, status: HTTPStatus, value: Any) -> None:
        body = json.dumps(value, default=str).encode()
        self._send(status, "application/json", body)

    def _send(
        self,
        status: HTTPStatus,
        content_type: str,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("action=dashboard.request client=%s %s", self.client_address[0], format % args)
