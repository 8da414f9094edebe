"""``spectral-deploy db``: the embedded server and Spectral's own schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state
from spectral_deploy.errors import PreconditionFailed

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Manage the database: the embedded PostgreSQL server and Spectral's own schema.\n\n"
        "With no DATABASE_URL (and no database.url in config) every command uses an embedded "
        "PostgreSQL kept under .spectral/pg, started on first use and reused afterwards.\n\n"
        'Example: spectral-deploy db start && psql "$(spectral-deploy db url)"'
    ),
    no_args_is_help=True,
)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Embedded server directory (default .spectral/pg; env SPECTRAL_EMBEDDED_DATA_DIR).",
        file_okay=False,
    ),
]


@app.callback()
def db_group(ctx: typer.Context, data_dir: DataDirOption = None) -> None:
    """Manage the database: the embedded PostgreSQL server and Spectral's own schema."""
    if data_dir is not None:
        state(ctx).overrides["embedded.data_dir"] = str(data_dir.resolve())


def _embedded_server(ctx: typer.Context) -> Any:
    from spectral_deploy.db.embedded import EmbeddedServer

    config = state(ctx).config()
    if config.database.url:
        raise PreconditionFailed(
            "a database URL is configured (DATABASE_URL or database.url), "
            "so the embedded server is not used",
            hint="unset DATABASE_URL to use the embedded server",
        )
    return EmbeddedServer(config.embedded_data_dir)


@app.command()
def start(ctx: typer.Context) -> None:
    """Start the embedded PostgreSQL server (initialising it on first use).

    It keeps running after this command exits; later commands reuse it.

    Example: spectral-deploy db start
    """
    from spectral_deploy.db.connect import ensure_database

    server = _embedded_server(ctx)
    was_running = server.status().running
    status = server.ensure_started()
    ensure_database(status.url("postgres"), state(ctx).config().embedded.database)
    verb = "already running" if was_running else "started"
    console.success(f"embedded PostgreSQL {status.version} {verb} (pid {status.pid})")
    console.info(f"data: {status.data_dir}")
    console.info(f"url:  {status.url(state(ctx).config().embedded.database)}")


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the embedded PostgreSQL server (fast shutdown: open sessions are closed).

    Example: spectral-deploy db stop
    """
    server = _embedded_server(ctx)
    if server.stop():
        console.success(f"embedded PostgreSQL stopped ({server.data_dir})")
    else:
        console.info(f"embedded PostgreSQL was not running ({server.data_dir})")


@app.command()
def status(
    ctx: typer.Context,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """Show where the database is, whether it answers, and the schema version.

    Never starts anything. Exit 0 when the database answers, 3 when it does not.

    Example: spectral-deploy db status --format json
    """
    from spectral_deploy.db.connect import connect, describe_target
    from spectral_deploy.db.embedded import EmbeddedServer
    from spectral_deploy.db.schema import installed_migrations, required_version
    from spectral_deploy.errors import DatabaseUnreachable

    config = state(ctx).config()
    report: dict[str, Any] = {"embedded": not config.database.url, "schema": config.database.schema}
    url: str | None = config.database.url
    if not config.database.url:
        server_status = EmbeddedServer(config.embedded_data_dir).status()
        url = server_status.url(config.embedded.database)
        report.update(
            data_dir=str(server_status.data_dir),
            initialized=server_status.initialized,
            running=server_status.running,
            pid=server_status.pid,
            server_version=server_status.version,
        )
    report["target"] = describe_target(url) if url else None
    report["reachable"] = False
    report["schema_version"] = None
    report["required_schema_version"] = required_version()
    problem: str | None = None
    if url is not None:
        try:
            if not config.database.url and not _embedded_database_exists(config):
                report["reachable"] = True  # the server answers; our database is created on use
            else:
                with connect(url, settings=config.database) as conn:
                    applied = installed_migrations(conn, config.database.schema)
                    report["reachable"] = True
                    report["schema_version"] = max((m.version for m in applied), default=None)
        except DatabaseUnreachable as exc:
            problem = exc.message
    else:
        problem = "the embedded server is not running"

    if format_ is OutputFormat.JSON:
        console.print_json(report)
    else:
        where = "embedded" if report["embedded"] else "external"
        console.info(f"database:  {where} {report['target'] or ''}".rstrip())
        if report["embedded"]:
            console.info(f"data dir:  {report['data_dir']}")
            running = f"running (pid {report['pid']})" if report["running"] else "stopped"
            console.info(f"server:    {running}")
        schema_line = (
            f"version {report['schema_version']} "
            f"(this tool needs {report['required_schema_version']})"
            if report["schema_version"]
            else "not installed"
        )
        if report["reachable"]:
            console.info(f"schema:    {config.database.schema} {schema_line}")
            if not report["schema_version"]:
                console.info("next:      spectral-deploy db init")
    if not report["reachable"]:
        raise PreconditionFailed(
            problem or "the database does not answer",
            hint="spectral-deploy db start" if report["embedded"] else "check DATABASE_URL",
        )


def _embedded_database_exists(config: Any) -> bool:
    from spectral_deploy.db.connect import connect
    from spectral_deploy.db.embedded import EmbeddedServer

    maintenance = EmbeddedServer(config.embedded_data_dir).status().url("postgres")
    if maintenance is None:
        return False
    with connect(maintenance, settings=config.database) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (config.embedded.database,)
        ).fetchone()
    return row is not None


@app.command()
def url(ctx: typer.Context) -> None:
    """Print the connection URL (starts the embedded server if needed).

    For a configured external database the password is never printed.

    Example: psql "$(spectral-deploy db url)"
    """
    from spectral_deploy.db.connect import resolve_url

    config = state(ctx).config()
    resolved = resolve_url(config)
    if config.database.url:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(resolved)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            resolved = urlunsplit(parts._replace(netloc=netloc))
            console.warn("the password is not printed; it comes from DATABASE_URL")
    console.info(resolved)


@app.command()
def init(ctx: typer.Context) -> None:
    """Install or upgrade Spectral's own schema (idempotent: run it twice, nothing changes).

    The schema (default "spectral", key database.schema) holds generations, the deploy
    ledger and the outbox. Its migrations only add, so an older spectral-deploy keeps
    working against a newer schema during a deploy.

    Example: DATABASE_URL=postgresql://deploy@db.internal/app spectral-deploy db init
    """
    from spectral_deploy.db import open_database
    from spectral_deploy.db.schema import install

    config = state(ctx).config()
    database = open_database(config, check_schema=False)
    with database.connect() as conn:
        report = install(conn, database.schema)
    if report.applied_now:
        applied = ", ".join(str(v) for v in report.applied_now)
        console.success(
            f"schema {report.schema!r} on {database.target}: applied migration(s) {applied}; "
            f"now at version {report.installed_version}"
        )
    else:
        console.success(
            f"schema {report.schema!r} on {database.target} is up to date "
            f"(version {report.installed_version})"
        )


@app.command("server-version")
def server_version(
    ctx: typer.Context,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """Print the database server's major version, which pg_dump and pg_restore must match
    (the nightly backup workflow installs that client). Reads nothing but the version.

    Example: sudo apt-get install -y "postgresql-client-$(spectral-deploy db server-version)"
    """
    from spectral_deploy.db.connect import connect, resolve_url

    config = state(ctx).config()
    with connect(resolve_url(config), settings=config.database, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int"
        ).fetchone()
    assert row is not None
    version, number = str(row[0]), int(str(row[1]))
    if format_ is OutputFormat.JSON:
        console.print_json({"major": number // 10000, "version": version, "version_num": number})
    else:
        console.info(str(number // 10000))
