"""What ``db status`` reports: where the database is, whether it answers, its schema version.

Everything here is observed (the embedded server's files and processes, a connection, the
schema's own migration table); nothing is started or created to find out.
"""

from __future__ import annotations

from typing import Any

from spectral_deploy.config import Config
from spectral_deploy.db.connect import connect, describe_target
from spectral_deploy.db.embedded import EmbeddedServer
from spectral_deploy.db.schema import installed_migrations, required_version
from spectral_deploy.errors import DatabaseUnreachable

__all__ = ["DatabaseReport", "database_report"]


class DatabaseReport(dict[str, Any]):
    """The report as ``db status --format json`` prints it, with ``problem`` (why the database
    does not answer, None when it does) kept out of the JSON."""

    problem: str | None = None

    @property
    def reachable(self) -> bool:
        """Whether the database answered."""
        return bool(self["reachable"])


def database_report(config: Config) -> DatabaseReport:
    """Observe the configured database (the embedded server when no URL is configured)."""
    report = DatabaseReport(embedded=not config.database.url, schema=config.database.schema)
    url: str | None = config.database.url
    if not config.database.url:
        url = _embedded(config, report)
    report.update(
        target=describe_target(url) if url else None,
        reachable=False,
        schema_version=None,
        required_schema_version=required_version(),
    )
    if url is None:
        report.problem = "the embedded server is not running"
        return report
    try:
        if not config.database.url and not _embedded_database_exists(config):
            report["reachable"] = True  # the server answers; our database is created on use
        else:
            with connect(url, settings=config.database) as conn:
                applied = installed_migrations(conn, config.database.schema)
                report["reachable"] = True
                report["schema_version"] = max((m.version for m in applied), default=None)
    except DatabaseUnreachable as exc:
        report.problem = exc.message
    return report


def _embedded(config: Config, report: DatabaseReport) -> str | None:
    """Fill ``report`` with what the embedded server's files and processes say; return the
    owner role's URL (None when the server is not running)."""
    server = EmbeddedServer(config.embedded_data_dir)
    status = server.status()
    report.update(
        data_dir=str(status.data_dir),
        initialized=status.initialized,
        running=status.running,
        pid=status.pid,
        server_version=status.version,
        # observed: pg_hba.conf, and whether the running server lets a client in unasked
        passwords_required=(not server.trusts_connections(status) if status.initialized else None),
    )
    return status.url(config.embedded.database, user=config.database.owner_role)


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
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (config.embedded.database,)
        ).fetchone()
    return row is not None
