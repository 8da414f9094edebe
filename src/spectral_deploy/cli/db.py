"""``spectral-deploy db``: the embedded server and Spectral's own schema."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state
from spectral_deploy.errors import PreconditionFailed

if TYPE_CHECKING:
    from spectral_deploy.db.report import EmbeddedState

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

    It keeps running after this command exits; later commands reuse it. Every role logs
    in with a password kept in <data dir>/credentials (mode 700); URLs name those files,
    never the passwords. A server made by an older spectral-deploy, which trusted every
    local connection, is switched to passwords here (restart running apps afterwards).

    Example: spectral-deploy db start
    """
    from spectral_deploy.db.connect import resolve_url

    server = _embedded_server(ctx)
    was_running = server.status().running
    url = resolve_url(state(ctx).config(), upgrade_auth=True)
    status = server.status()
    verb = "already running" if was_running else "started"
    console.success(f"embedded PostgreSQL {status.version} {verb} (pid {status.pid})")
    console.info(f"data: {status.data_dir}")
    console.info(f"url:  {url}")


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
    from spectral_deploy.db.report import database_report

    config = state(ctx).config()
    report = database_report(config)
    if format_ is OutputFormat.JSON:
        console.print_json(report.as_json())
    else:
        where = "embedded" if report.embedded else "external"
        console.info(f"database:  {where} {report.target or ''}".rstrip())
        if report.embedded_server is not None:
            _print_embedded(report.embedded_server)
        schema_line = (
            f"version {report.schema_version} (this tool needs {report.required_schema_version})"
            if report.schema_version
            else "not installed"
        )
        if report.reachable:
            console.info(f"schema:    {config.database.schema} {schema_line}")
            if not report.schema_version:
                console.info("next:      spectral-deploy db init")
    if not report.reachable:
        raise PreconditionFailed(
            report.problem or "the database does not answer",
            hint="spectral-deploy db start" if report.embedded else "check DATABASE_URL",
        )


def _print_embedded(server: EmbeddedState) -> None:
    console.info(f"data dir:  {server.data_dir}")
    running = f"running (pid {server.pid})" if server.running else "stopped"
    console.info(f"server:    {running}")
    if server.passwords_required is False:
        console.warn(
            "the server lets local processes log in without a password (made by an older "
            "spectral-deploy): run spectral-deploy db start"
        )


class Role(StrEnum):
    """``db url --role``: whose URL."""

    OWNER = "owner"
    APP = "app"


@app.command()
def url(
    ctx: typer.Context,
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            help="owner: Spectral's own URL (owns its schema); app: the URL apps get "
            "(emit and run workers; nothing of the ledger).",
        ),
    ] = Role.OWNER,
) -> None:
    """Print a connection URL (starts the embedded server if needed).

    --role app prints what the hosting provider hands to apps as DATABASE_URL. A password
    is never printed: an embedded server's URL names the role's own password file
    (passfile=, read by libpq: psycopg, psql, SQLAlchemy), which holds that role's
    password only; for an external database the password comes from the environment.

    Example: psql "$(spectral-deploy db url --role app)"
    """
    from spectral_deploy.config import url_has_password
    from spectral_deploy.db import Database
    from spectral_deploy.db.connect import resolve_url

    config = state(ctx).config()
    database = Database(
        url=resolve_url(config),
        schema=config.database.schema,
        settings=config.database,
        embedded=not config.database.url,
    )
    resolved = database.app_url if role is Role.APP else database.url
    if url_has_password(resolved):
        console.warn("the password is not printed; it comes from the environment")
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
    database = open_database(config, check_schema=False, create=True)
    with database.connect() as conn:
        report = install(conn, database.schema, database.roles, app_tables=database.embedded)
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
    from spectral_deploy.db.connect import resolve_url
    from spectral_deploy.db.report import server_version as ask_version

    config = state(ctx).config()
    version = ask_version(resolve_url(config), config)
    if format_ is OutputFormat.JSON:
        console.print_json(version.as_json())
    else:
        console.info(str(version.major))
