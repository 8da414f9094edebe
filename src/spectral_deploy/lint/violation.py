"""What the lint reports: violations, overrides that need signoff, and files it could not read.

A violation carries a stable rule code and name, a precise span, a message that says
what is wrong and a separate help that says what to do instead, plus the lines of the
statement so every renderer can show it without reading the file again.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum, StrEnum
from typing import NamedTuple

from spectral_deploy.lint.names import ObjectKind, QualifiedName
from spectral_deploy.lint.source import Position

__all__ = [
    "ExitCode",
    "Finding",
    "LintError",
    "Override",
    "OverrideScope",
    "Rendered",
    "Report",
    "Signoff",
    "Span",
    "Violation",
]


class ExitCode(IntEnum):
    """``spectral-deploy lint`` exit codes."""

    CLEAN = 0
    VIOLATIONS = 1
    ERRORS = 2


Span = tuple[int, int]


class Finding(NamedTuple):
    """What a rule found in one statement: a file span, a message, and the object it is about.

    The engine drops a finding whose ``subject`` the change set created (it is new), and
    one whose ``replaced`` relation (the name N-1 knows) is back by the end of the file
    as a compatible view (``Context.compensated``). The span may be given as a function:
    finding a clause runs the scanner, which is only worth it for findings that are
    reported.
    """

    span: Span | Callable[[], Span]
    message: str
    subject: tuple[ObjectKind, QualifiedName] | None = None
    replaced: QualifiedName | None = None

    def resolve(self) -> Span:
        """The (start, end) file offsets."""
        return self.span() if callable(self.span) else self.span


class Rendered(NamedTuple):
    """Where a finding sits in SQL a migration tool rendered (``alembic upgrade A:B --sql``).

    The violation's own path and positions are then those of the revision file; these are
    the rendered SQL's, which the statement's lines (``statement_lines``) come from.
    """

    command: str
    start: Position
    end: Position
    statement_start: Position


class Violation(NamedTuple):
    """A finding placed in its file: positions are 1-based, columns in code points.

    For a migration rendered by a tool, ``rendered`` holds the positions in the SQL.
    """

    path: str
    start: Position
    end: Position
    rule: str
    code: str
    message: str
    help: str
    statement_start: Position
    statement_lines: tuple[str, ...]
    rendered: Rendered | None = None

    @property
    def line(self) -> int:
        """The line the offending part starts on."""
        return self.start.line

    @property
    def column(self) -> int:
        """The column the offending part starts at."""
        return self.start.column


class OverrideScope(StrEnum):
    """``[lint] override_scope``: what one marker covers."""

    FILE = "file"  # every finding of its file (the runbook's rule)
    STATEMENT = "statement"  # the findings of the statement it precedes (or sits in)


class Signoff(NamedTuple):
    """Whether an override's file is signed off on the pull request, and by whom or why not."""

    signed: bool
    detail: str


class Override(NamedTuple):
    """A ``-- compat: breaking (reason: ...)`` marker: what it covers passes, pending signoff.

    ``covers`` are the findings it turned off, each as the violation it would have been.
    ``signoff`` is set when the run checked reviewer signoff (``--require-signoff``).
    """

    path: str
    line: int
    reason: str
    covers: tuple[Violation, ...] = ()
    scope: OverrideScope = OverrideScope.FILE
    signoff: Signoff | None = None


class LintError(NamedTuple):
    """A file that could not be linted: unreadable, not UTF-8, or not parseable."""

    path: str
    line: int
    column: int
    message: str


class Report(NamedTuple):
    """Everything one lint run found, in file order."""

    violations: tuple[Violation, ...] = ()
    overrides: tuple[Override, ...] = ()
    errors: tuple[LintError, ...] = ()
    files: int = 0
    notes: tuple[str, ...] = ()  # what limited the run (history that could not be read)

    @property
    def unsigned(self) -> tuple[Override, ...]:
        """Overrides whose signoff was checked and is missing."""
        return tuple(o for o in self.overrides if o.signoff is not None and not o.signoff.signed)

    @property
    def exit_code(self) -> ExitCode:
        """2 when a file could not be linted, else 1 on violations or a missing signoff, else 0."""
        if self.errors:
            return ExitCode.ERRORS
        if self.violations or self.unsigned:
            return ExitCode.VIOLATIONS
        return ExitCode.CLEAN
