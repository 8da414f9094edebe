"""The embedded server's passwords: one libpq password file per role, private to us.

Every role of the embedded server (the superuser ``postgres``, the owner role, the app
role) logs in with a password (``scram-sha-256``; the server trusts nobody). Each
password is made by ``secrets`` the first time it is needed and kept in
``<data_dir>/credentials/<role>.pgpass``, a libpq password file holding that one role's
line, so

* a URL names the file (``passfile=``), never the password: ``db url``, the hosting
  provider's ``DATABASE_URL``, logs and tracebacks carry no secret, and every libpq
  client (psycopg, psql, pg_dump, SQLAlchemy) reads the file by itself;
* a URL whose user is edited (the app's URL turned into ``postgres``) finds no password
  for that user in the file it names, and is refused by the server.

The directory is ``0700`` and each file ``0600`` (libpq ignores a password file others
may read), both owned by the OS user that runs spectral-deploy: the server's own OS user
cannot read them. They live beside the cluster (the data directory) because they belong
to it: they move, are backed up and are deleted with it, and every command finds them
whatever its working directory. Nothing here follows a symbolic link: the directory is
made with ``mkdir`` and opened ``O_NOFOLLOW``, files are opened ``O_NOFOLLOW`` relative
to it, and a new file is written under a random name and hard-linked into place (which
fails, instead of writing through, when anything already sits at its name).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from spectral_deploy.errors import EmbeddedServerError
from spectral_deploy.redaction import register_secret

__all__ = ["CREDENTIALS_DIR", "Credentials", "url_for_role"]

CREDENTIALS_DIR = "credentials"
PASSFILE_SUFFIX = ".pgpass"
PASSWORD_BYTES = 32  # token_urlsafe: 43 characters, none of them ':' or '\'
MAX_PASSFILE_BYTES = 4096


class Credentials:
    """The password files of one embedded server (``data_dir/credentials``)."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / CREDENTIALS_DIR

    def __repr__(self) -> str:
        return f"Credentials({self.directory!s})"

    def passfile(self, role: str) -> Path:
        """Where ``role``'s password file is (whether or not it exists yet)."""
        return self.directory / _file_name(role)

    def has(self, role: str) -> bool:
        """Whether ``role`` has a password file (a regular file; a link does not count)."""
        with contextlib.suppress(OSError):
            return stat.S_ISREG(os.lstat(self.passfile(role)).st_mode)
        return False

    def password(self, role: str, *, create: bool = False) -> str | None:
        """``role``'s password: read from its file, or (with ``create``) made and stored
        first. None when there is no file and ``create`` is false."""
        with self._directory(create=create) as directory:
            if directory is None:
                return None
            name = _file_name(role)
            password = self._read(directory, name)
            if password is None and create:
                self._store(directory, name, role, secrets.token_urlsafe(PASSWORD_BYTES))
                password = self._read(directory, name)
                if password is None:
                    raise EmbeddedServerError(f"could not store a password in {self.directory}")
        if password is not None:
            register_secret(password)
        return password

    # -- internals ---------------------------------------------------------

    @contextlib.contextmanager
    def _directory(self, *, create: bool) -> Iterator[int | None]:
        """A descriptor of the credentials directory, checked (made first with ``create``)."""
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.directory, 0o700)  # noqa: PTH102 (never follows a link)
        try:
            descriptor = os.open(
                self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            )
        except FileNotFoundError:
            if create:
                raise EmbeddedServerError(f"cannot create {self.directory}") from None
            yield None
            return
        except OSError as exc:
            raise self._refused(self.directory, _why(self.directory, exc)) from exc
        try:
            info = os.fstat(descriptor)
            if info.st_uid != os.geteuid():
                raise self._refused(self.directory, f"it belongs to uid {info.st_uid}")
            if info.st_mode & 0o077:
                raise self._refused(
                    self.directory,
                    f"it is open to other users (mode {stat.S_IMODE(info.st_mode):o}, "
                    "expected 700)",
                )
            yield descriptor
        finally:
            os.close(descriptor)

    def _read(self, directory: int, name: str) -> str | None:
        path = self.directory / name
        try:
            # O_NONBLOCK: a FIFO planted there must not hang us (it is refused below)
            descriptor = os.open(
                name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=directory
            )
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._refused(path, _why(path, exc)) from exc
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise self._refused(path, "it is not a regular file")
            if info.st_uid != os.geteuid():
                raise self._refused(path, f"it belongs to uid {info.st_uid}")
            if info.st_mode & 0o077:
                raise self._refused(
                    path,
                    f"other users may read it (mode {stat.S_IMODE(info.st_mode):o}, expected 600)",
                )
            text = handle.read(MAX_PASSFILE_BYTES).decode("utf-8", errors="replace")
        password = _password_of(text)
        if not password:
            raise self._refused(path, "it holds no password line")
        return password

    def _store(self, directory: int, name: str, role: str, password: str) -> None:
        """Write the file under a random name, then hard-link it into place: the link fails
        when anything (a concurrent writer's file, a planted link) is there already."""
        temporary = f".{name}.{secrets.token_hex(8)}.tmp"
        descriptor = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=directory,
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(f"*:*:*:{_escape(role)}:{password}\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(
                    temporary,
                    name,
                    src_dir_fd=directory,
                    dst_dir_fd=directory,
                    follow_symlinks=False,
                )
        finally:
            os.unlink(temporary, dir_fd=directory)
        os.fsync(directory)

    def _refused(self, path: Path, why: str) -> EmbeddedServerError:
        return EmbeddedServerError(
            f"refusing to use {path} for the embedded server's passwords: {why}",
            hint=f"remove {path} if you did not put it there; spectral-deploy keeps the "
            f"passwords in {self.directory} (mode 700, files 600, owned by uid {os.geteuid()})",
        )


def url_for_role(url: str, role: str) -> str:
    """The same embedded server's URL for another role: the user and its password file
    swapped, no password (an embedded URL never carries one). A URL stays a URL."""
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        query = [
            (key, str(_sibling(value, role)) if key == "passfile" else value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if key != "password"
        ]
        netloc = quote(role, safe="") + "@" + parts.netloc.rpartition("@")[2]
        return urlunsplit(
            (parts.scheme, netloc, parts.path, urlencode(query, safe="/", quote_via=quote), "")
        )
    params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    params.pop("password", None)
    params["user"] = role
    if "passfile" in params:
        params["passfile"] = str(_sibling(params["passfile"], role))
    return make_conninfo(**params)


def _sibling(passfile: str, role: str) -> Path:
    return Path(passfile).parent / _file_name(role)


def _file_name(role: str) -> str:
    # percent-encoding leaves no '/' or NUL in the name; the suffix keeps '.' and '..' out
    return quote(role, safe="") + PASSFILE_SUFFIX


def _escape(field: str) -> str:
    return field.replace("\\", "\\\\").replace(":", "\\:")


def _password_of(text: str) -> str | None:
    """The password field of the first line of a libpq password file."""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields: list[str] = []
        current: list[str] = []
        escaped = False
        for char in line:
            if escaped:
                current.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == ":" and len(fields) < 4:
                fields.append("".join(current))
                current = []
            else:
                current.append(char)
        fields.append("".join(current))
        return fields[4] if len(fields) == 5 else None
    return None


def _why(path: Path, exc: OSError) -> str:
    """Why opening ``path`` without following links failed, in words."""
    with contextlib.suppress(OSError):
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            return "it is a symbolic link"
        if exc.errno == errno.ENOTDIR and not stat.S_ISDIR(mode):
            return "it is not a directory"
    return exc.strerror or str(exc)
