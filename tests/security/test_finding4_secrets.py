"""Finding 4: no secret in any output, log line or traceback, whatever form it travels in."""

from __future__ import annotations

import dataclasses
import io
import logging
import threading
import time
from pathlib import Path

import pytest

from spectral_deploy import Event, Handlers
from spectral_deploy.cli import console
from spectral_deploy.config import OutboxConfig
from spectral_deploy.errors import DatabaseUnreachable, ProviderError
from spectral_deploy.outbox.memstore import MemoryStore
from spectral_deploy.outbox.worker import Worker, WorkerSettings
from spectral_deploy.redaction import redact, register_environment, register_secret
from tests.security.conftest import cli

PASSWORD = "Hunter2Secret"

# each DATABASE_URL form, and the text of its password that must never be printed
URL_FORMS = {
    "sqlalchemy scheme (unparseable by libpq)": (
        f"postgresql+psycopg://alice:{PASSWORD}@127.0.0.1:1/app",
        [PASSWORD],
    ),
    "bad percent escape": (f"postgresql://alice:{PASSWORD}%ZZ@127.0.0.1:1/app", [PASSWORD]),
    "valid URL, server down": (f"postgresql://alice:{PASSWORD}@127.0.0.1:1/app", [PASSWORD]),
    "percent-encoded password": (
        "postgresql://alice:Hunter%40Secret%2F42@127.0.0.1:1/app",
        ["Hunter%40Secret%2F42", "Hunter@Secret/42"],
    ),
    "an @ left unencoded": (f"postgresql://alice:{PASSWORD}@x@127.0.0.1:1/app", [PASSWORD]),
    "keyword string with spaces": (
        f"host=127.0.0.1 port=1 dbname=app password = {PASSWORD}",
        [PASSWORD],
    ),
}


@pytest.mark.parametrize("form", sorted(URL_FORMS))
def test_database_url_password_never_printed_even_with_vv(tmp_path: Path, form: str) -> None:
    """`-vv` (debug logs, the traceback with its chained psycopg error) never shows the password."""
    url, secrets = URL_FORMS[form]
    for command in (("-vv", "ledger", "show"), ("-vv", "db", "init"), ("db", "url")):
        result = cli(tmp_path, *command, env={"DATABASE_URL": url})
        output = result.stdout + result.stderr
        assert result.returncode != 0 or command[-1] == "url", output
        for secret in secrets:
            assert secret not in output, f"{form}: {command}: {output}"


def test_chained_vendor_exception_tokens_redacted_raw_and_percent_encoded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `-v` traceback of a vendor error chained to an SDK error shows no token in any form."""
    token = "ghp_Tok/en+With=Specials42"
    register_environment({"GITHUB_TOKEN": token})
    encoded = "ghp_Tok%2Fen%2BWith%3DSpecials42"
    try:
        try:
            raise ValueError(f"GET https://api.github.com/x?access_token={encoded} failed")
        except ValueError as inner:
            try:
                raise RuntimeError(f"Authorization: token {token} refused") from inner
            except RuntimeError as middle:
                raise ProviderError(
                    f"call failed with {token}", provider="github", operation="tag"
                ) from middle
    except ProviderError as exc:
        console.print_traceback(exc)
    err = capsys.readouterr().err
    assert "ValueError" in err and "RuntimeError" in err  # the whole chain is there
    assert token not in err and encoded not in err
    assert "Tok/en" not in err and "Tok%2Fen" not in err


def test_log_records_and_their_exceptions_are_redacted() -> None:
    """A -vv log line and the exception logged with it never carry a URL password or a token."""
    register_secret("sk_live_0123456789abcdef")
    stream = io.StringIO()
    console.configure_logging(2)
    logger = logging.getLogger("spectral_deploy.test.security")
    handler = logging.getLogger("spectral_deploy").handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        raise DatabaseUnreachable("postgresql://bob:PlainPassw0rd@db/app refused")
    except DatabaseUnreachable:
        logger.debug(
            "action=x url=%s token=%s",
            "postgresql+psycopg://bob:PlainPassw0rd@db/app",
            "sk_live_0123456789abcdef",
            exc_info=True,
        )
    text = stream.getvalue()
    assert "action=x" in text and "Traceback" in text
    assert "PlainPassw0rd" not in text and "sk_live_0123456789abcdef" not in text


def test_redact_covers_every_secret_shape() -> None:
    """The one redaction function removes each shape of secret and leaves other text alone."""
    samples = {
        "postgresql+psycopg://u:pw1234@h/db": "pw1234",
        "postgresql://u:p%ZZ99@h/db": "p%ZZ99",
        'invalid percent-encoded token: "abc%ZZ"': "abc%ZZ",
        "host=h password = 'two words'": "two words",
        "host=h sslpassword=keypass99": "keypass99",
        "postgresql://u@h/db?password=qpass99": "qpass99",
        "Authorization: Bearer abc.def.ghi": "abc.def.ghi",
    }
    for text, secret in samples.items():
        assert secret not in redact(text), text
    assert redact("postgresql://u@h:5432/db ok") == "postgresql://u@h:5432/db ok"


def test_worker_stores_handler_errors_redacted() -> None:
    """A handler failing with a secret (raw, and in a URL): the row's stored last_error, after a
    retry and when dead-lettered, and the registry's error of a worker that cannot load its
    handlers, hold the traceback without the secret."""
    secret = "app-db-Passw0rd-" + "x" * 20
    register_secret(secret)
    store = MemoryStore()
    handlers = Handlers()

    @handlers.on("t")
    def fail(event: Event) -> None:
        raise RuntimeError(f"postgresql://app:{secret}@db/x refused {secret}")

    row = store.emit(5, "t", {})
    settings = dataclasses.replace(
        WorkerSettings.from_config(OutboxConfig(), generation=5),
        poll_seconds=0.01,
        heartbeat_seconds=0.05,
        backoff_base_seconds=0.001,
        backoff_max_seconds=0.01,
        max_attempts=2,
    )
    worker = Worker(handlers, settings, lambda: store, app="test")
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not [r for r in store.snapshot() if r.id == row and r.state == "dead"]:
            assert time.monotonic() < deadline, "never dead-lettered"
            time.sleep(0.01)
    finally:
        worker.request_stop()
        thread.join(timeout=10)
    [dead] = [r for r in store.snapshot() if r.id == row]
    assert dead.last_error and "RuntimeError" in dead.last_error and "Traceback" in dead.last_error
    assert secret not in dead.last_error

    def broken() -> Handlers:
        raise RuntimeError(f"cannot load: token {secret}")

    failing = Worker(broken, settings, lambda: store, app="broken")
    with pytest.raises(RuntimeError):
        failing.run()
    errors = [w.last_error for w in store.workers.values() if w.info.app == "broken"]
    assert errors and errors[0] and "cannot load" in errors[0]
    assert secret not in errors[0]
