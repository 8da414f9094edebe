"""The only code that prints: results to stdout, diagnostics to stderr.

Tables and colour only when stdout is a terminal; ``--format json`` output is
plain JSON on stdout and nothing else, so scripts can parse it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

__all__ = [
    "configure_logging",
    "error",
    "human_size",
    "info",
    "print_json",
    "print_table",
    "progress",
    "settings",
    "stderr",
    "stdout",
    "success",
    "warn",
]

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


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


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    """A table on a terminal; tab-separated lines otherwise."""
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


# without a terminal, progress is one line per this fraction of the total
PROGRESS_LINE_FRACTION = 0.25


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress display on stderr; yields ``update(done_bytes)``.

    On a terminal: a bar with rate and ETA (a counter when the total is unknown).
    Otherwise (cron, CI logs): a line at every quarter of a known total.
    """
    if stderr.is_terminal:
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=stderr, transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield lambda done: bar.update(task, completed=done)
        return
    printed = 0.0

    def line(done: int) -> None:
        nonlocal printed
        if not total:
            return
        fraction = min(done / total, 1.0)
        if (fraction >= 1.0 and printed < 1.0) or fraction - printed >= PROGRESS_LINE_FRACTION:
            printed = fraction
            stderr.print(
                f"{description}: {fraction:.0%} ({human_size(done)} of {human_size(total)})",
                markup=False,
            )

    yield line


def human_size(count: int) -> str:
    """``1.5 MB``: decimal units, as storage consoles show them."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


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
    return escape(text)
