"""Finding 1: root never follows a link an unprivileged user planted, and projects are apart."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from spectral_deploy.db.embedded import MARKER_FILE, EmbeddedServer, service_user_name
from spectral_deploy.errors import EmbeddedServerError
from tests.security.conftest import needs_root

pytestmark = needs_root


@pytest.fixture
def victim() -> Iterator[Path]:
    """A root-owned directory (say /etc/cron.d) an attacker wants handed to the server user."""
    path = Path(tempfile.mkdtemp(prefix="spectral-victim-"))
    path.chmod(0o755)
    (path / "keep").write_text("root's\n")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _fingerprint(path: Path) -> tuple[int, int, int]:
    info = os.lstat(path)
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def test_planted_symlink_at_the_old_predictable_socket_dir_is_never_followed(
    workdir: Path, victim: Path
) -> None:
    """A data dir too deep for a socket: the /tmp name an attacker can compute is not used."""
    deep = workdir / ("d" * 60) / ("e" * 60) / "pg"
    deep.parent.mkdir(parents=True)
    for part in (workdir / ("d" * 60), deep.parent):
        part.chmod(0o755)
    predictable = Path(tempfile.gettempdir()) / (
        "spectral-pg-" + hashlib.sha256(os.fsencode(deep)).hexdigest()[:12]
    )
    predictable.unlink(missing_ok=True)
    predictable.symlink_to(victim)
    before = _fingerprint(victim)
    server = EmbeddedServer(deep)
    try:
        status = server.ensure_started()
        assert status.running and status.socket_dir is not None
        assert status.socket_dir != predictable
        assert _fingerprint(victim) == before, "root chowned or chmodded the link's target"
        info = os.lstat(status.socket_dir)
        assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
        assert info.st_uid == pwd.getpwnam(service_user_name(deep.resolve())).pw_uid
    finally:
        server.stop()
        predictable.unlink(missing_ok=True)
    assert status.socket_dir is not None and not status.socket_dir.exists()


@pytest.mark.parametrize("name", ["run", "log", "data"])
def test_links_inside_the_data_dir_are_refused(workdir: Path, victim: Path, name: str) -> None:
    """A link where the server's directories go: refused (exit 3), its target untouched."""
    data_dir = workdir / "pg"
    data_dir.mkdir()
    (data_dir / MARKER_FILE).touch()  # a data directory of ours, from an earlier start
    (data_dir / name).symlink_to(victim)
    before = _fingerprint(victim)
    with pytest.raises(EmbeddedServerError, match="refusing to use"):
        EmbeddedServer(data_dir).ensure_started()
    assert _fingerprint(victim) == before
    assert sorted(p.name for p in victim.iterdir()) == ["keep"]


def test_a_data_dir_others_can_write_or_that_holds_other_files_is_refused(workdir: Path) -> None:
    """Group/other-writable, or holding files that are not a Spectral server: refused."""
    shared = workdir / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(EmbeddedServerError, match="writable by other users"):
        EmbeddedServer(shared).ensure_started()
    foreign = workdir / "etc"
    foreign.mkdir()
    (foreign / "passwd").write_text("x\n")
    with pytest.raises(EmbeddedServerError, match="no embedded PostgreSQL server"):
        EmbeddedServer(foreign).ensure_started()
    assert sorted(p.name for p in foreign.iterdir()) == ["passwd"]


def test_each_project_runs_as_its_own_user_and_cannot_read_the_other(workdir: Path) -> None:
    """Two projects' servers run as two users; one (even as superuser) cannot read the other."""
    first, second = EmbeddedServer(workdir / "a" / "pg"), EmbeddedServer(workdir / "b" / "pg")
    for server in (first, second):
        server.data_dir.parent.mkdir(exist_ok=True)
        server.data_dir.parent.chmod(0o755)
    try:
        one, two = first.ensure_started(), second.ensure_started()
        owners = {(one.data_dir / "data").stat().st_uid, (two.data_dir / "data").stat().st_uid}
        assert len(owners) == 2 and 0 not in owners
        url = one.url("postgres")
        assert url is not None
        with psycopg.connect(url) as conn:
            conn.execute("SELECT pg_read_file(%s)", (str(one.data_dir / "data" / "PG_VERSION"),))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(
                    "SELECT pg_read_file(%s)", (str(two.data_dir / "data" / "PG_VERSION"),)
                )
    finally:
        first.stop()
        second.stop()
