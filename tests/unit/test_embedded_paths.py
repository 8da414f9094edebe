"""The embedded server's filesystem logic, without starting a server."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from spectral_deploy.db import embedded
from spectral_deploy.db.embedded import EmbeddedServer, socket_url


def test_socket_lives_in_the_data_dir_when_the_path_is_short(tmp_path: Path) -> None:
    """The socket goes in data_dir/run when AF_UNIX allows it; the directory is private."""
    server = EmbeddedServer(tmp_path / "pg")
    (tmp_path / "pg").mkdir()
    run = server._socket_dir(None)
    assert run == (tmp_path / "pg").resolve() / "run"
    assert run.stat().st_mode & 0o777 == 0o700


def test_long_paths_fall_back_to_a_fresh_unpredictable_socket_dir() -> None:
    """A data dir too deep for AF_UNIX gets a new mkdtemp directory each start, never a name
    derived from its path (which another user could plant first)."""
    deep = Path("/tmp") / ("d" * 60) / ("e" * 60) / "pg"
    first = EmbeddedServer(deep)._socket_dir(None)
    second = EmbeddedServer(deep)._socket_dir(None)
    try:
        assert len(os.fsencode(first / ".s.PGSQL.5432")) <= embedded.MAX_SOCKET_PATH_BYTES
        assert first != second
        assert first.stat().st_mode & 0o777 == 0o700 and first.stat().st_uid == os.geteuid()
    finally:
        first.rmdir()
        second.rmdir()


def test_status_of_an_empty_directory(tmp_path: Path) -> None:
    """Nothing initialised, nothing running, no URL."""
    status = EmbeddedServer(tmp_path / "pg").status()
    assert not status.initialized
    assert not status.running
    assert status.url("spectral") is None


def test_socket_url_quotes_the_directory() -> None:
    """Spaces in the socket directory are percent-encoded for libpq."""
    url = socket_url(Path("/srv/my project/run"), "spectral")
    assert url == "postgresql://postgres@/spectral?host=/srv/my%20project/run&port=5432"


def test_unsearchable_parent_is_found() -> None:
    """A 0700 directory owned by someone else blocks the way, and is named."""
    if os.geteuid() != 0:
        pytest.skip("needs root to own a directory as another user")
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="spectral-path-"))
    try:
        base.chmod(0o755)
        closed = base / "closed"
        inner = closed / "pg"
        inner.mkdir(parents=True)
        closed.chmod(0o700)
        assert embedded._first_unsearchable_parent(inner, nobody) == closed
        closed.chmod(0o755)
        assert embedded._first_unsearchable_parent(inner, nobody) is None
    finally:
        shutil.rmtree(base)


@pytest.mark.parametrize(
    ("rules", "trusting"),
    [
        (embedded.HBA_RULES, False),
        ("local all all scram-sha-256\nhost all all 0.0.0.0/0 reject  # no TCP\n", False),
        ("local all all trust\n", True),
        ("local all all scram-sha-256\nhost all all 127.0.0.1/32 trust\n", True),
        ("local all all peer\n", True),
        ("host all all 10.0.0.0 255.0.0.0 md5\n", True),
        ("local all all scram-sha-256\ninclude more.conf\n", True),
    ],
)
def test_any_pg_hba_rule_but_a_password_or_reject_counts_as_trusting(
    tmp_path: Path, rules: str, trusting: bool
) -> None:
    """A stopped cluster is judged by pg_hba.conf: one rule with another method (or a line
    that is not a rule we can read) makes it a server that must be switched first."""
    server = EmbeddedServer(tmp_path / "pg")
    server.pgdata.mkdir(parents=True)
    (server.pgdata / "PG_VERSION").write_text("18\n")
    (server.pgdata / "pg_hba.conf").write_text(rules)
    assert server.trusts_connections() is trusting
