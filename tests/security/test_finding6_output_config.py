"""Finding 6 (minus lint input): data printed as itself, config secrets and timeouts refused."""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from spectral_deploy.cli import console
from spectral_deploy.config import load_config
from spectral_deploy.errors import ConfigError
from spectral_deploy.web import server as web
from tests.unit.statuskit import backlog, snapshot

HOSTILE = "evil [/] [bold red]x[/bold red] \x1b[2J\x1b]0;title\x07 \r\u202egnp.exe\x9b31m"


def _terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buffer = io.StringIO()
    fake = Console(file=buffer, force_terminal=True, width=200, highlight=False, soft_wrap=True)
    monkeypatch.setattr(console, "stdout", fake)
    monkeypatch.setattr(console, "stderr", fake)
    return buffer


@pytest.mark.parametrize("printer", ["table", "info", "success", "warn", "error"])
def test_markup_and_control_characters_from_data_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, printer: str
) -> None:
    """`[/]` never crashes a terminal table or line; escape sequences and bidi controls are gone."""
    buffer = _terminal(monkeypatch)
    if printer == "table":
        console.print_table(["actor", "topic"], [(HOSTILE, HOSTILE)], title=HOSTILE)
    else:
        getattr(console, printer)(f"actor {HOSTILE}")
    text = buffer.getvalue()
    assert "[/]" in text and "[bold red]x[/bold red]" in text  # printed as itself
    # rich's own styling codes are fine; the data's are not
    for control in ("\x1b[2J", "\x1b]0;", "\x07", "\r", "\u202e", "\x9b"):
        assert control not in text, repr(text)


def test_tab_separated_output_keeps_one_row_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Off a terminal a value with tabs or newlines cannot forge extra columns or rows."""
    console.print_table(["a", "b"], [("x\ty\nz", "\x1b[31mred")])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].split() == ["x", "y", "z", "[31mred"]


def _config(tmp_path: Path, text: str) -> None:
    (tmp_path / "spectral.toml").write_text(text)
    load_config(cwd=tmp_path, environ={})


@pytest.mark.parametrize(
    "url",
    [
        "host=db user=app password = hunter2",
        "host=db user=app password= 'two words'",
        "host=db user=app sslpassword=keypass",
        "postgresql://app@db/app?sslpassword=keypass",
        "postgresql+psycopg://app:hunter2@db/app",
        "postgresql://app:p%ZZ@db/app",
    ],
)
def test_config_refuses_every_password_form(tmp_path: Path, url: str) -> None:
    """A password (or a client-key passphrase) in the config file is refused, never echoed."""
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, f'[database]\nurl = "{url}"\n')
    assert "database.url" in caught.value.message
    assert "hunter2" not in caught.value.message and "keypass" not in caught.value.message


@pytest.mark.parametrize(
    "key", ["statement_timeout_seconds", "lock_timeout_seconds", "connect_timeout_seconds"]
)
def test_negative_timeouts_refused(tmp_path: Path, key: str) -> None:
    """A negative timeout (which PostgreSQL would read as "no timeout") is a config error."""
    with pytest.raises(ConfigError, match=key):
        _config(tmp_path, f"[database]\n{key} = -1\n")
    with pytest.raises(ConfigError, match=r"migrations\.statement_timeout_seconds"):
        _config(tmp_path, "[migrations]\nstatement_timeout_seconds = -5\n")


def test_dashboard_bounds_its_threads_and_drops_silent_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """400 idle connections: threads stay bounded, silent clients are cut, pages still load."""
    monkeypatch.setattr(web._Handler, "timeout", 1.0)
    state = snapshot(generations=(backlog(1, workers=1, active=True),))
    monitor = web.Monitor(lambda backup: state, lambda: None, interval=60)  # type: ignore[arg-type, return-value]
    monitor.sample()
    dashboard = web.make_server("127.0.0.1", 0, monitor, project="p")
    serving = threading.Thread(target=dashboard.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    before = threading.active_count()
    idle: list[socket.socket] = []
    try:
        for _ in range(400):
            idle.append(socket.create_connection(("127.0.0.1", dashboard.server_address[1])))
        time.sleep(0.5)
        assert threading.active_count() - before <= web.DashboardServer.MAX_THREADS + 2
        time.sleep(2.5)  # the silent ones were dropped after the timeout
        connection = http.client.HTTPConnection(
            "127.0.0.1", dashboard.server_address[1], timeout=10
        )
        connection.request("GET", "/api/status")
        assert connection.getresponse().status == 200
    finally:
        for sock in idle:
            sock.close()
        dashboard.shutdown()
        dashboard.server_close()
        serving.join(5)
