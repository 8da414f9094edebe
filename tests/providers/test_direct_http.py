"""A slot's direct address over HTTP: the smoke test's fetch and the local hosting's health
check, against a local server that answers like an app (statuses, a redirect, no answer)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from spectral_deploy import providers
from spectral_deploy.config import Config, HostingConfig
from spectral_deploy.providers.base import Color, Deployment
from spectral_deploy.providers.direct import SmokeFetch
from spectral_deploy.providers.local.hosting import LocalHosting


class App(BaseHTTPRequestHandler):
    """``/ok`` 200, ``/down`` 503, ``/broken`` 500, ``/moved`` a 302 to ``/ok``, ``/loop`` a
    302 to itself."""

    def do_GET(self) -> None:
        if self.path in ("/moved", "/loop"):
            self.send_response(302)
            self.send_header("Location", "/ok" if self.path == "/moved" else "/loop")
        else:
            self.send_response({"/ok": 200, "/down": 503, "/broken": 500}.get(self.path, 404))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def app() -> Iterator[str]:
    """The base URL of a local app (its port chosen by its own bind)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), App)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent() -> Iterator[str]:
    """The base URL of a port that is bound but never listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_smoke_fetch_returns_the_status_the_app_answers(app: str, tmp_path: Path) -> None:
    """Every status comes back as a number (a 5xx is not an exception); redirects are followed."""
    fetch = providers.fetch(Config(tmp_path, "test", hosting=HostingConfig(provider="local")))
    assert fetch(f"{app}/ok") == 200
    assert fetch(f"{app}/down") == 503
    assert fetch(f"{app}/nowhere") == 404
    assert fetch(f"{app}/moved") == 200


def test_the_smoke_fetch_raises_oserror_when_nothing_answers(silent: str, tmp_path: Path) -> None:
    """No answer is an ``OSError`` (the smoke step's "no answer"), as in the fake world."""
    fetch = providers.fetch(Config(tmp_path, "test", hosting=HostingConfig(provider="local")))
    with pytest.raises(OSError, match="refused"):
        fetch(f"{silent}/ok")


def _hosting(tmp_path: Path, base: str, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    port = int(base.rsplit(":", 1)[1])
    hosting = LocalHosting(
        project_root=tmp_path,
        state_dir=tmp_path / ".spectral",
        web_command="{python} -m app --port {port}",
        worker_app="app:handlers",
        health_path="/ok",
        ports={Color.BLUE: port, Color.GREEN: port},
        database_url="postgresql://localhost/app",
        **options,
    )
    running = Deployment(Color.BLUE, 1, "c" * 40, "v1", "running")
    monkeypatch.setattr(hosting, "current", lambda color: running)
    return hosting


@pytest.mark.parametrize(
    ("path", "ok", "detail"),
    [("/ok", True, "HTTP 200"), ("/broken", False, "HTTP 500"), ("/moved", True, "HTTP 200")],
)
def test_local_health_reads_the_apps_answer(
    app: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, ok: bool, detail: str
) -> None:
    """Healthy is a 200 (after redirects); any other status is unhealthy, named."""
    hosting = _hosting(tmp_path, app, monkeypatch)
    hosting.health_path = path
    health = hosting.health(Color.BLUE)
    assert (health.ok, health.detail, health.url) == (ok, detail, f"{app}{path}")


def test_local_health_of_a_slot_that_does_not_answer(
    silent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused connection is unhealthy with "no answer" and the reason."""
    health = _hosting(tmp_path, silent, monkeypatch).health(Color.BLUE)
    assert not health.ok
    assert health.detail.startswith("no answer: ")
    assert "refused" in health.detail


def _answering(status: int, seen: list[str]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(status)

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_the_smoke_fetch_goes_through_the_client_it_is_given() -> None:
    """A test (or a caller) hands in its own httpx client: no network, the status read back."""
    seen: list[str] = []
    fetch = SmokeFetch(_answering(204, seen))
    assert fetch("http://green.internal/smoke") == 204
    assert seen == ["http://green.internal/smoke"]


def test_the_smoke_fetch_reports_a_transport_failure_as_no_answer() -> None:
    """A connection the client cannot make is an ``OSError`` naming why."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(OSError, match="connection refused"):
        SmokeFetch(httpx.Client(transport=httpx.MockTransport(refuse)))("http://green.internal/")


def test_local_health_goes_through_the_client_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local hosting's health check uses the injected client, on the slot's own port."""
    seen: list[str] = []
    hosting = _hosting(
        tmp_path, "http://127.0.0.1:9", monkeypatch, health_client=_answering(503, seen)
    )
    health = hosting.health(Color.BLUE)
    assert (health.ok, health.detail) == (False, "HTTP 503")
    assert seen == ["http://127.0.0.1:9/ok"]


class KeepAliveApp(App):
    """The same app over HTTP/1.1: it keeps a connection open for the next request."""

    protocol_version = "HTTP/1.1"


def _listener_goes_away(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Ask an app once, then close its listening socket (its open connections live on, as an
    old process's do while a slot is replaced) and ask again: the answers of both probes."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveApp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    fetch = providers.fetch(Config(tmp_path, "test", hosting=HostingConfig(provider="local")))
    hosting = _hosting(tmp_path, base, monkeypatch)
    try:
        first = (fetch(f"{base}/ok"), hosting.health(Color.BLUE).ok)
        server.shutdown()
        server.server_close()
        try:
            second_fetch: object = fetch(f"{base}/ok")
        except OSError as exc:
            second_fetch = exc
        return first, second_fetch, hosting.health(Color.BLUE)
    finally:
        server.shutdown()


def test_each_probe_asks_whoever_listens_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kept-alive connection to a slot's old process must not answer for the slot: the smoke
    fetch and the health check each open a new connection (seen once as a Class 3 redeploy's
    health check passing on the old process, then its smoke test refused)."""
    first, second_fetch, second_health = _listener_goes_away(tmp_path, monkeypatch)
    assert first == (200, True)
    assert isinstance(second_fetch, OSError) and "refused" in str(second_fetch)
    assert not second_health.ok and "refused" in second_health.detail


def test_an_endless_redirect_is_no_answer_not_a_crash(
    app: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx's errors outside its transport branch (too many redirects) are still "no answer":
    the smoke step's ``OSError`` and an unhealthy slot, never an exception past the step."""
    fetch = providers.fetch(Config(tmp_path, "test", hosting=HostingConfig(provider="local")))
    with pytest.raises(OSError, match="redirect"):
        fetch(f"{app}/loop")
    hosting = _hosting(tmp_path, app, monkeypatch)
    hosting.health_path = "/loop"
    health = hosting.health(Color.BLUE)
    assert not health.ok and "redirect" in health.detail.lower()
