"""The dashboard server on a loopback port, fed hand-made snapshots (no database)."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from spectral_deploy.errors import DatabaseUnreachable, UsageError
from spectral_deploy.web.model import BackupState, BackupView, Snapshot
from spectral_deploy.web.server import DashboardServer, Monitor, make_server, parse_listen
from tests.unit.statuskit import backlog, snapshot


@dataclass
class Feed:
    """What the monitor reads next: a snapshot, or an error."""

    snapshot: Snapshot
    error: Exception | None = None
    backup_reads: int = 0

    def read(self, backup: BackupView | None) -> Snapshot:
        if self.error is not None:
            raise self.error
        return self.snapshot

    def read_backup(self) -> BackupView:
        self.backup_reads += 1
        return BackupView(BackupState.NONE, "file:///b")


@pytest.fixture
def served() -> Iterator[tuple[DashboardServer, Feed]]:
    feed = Feed(snapshot(generations=(backlog(1, workers=2, active=True), backlog(2, pending=9))))
    monitor = Monitor(feed.read, feed.read_backup, interval=60)
    monitor.sample()
    server = make_server("127.0.0.1", 0, monitor, project="shop <prod>")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server, feed
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def get(
    server: DashboardServer, path: str, host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    headers = {"Host": host} if host else {}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.headers), body


def test_the_page_loads_nothing_from_elsewhere(served: tuple[DashboardServer, Feed]) -> None:
    """The page is self-contained: no src/href to another origin, a CSP that only allows its
    own inline script and style (by hash) and requests to itself, the project name escaped."""
    server, _ = served
    status, headers, body = get(server, "/")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert policy.count("'sha256-") == 4  # one script and one style, each in two directives
    assert "shop &lt;prod&gt;" in page


def test_api_status_and_metrics_serve_the_latest_snapshot(
    served: tuple[DashboardServer, Feed],
) -> None:
    """/api/status is the snapshot's JSON; /metrics is parseable Prometheus text with the
    backlog per generation; /api/backlog holds the sample taken."""
    server, feed = served
    status, _, body = get(server, "/api/status")
    assert status == 200
    assert json.loads(body) == json.loads(json.dumps(feed.snapshot.as_json(), default=str))
    status, headers, body = get(server, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    backlog_rows = {
        s.labels["generation"]: s.value for s in families["spectral_outbox_backlog_rows"].samples
    }
    assert backlog_rows == {"1": 0, "2": 9}
    _, _, body = get(server, "/api/backlog")
    (sample,) = json.loads(body)["samples"]
    assert (sample["backlog"], sample["stranded"]) == ({"1": 0, "2": 9}, [2])
    assert feed.backup_reads == 1


def test_a_failed_read_is_a_503_with_the_reason_and_metrics_say_down(
    served: tuple[DashboardServer, Feed],
) -> None:
    """When the database stops answering, the API says why (503) and /metrics reports every
    source down instead of stale figures."""
    server, feed = served
    feed.error = DatabaseUnreachable("cannot reach PostgreSQL at db:5432", hint="check it")
    server.monitor.sample()
    status, _, body = get(server, "/api/status")
    assert status == 503
    assert json.loads(body) == {"error": "cannot reach PostgreSQL at db:5432", "hint": "check it"}
    _, _, metrics = get(server, "/metrics")
    assert "spectral_outbox_backlog_rows" not in metrics.decode()
    assert 'spectral_source_up{source="database"} 0' in metrics.decode()


def test_a_bug_in_a_read_is_reported_and_sampling_goes_on(
    served: tuple[DashboardServer, Feed],
) -> None:
    """An unexpected exception while reading is a 503 naming it, and the next good read
    serves again (the sampler thread survives it)."""
    server, feed = served
    feed.error = KeyError("status.json")
    server.monitor.sample()
    status, _, body = get(server, "/api/status")
    assert status == 503
    assert json.loads(body)["error"] == "internal error: KeyError: 'status.json'"
    feed.error = None
    server.monitor.sample()
    assert get(server, "/api/status")[0] == 200


def test_foreign_hosts_and_unknown_paths_are_refused(
    served: tuple[DashboardServer, Feed],
) -> None:
    """A Host header that is not the listen address (DNS rebinding) gets 421; an unknown
    path 404."""
    server, _ = served
    port = server.server_address[1]
    assert get(server, "/api/status", host=f"evil.example:{port}")[0] == 421
    assert get(server, "/api/status", host=f"localhost:{port}")[0] == 200
    assert get(server, "/etc/passwd")[0] == 404


def test_listen_addresses_stay_on_loopback_unless_allowed() -> None:
    """Loopback addresses and a bare port are accepted; anything else needs --allow-remote;
    a malformed address is a usage error."""
    assert parse_listen("127.0.0.1:8180", allow_remote=False) == ("127.0.0.1", 8180)
    assert parse_listen("[::1]:9000", allow_remote=False) == ("::1", 9000)
    assert parse_listen("localhost:1", allow_remote=False) == ("localhost", 1)
    assert parse_listen("8181", allow_remote=False) == ("127.0.0.1", 8181)
    for remote in ("0.0.0.0:8180", "10.0.0.5:8180", "[::]:8180", "dash.internal:8180"):
        with pytest.raises(UsageError, match="no authentication"):
            parse_listen(remote, allow_remote=False)
    assert parse_listen("0.0.0.0:8180", allow_remote=True) == ("0.0.0.0", 8180)
    with pytest.raises(UsageError, match="not HOST:PORT"):
        parse_listen("127.0.0.1:http", allow_remote=False)
