"""What ``db status`` and ``db server-version`` report: where the database is, whether it
answers, its schema version; the server's own version.

Everything here is observed (the embedded server's files and processes, a connection, the
schema's own migration table); nothing is started or created to find out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from spectral_deploy.config import Config
from spectral_deploy.db.access import statements
from spectral_deploy.db.connect import connect, describe_target
from spectral_deploy.db.embedded import EmbeddedServer
from spectral_deploy.db.schema import installed_migrations, required_version
from spectral_deploy.errors import DatabaseUnreachable

__all__ = [
    "DatabaseReport",
    "EmbeddedState",
    "ServerVersion",
    "database_report",
    "server_version",
]

REPORT = statements("spectral_deploy.db", "report.sql")


@dataclass(frozen=True)
class EmbeddedState:
    """The embedded server as its files and processes say."""

    data_dir: str
    initialized: bool
    running: bool
    pid: int | None
    server_version: str | None
    # observed: pg_hba.conf, and whether the running server lets a client in unasked
    passwords_required: bool | None


@dataclass(frozen=True)
class DatabaseReport:
    """Where the database is and whether it answers; ``embedded_server`` is None for an
    external database. ``problem`` (why it does not answer) stays out of the JSON."""

    schema: str
    target: str | None
    reachable: bool
    schema_version: int | None
    required_schema_version: int
    embedded_server: EmbeddedState | None = None
    problem: str | None = field(default=None, compare=False)

    @property
    def embedded(self) -> bool:
        """Whether this is the embedded server (no URL configured)."""
        return self.embedded_server is not None

    def as_json(self) -> dict[str, Any]:
        """``db status --format json``: embedded, schema, the embedded server's fields (when
        embedded), target, reachable, schema_version, required_schema_version."""
        return {
            "embedded": self.embedded,
            "schema": self.schema,
            **(asdict(self.embedded_server) if self.embedded_server else {}),
            "target": self.target,
            "reachable": self.reachable,
            "schema_version": self.schema_version,
            "required_schema_version": self.required_schema_version,
        }


@dataclass(frozen=True)
class ServerVersion:
    """The database server's version (``db server-version``)."""

    version: str
    version_num: int

    @property
    def major(self) -> int:
        """The major version pg_dump and pg_restore must match."""
        return self.version_num // 10000

    def as_json(self) -> dict[str, Any]:
        """``db server-version --format json``."""
        return {"major": self.major, "version": self.version, "version_num": self.version_num}


def database_report(config: Config) -> DatabaseReport:
    """Observe the configured database (the embedded server when no URL is configured)."""
    embedded: EmbeddedState | None = None
    url: str | None = config.database.url
    if not config.database.url:
        embedded, url = _embedded(config)
    reachable, schema_version, problem = False, None, None
    if url is None:
        problem = "the embedded server is not running"
    else:
        try:
            if not config.database.url and not _embedded_database_exists(config):
                reachable = True  # the server answers; our database is created on use
            else:
                with connect(url, settings=config.database) as conn:
                    applied = installed_migrations(conn, config.database.schema)
                    reachable = True
                    schema_version = max((m.version for m in applied), default=None)
        except DatabaseUnreachable as exc:
            problem = exc.message
    return DatabaseReport(
        schema=config.database.schema,
        target=describe_target(url) if url else None,
        reachable=reachable,
        schema_version=schema_version,
        required_schema_version=required_version(),
        embedded_server=embedded,
        problem=problem,
    )


def server_version(url: str, config: Config) -> ServerVersion:
    """Ask the server at ``url`` its version (reads nothing else)."""
    with connect(url, settings=config.database, autocommit=True) as conn:
        found = REPORT(config.database.schema).one(conn, "server_version", into=ServerVersion)
    assert found is not None
    return found


def _embedded(config: Config) -> tuple[EmbeddedState, str | None]:
    """What the embedded server's files and processes say, and the owner role's URL (None
    when the server is not running)."""
    server = EmbeddedServer(config.embedded_data_dir)
    status = server.status()
    state = EmbeddedState(
        data_dir=str(status.data_dir),
        initialized=status.initialized,
        running=status.running,
        pid=status.pid,
        server_version=status.version,
        passwords_required=(not server.trusts_connections(status) if status.initialized else None),
    )
    return state, status.url(config.embedded.database, user=config.database.owner_role)


def _embedded_database_exists(config: Config) -> bool:
    # as the owner role (which may connect to the maintenance database), not the superuser
    maintenance = (
        EmbeddedServer(config.embedded_data_dir)
        .status()
        .url("postgres", user=config.database.owner_role)
    )
    if maintenance is None:
        return False
    with connect(maintenance, settings=config.database) as conn:
        return bool(
            REPORT(config.database.schema).value(
                conn, "database_exists", {"name": config.embedded.database}
            )
        )
