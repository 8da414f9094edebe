"""`db status --format json` and `db server-version --format json`: the exact keys, their
order and values, for an external database that answers, one that does not, and an embedded
server never made (the library builds the report; the command only prints it)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from spectral_deploy.cli.main import main
from spectral_deploy.db import Database
from spectral_deploy.db.connect import describe_target
from spectral_deploy.db.schema import required_version

pytestmark = pytest.mark.db


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``spectral-deploy ARGS`` in-process: its exit code and stdout."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    return int(ended.value.code or 0), capsys.readouterr().out


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory (no spectral.toml) with no DATABASE_URL."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "SPECTRAL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def external(database: Database, project: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The project's DATABASE_URL names the test database."""
    monkeypatch.setenv("DATABASE_URL", database.url)
    return database


def test_an_external_database_that_answers(
    external: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    """Six keys in this order; the installed schema version is read from the database."""
    code, out = cli(capsys, "db", "status", "--format", "json")
    assert code == 0
    assert list(json.loads(out).items()) == [
        ("embedded", False),
        ("schema", "spectral"),
        ("target", describe_target(external.url)),
        ("reachable", True),
        ("schema_version", required_version()),
        ("required_schema_version", required_version()),
    ]


def test_an_external_database_that_does_not_answer(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same keys, unreachable, and exit 3 (the reason goes to stderr, not the JSON)."""
    url = f"postgresql://nobody@/spectral?host={project / 'no-socket-here'}"
    monkeypatch.setenv("DATABASE_URL", url)
    code, out = cli(capsys, "db", "status", "--format", "json")
    assert code == 3
    assert list(json.loads(out).items()) == [
        ("embedded", False),
        ("schema", "spectral"),
        ("target", describe_target(url)),
        ("reachable", False),
        ("schema_version", None),
        ("required_schema_version", required_version()),
    ]


def test_an_embedded_server_never_made(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The embedded server's observed files and processes first, then the database keys."""
    code, out = cli(capsys, "db", "status", "--format", "json")
    assert code == 3
    assert list(json.loads(out).items()) == [
        ("embedded", True),
        ("schema", "spectral"),
        ("data_dir", str(project / ".spectral" / "pg")),
        ("initialized", False),
        ("running", False),
        ("pid", None),
        ("server_version", None),
        ("passwords_required", None),
        ("target", None),
        ("reachable", False),
        ("schema_version", None),
        ("required_schema_version", required_version()),
    ]


def test_server_version_as_json(external: Database, capsys: pytest.CaptureFixture[str]) -> None:
    """major, version, version_num: what the server says of itself."""
    code, out = cli(capsys, "db", "server-version", "--format", "json")
    assert code == 0
    with psycopg.connect(external.url) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
        version = conn.execute("SHOW server_version").fetchone()
    assert row is not None and version is not None
    number = int(str(row[0]))
    assert list(json.loads(out).items()) == [
        ("major", number // 10000),
        ("version", str(version[0])),
        ("version_num", number),
    ]
