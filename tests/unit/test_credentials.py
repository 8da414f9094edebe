"""The embedded server's password files, without a server."""

from __future__ import annotations

import os
import secrets
import stat
import threading
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from spectral_deploy.db.credentials import Credentials, url_for_role
from spectral_deploy.db.embedded import socket_url
from spectral_deploy.errors import EmbeddedServerError
from spectral_deploy.redaction import redact, register_url_password


def test_a_password_is_made_once_and_kept_in_a_private_pgpass_file(tmp_path: Path) -> None:
    """First use makes a long random password in <dir>/credentials/<role>.pgpass (700/600, one
    libpq line for that role); later reads return the same one."""
    credentials = Credentials(tmp_path)
    assert credentials.password("spectral_app") is None
    assert not (tmp_path / "credentials").exists()  # reading creates nothing
    made = credentials.password("spectral_app", create=True)
    assert made is not None and len(made) >= 40
    assert credentials.password("spectral_app") == made
    assert credentials.password("spectral_app", create=True) == made
    assert credentials.password("spectral_owner", create=True) != made
    directory = os.lstat(tmp_path / "credentials")
    assert stat.S_ISDIR(directory.st_mode) and stat.S_IMODE(directory.st_mode) == 0o700
    path = credentials.passfile("spectral_app")
    info = os.lstat(path)
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid()
    assert path.read_text() == f"*:*:*:spectral_app:{made}\n"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "spectral_app.pgpass",
        "spectral_owner.pgpass",
    ]


def test_odd_role_names_stay_inside_the_directory(tmp_path: Path) -> None:
    """A role name with '/', '..' or ':' gives a file inside credentials/, escaped in the line."""
    credentials = Credentials(tmp_path)
    for role in ("../../evil", "..", "a:b\\c"):
        password = credentials.password(role, create=True)
        path = credentials.passfile(role)
        assert path.parent == tmp_path / "credentials" and path.is_file()
        assert credentials.password(role) == password
    assert "a\\:b\\\\c" in credentials.passfile("a:b\\c").read_text()
    assert not (tmp_path.parent / "evil.pgpass").exists()


def test_concurrent_first_use_agrees_on_one_password(tmp_path: Path) -> None:
    """Eight threads creating the same role's password at once all get the same one."""
    results: list[str | None] = []
    barrier = threading.Barrier(8)

    def make() -> None:
        barrier.wait()
        results.append(Credentials(tmp_path).password("postgres", create=True))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and results[0] is not None
    assert [p.name for p in (tmp_path / "credentials").iterdir()] == ["postgres.pgpass"]


def test_a_symlink_at_the_password_file_is_refused_and_not_followed(tmp_path: Path) -> None:
    """A link planted at a role's file (to a readable or a missing target): refused, never
    read, never written through."""
    credentials = Credentials(tmp_path)
    credentials.password("other", create=True)
    victim = tmp_path / "victim"
    victim.write_text("not a password\n")
    credentials.passfile("postgres").symlink_to(victim)
    with pytest.raises(EmbeddedServerError, match="symbolic link"):
        credentials.password("postgres", create=True)
    assert victim.read_text() == "not a password\n"
    assert not credentials.has("postgres")
    credentials.passfile("spectral_app").symlink_to(tmp_path / "stolen")
    with pytest.raises(EmbeddedServerError, match="symbolic link"):
        credentials.password("spectral_app", create=True)
    assert not (tmp_path / "stolen").exists()


def test_a_symlinked_or_open_credentials_directory_is_refused(tmp_path: Path) -> None:
    """credentials/ as a link (to a directory others can read), or a directory others may
    enter: refused, nothing written there."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    data_dir = tmp_path / "pg"
    data_dir.mkdir()
    (data_dir / "credentials").symlink_to(elsewhere)
    with pytest.raises(EmbeddedServerError, match="symbolic link"):
        Credentials(data_dir).password("postgres", create=True)
    assert list(elsewhere.iterdir()) == []
    (data_dir / "credentials").unlink()
    (data_dir / "credentials").mkdir(mode=0o755)
    (data_dir / "credentials").chmod(0o755)
    with pytest.raises(EmbeddedServerError, match="open to other users"):
        Credentials(data_dir).password("postgres", create=True)
    assert list((data_dir / "credentials").iterdir()) == []


def test_a_readable_file_or_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    """A password file others may read (libpq would ignore it too), or a FIFO: refused."""
    credentials = Credentials(tmp_path)
    credentials.password("postgres", create=True)
    credentials.passfile("postgres").chmod(0o644)
    with pytest.raises(EmbeddedServerError, match="other users may read it"):
        credentials.password("postgres")
    os.mkfifo(credentials.passfile("spectral_app"), 0o600)
    with pytest.raises(EmbeddedServerError, match="not a regular file"):
        credentials.password("spectral_app", create=True)


def test_url_for_role_swaps_user_and_password_file_only() -> None:
    """The app URL is the owner URL with the app role and the app role's own password file."""
    directory = Path("/srv/my project/pg/credentials")
    owner = socket_url(
        Path("/srv/my project/pg/run"),
        "spectral",
        "spectral_owner",
        passfile=directory / "spectral_owner.pgpass",
    )
    app = url_for_role(owner, "spectral_app")
    assert app.startswith("postgresql://spectral_app@/spectral?")
    params = conninfo_to_dict(app)
    assert params["user"] == "spectral_app"
    assert params["passfile"] == str(directory / "spectral_app.pgpass")
    assert params["host"] == "/srv/my project/pg/run" and params["port"] == "5432"
    assert "password" not in params
    keywords = url_for_role("host=/run dbname=x user=a passfile=/c/a.pgpass", "b")
    assert conninfo_to_dict(keywords)["passfile"] == "/c/b.pgpass"


def test_passwords_of_the_file_a_url_names_are_redacted(tmp_path: Path) -> None:
    """A URL with passfile= registers that file's passwords (as an app's worker gets it):
    printed text never shows them, though the URL itself carries none."""
    password = secrets.token_urlsafe(32)
    passfile = tmp_path / "my app" / "spectral_app.pgpass"
    passfile.parent.mkdir()
    passfile.write_text(f"*:*:*:spectral_app:{password}\n")
    passfile.chmod(0o600)
    assert redact(f"handler said {password}") == f"handler said {password}"  # not yet known
    url = socket_url(tmp_path, "db", "spectral_app", passfile=passfile)
    assert password not in url
    register_url_password(url)
    assert password not in redact(f"handler said {password}")
    other = secrets.token_urlsafe(32)
    passfile.write_text(f"*:*:*:spectral_app:{other}\n")
    register_url_password(f"host=/run user=spectral_app passfile='{passfile}'")
    assert other not in redact(f"again {other}")
