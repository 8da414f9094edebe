"""The only code that prints: results to stdout, diagnostics to stderr.

Tables and colour only when stdout is a terminal; ``--format json`` output is
plain JSON on stdout and nothing else, so scripts can parse it.

rich is imported on first use, not with this module: ``spectral-deploy lint`` runs on
every pull request and prints plain text or JSON, and importing rich would cost it more
than linting a whole migration history.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "configure_logging",
    "error",
    "info",
    "print_json",
    "print_table",
    "print_text",
    "settings",
    "stderr",
    "stdout",
    "success",
    "warn",
]


class _LazyConsole:
    """A rich ``Console`` created on first attribute access."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


stdout = cast("Console", _LazyConsole(highlight=False, soft_wrap=True))
stderr = cast("Console", _LazyConsole(stderr=True, highlight=False, soft_wrap=True))


class _Settings:
    """Process-wide output settings set by the root command."""

    verbosity: int = 0


settings = _Settings()


class KeyValueFormatter(logging.Formatter):
    """``time level logger message`` where the message is already ``action=... key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")


def configure_logging(verbosity: int) -> None:
    """Warnings by default; -v info; -vv debug. Logs go to stderr."""
    settings.verbosity = verbosity
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger("spectral_deploy")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def print_json(value: Any) -> None:
    """JSON on stdout, one document, nothing else."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def print_text(text: str) -> None:
    """Plain text on stdout exactly as given (no markup, no wrapping)."""
    sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    """A table on a terminal; tab-separated lines otherwise."""
    from rich.table import Table

    rows = list(rows)
    if not stdout.is_terminal:
        if title:
            stdout.print(title, markup=False)
        stdout.print("\t".join(columns), markup=False)
        for row in rows:
            stdout.print("\t".join("" if v is None else str(v) for v in row), markup=False)
        return
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    stdout.print(table)


def info(message: str) -> None:
    """A plain line of result text on stdout."""
    stdout.print(message, markup=False)


def success(message: str) -> None:
    """A line saying something worked."""
    stdout.print(f"[green]✓[/green] {_escape(message)}")


def warn(message: str) -> None:
    """A warning on stderr."""
    stderr.print(f"[yellow]warning:[/yellow] {_escape(message)}")


def error(message: str, *, hint: str | None = None) -> None:
    """``error: ...`` on stderr, then the next command to run."""
    stderr.print(f"[bold red]error:[/bold red] {_escape(message)}")
    if hint:
        stderr.print(f"  next: {_escape(hint)}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
