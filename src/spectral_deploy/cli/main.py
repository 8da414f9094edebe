"""The ``spectral-deploy`` command: the root options and the one place that maps errors to exits.

Exit codes: 0 ok, 1 the checked thing failed, 2 usage/config/input error,
3 precondition not met, 130 interrupted. Signals: a command says what SIGTERM and SIGINT do
only through ``cli/signals.on_stop_signals`` (first: stop gracefully; second Ctrl-C: exit 130).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from spectral_deploy._version import __version__
from spectral_deploy.cli import backup as backup_commands
from spectral_deploy.cli import console, helptext
from spectral_deploy.cli import dashboard as dashboard_commands
from spectral_deploy.cli import db as db_commands
from spectral_deploy.cli import demo as demo_commands
from spectral_deploy.cli import deploy as deploy_commands
from spectral_deploy.cli import dns as dns_commands
from spectral_deploy.cli import drain as drain_commands
from spectral_deploy.cli import generations as generation_commands
from spectral_deploy.cli import hosting as hosting_commands
from spectral_deploy.cli import init as init_commands
from spectral_deploy.cli import ledger as ledger_commands
from spectral_deploy.cli import logs as logs_commands
from spectral_deploy.cli import migrate as migrate_commands
from spectral_deploy.cli import outbox as outbox_commands
from spectral_deploy.cli import rollback as rollback_commands
from spectral_deploy.cli import sandbox as sandbox_commands
from spectral_deploy.cli import status as status_commands
from spectral_deploy.cli import worker as worker_commands
from spectral_deploy.cli.common import AppState, parse_assignment, state
from spectral_deploy.cli.exits import report

__all__ = ["app", "main"]


app = typer.Typer(
    name="spectral-deploy",
    help=(
        "Blue/green deploys and safe rollbacks for Postgres-backed apps.\n\n"
        "Every deploy gets an integer generation; async work goes through a Postgres outbox "
        "routed by generation; rollbacks follow the runbook's five failure classes. "
        "With no configuration everything runs on an embedded PostgreSQL under .spectral/.\n\n"
        "Example: spectral-deploy db status"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db_commands.app, name="db")
app.add_typer(ledger_commands.app, name="ledger")
app.add_typer(generation_commands.app, name="generations")
app.add_typer(outbox_commands.app, name="outbox")
app.add_typer(migrate_commands.app, name="migrate")
app.add_typer(deploy_commands.app, name="deploy")
app.add_typer(rollback_commands.app, name="rollback")
app.add_typer(hosting_commands.app, name="hosting")
app.add_typer(sandbox_commands.app, name="sandbox")
app.command(name="worker")(worker_commands.worker)
app.command(name="drain")(drain_commands.drain)
app.add_typer(backup_commands.app, name="backup")
app.command(name="demo")(demo_commands.demo)
app.add_typer(dns_commands.app, name="dns")
app.command(name="init")(init_commands.init)
app.command(name="status")(status_commands.status)
app.command(name="dashboard")(dashboard_commands.dashboard)
app.command(name="logs")(logs_commands.logs)


@app.command(
    name="lint",
    help="Check migrations for changes that break the running (N-1) release or take long "
    "locks.\n\nExample: spectral-deploy lint --base origin/main  (spectral-deploy lint --help "
    "for the options)",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def lint(ctx: typer.Context) -> None:
    """Hand the arguments to the lint's own command line (``cli/lint.py``)."""
    from spectral_deploy.cli import lint as lint_command

    raise typer.Exit(lint_command.run(ctx.args, state(ctx).config))


def _version(value: bool) -> None:
    if value:
        console.info(f"spectral-deploy {__version__}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-C",
            help="Config file (default: nearest spectral.toml or pyproject.toml "
            "\\[tool.spectral-deploy]; env SPECTRAL_CONFIG).",
            dir_okay=False,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            metavar="SECTION.KEY=VALUE",
            help="Override one config key, e.g. --set database.schema=spectral (repeatable).",
        ),
    ] = None,
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="More logs; tracebacks on errors."),
    ] = 0,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Blue/green deploys and safe rollbacks for Postgres-backed apps."""
    console.configure_logging(verbose)
    overrides = dict(parse_assignment(item) for item in set_ or [])
    ctx.obj = AppState(config_file=config, overrides=overrides)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    from spectral_deploy.redaction import register_environment

    register_environment(os.environ)
    command = typer.main.get_command(app)
    helptext.tidy(command)
    try:
        result = command.main(args=argv, prog_name="spectral-deploy", standalone_mode=False)
    except typer.Abort:
        console.error("aborted")
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors of the command line itself
        message = exc.format_message()
        if message:  # empty when a group was called bare and its help was printed
            console.error(message, hint=_help_hint(exc))
        sys.exit(2)
    except (KeyboardInterrupt, Exception) as exc:
        sys.exit(report(exc, rerun_hint="rerun with -v for the traceback and report it"))
    sys.exit(result if isinstance(result, int) else 0)


def _help_hint(exc: typer.TyperException) -> str:
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "spectral-deploy"
    return f"{path} --help"
