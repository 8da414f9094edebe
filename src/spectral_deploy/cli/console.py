"""The only code that prints: results to stdout, diagnostics to stderr.

Tables and colour only when stdout is a terminal; ``--format json`` output is
plain JSON on stdout and nothing else, so scripts can parse it.

Everything printed goes through one gate, ``clean``: secrets are redacted
(``spectral_deploy.redaction``) and control characters (escape sequences, carriage
returns, bidi overrides) are removed, and a value is never read as rich markup, so text
that came from data (an actor, a topic, an error) prints as itself and cannot crash or
repaint the terminal.

rich is imported on first use, not with this module: ``spectral-deploy lint`` runs on
every pull request and prints plain text or JSON, and importing rich would cost it more
than linting a whole migration history.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import traceback as traceback_module
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

    from spectral_deploy.waiting import WaitProgress

__all__ = [
    "Progress",
    "clean",
    "configure_logging",
    "error",
    "human_size",
    "info",
    "print_json",
    "print_table",
    "print_text",
    "print_traceback",
    "progress",
    "settings",
    "stderr",
    "stdout",
    "success",
    "waiting",
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


# C0 controls but tab and newline, DEL, C1 controls, and the bidi embeddings/overrides/isolates
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n]")


def clean(text: object, *, one_line: bool = False) -> str:
    """``text`` as it may be printed: secrets redacted, control characters removed.

    ``one_line`` also turns tabs and newlines into spaces (table cells, tab-separated lines).
    """
    from spectral_deploy.redaction import redact

    value = _CONTROL.sub("", redact("" if text is None else str(text)))
    return _LINE_BREAKS.sub(" ", value) if one_line else value


class KeyValueFormatter(logging.Formatter):
    """``time level logger message`` where the message is already ``action=... key=value``;
    the whole line (exception text included) is redacted and stripped of control characters."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return clean(super().format(record))


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
    """JSON on stdout, one document, nothing else (control characters are JSON-escaped)."""
    from spectral_deploy.redaction import redact

    sys.stdout.write(redact(json.dumps(value, indent=2, sort_keys=False, default=str)) + "\n")
    sys.stdout.flush()


def print_text(text: str) -> None:
    """Plain text on stdout as given (no markup, no wrapping), cleaned."""
    text = clean(text)
    sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def print_traceback(exc: BaseException) -> None:
    """The traceback of ``exc`` and of every exception chained to it, redacted, on stderr."""
    text = "".join(traceback_module.format_exception(exc))
    sys.stderr.write(clean(text))
    sys.stderr.flush()


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    """A table on a terminal; tab-separated lines otherwise."""
    from rich.table import Table
    from rich.text import Text

    cells = [[clean(v, one_line=True) for v in row] for row in rows]
    if not stdout.is_terminal:
        if title:
            stdout.print(clean(title, one_line=True), markup=False, highlight=False)
        stdout.print("\t".join(columns), markup=False, highlight=False)
        for row in cells:
            stdout.print("\t".join(row), markup=False, highlight=False)
        return
    table = Table(title=Text(clean(title, one_line=True)) if title else None, title_justify="left")
    for column in columns:
        table.add_column(Text(column))
    for row in cells:
        table.add_row(*(Text(v) for v in row))
    stdout.print(table)


class Progress:
    """Work done out of a total, in rows or bytes: a bar with rate and ETA on a terminal,
    a line every few seconds otherwise (cron, CI logs)."""

    LINE_EVERY_SECONDS = 5.0

    def __init__(self, description: str, unit: str = "rows") -> None:
        self.description = description
        self.unit = unit
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._started = time.monotonic()
        self._last_line = 0.0
        self._done = 0
        self._total: int | None = 0

    def __enter__(self) -> Progress:
        if stderr.is_terminal:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as RichProgress

            counts: list[Any]
            if self.unit == "bytes":
                counts = [DownloadColumn(), TransferSpeedColumn()]
            else:
                counts = [MofNCompleteColumn(), TextColumn("{task.fields[rate]}")]
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                *counts,
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[note]}"),
                console=stderr,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                _escape(clean(self.description, one_line=True)), total=None, rate="", note=""
            )
        return self

    def update(self, done: int, total: int | None, note: str = "") -> None:
        """Report progress (``total`` None when unknown); cheap to call often."""
        self._done, self._total = done, total
        if self._bar is not None and self._task is not None:
            rate = f"{done / max(time.monotonic() - self._started, 1e-6):,.0f} {self.unit}/s"
            self._bar.update(
                self._task,
                completed=done,
                total=total,
                rate=rate,
                note=_escape(clean(note, one_line=True)),
            )
            return
        now = time.monotonic()
        if now - self._last_line >= self.LINE_EVERY_SECONDS:
            self._last_line = now
            self._line(note)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
        else:
            self._line("")

    def _line(self, note: str) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = self._done / elapsed
        total = self._total or 0
        left = max(total - self._done, 0)
        eta = f", ETA {left / rate:,.0f} s" if rate > 0 and left else ""
        suffix = f" ({note})" if note else ""
        of_total = f"/{self._amount(total)} ({min(self._done / total, 1.0):.0%})" if total else ""
        stderr.print(
            clean(
                f"{self.description}: {self._amount(self._done)}{of_total}, "
                f"{self._amount(round(rate))}/s{eta}{suffix}"
            ),
            markup=False,
            highlight=False,
        )

    def _amount(self, count: int) -> str:
        return human_size(count) if self.unit == "bytes" else f"{count:,} {self.unit}"


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Byte progress on stderr (a bar on a terminal, lines otherwise); yields ``update(done)``."""
    with Progress(description, unit="bytes") as bar:
        yield lambda done: bar.update(done, total)


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
    stdout.print(clean(message), markup=False, highlight=False)


def waiting(progress: WaitProgress) -> None:
    """A wait in progress: what, elapsed / limit, where to look; on stderr, so scripts
    reading stdout see only results."""
    stderr.print(f"  [dim]…[/dim] {_escape(clean(progress.describe(), one_line=True))}")


def success(message: str) -> None:
    """A line saying something worked."""
    stdout.print(f"[green]✓[/green] {_escape(clean(message))}")


def warn(message: str) -> None:
    """A warning on stderr."""
    stderr.print(f"[yellow]warning:[/yellow] {_escape(clean(message))}")


def error(message: str, *, hint: str | None = None) -> None:
    """``error: ...`` on stderr, then the next command to run."""
    stderr.print(f"[bold red]error:[/bold red] {_escape(clean(message))}")
    if hint:
        stderr.print(f"  next: {_escape(clean(hint))}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
