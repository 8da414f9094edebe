"""Where linted SQL came from when a migration tool wrote it: the revision file, line by line.

An Alembic revision or a Django migration is Python; the lint reads the SQL the tool
renders from it (``alembic upgrade A:B --sql``, ``manage.py sqlmigrate app name``). An
``Origin`` says, for each line of that SQL, which part of the revision file produced it:
the ``op.*`` call or the ``operations`` entry (a span), and, when the SQL line is written
out in the file (``op.execute("...")``, ``RunSQL``), the exact line and column shift.

``remap`` moves a report's findings from the rendered SQL to the revision file, keeping
the SQL position beside them (``Rendered``), so every renderer can show both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from spectral_deploy.lint.source import Position
from spectral_deploy.lint.violation import LintError, Override, Rendered, Report, Violation

__all__ = ["LineOrigin", "Origin", "exact_lines", "remap"]


@dataclass(frozen=True)
class LineOrigin:
    """What one SQL line came from: a span of the file, and the line itself if it is there."""

    start: Position
    end: Position
    line: int | None = None
    shift: int = 0  # file column = SQL column + shift, on ``line``


@dataclass(frozen=True)
class Origin:
    """A rendered migration: its file (as shown), the command that rendered it, line origins.

    ``lines[i]`` is the origin of SQL line ``i + 1``; ``None`` (bookkeeping SQL the tool adds,
    such as its version table) takes the nearest origin above it, else ``fallback``.
    """

    path: str
    command: str
    lines: tuple[LineOrigin | None, ...]
    fallback: LineOrigin

    def _at(self, sql_line: int) -> LineOrigin:
        for index in range(min(sql_line, len(self.lines)) - 1, -1, -1):
            found = self.lines[index]
            if found is not None:
                return found
        return self.fallback

    def start(self, sql: Position) -> Position:
        """Where a finding starting at ``sql`` starts in the file."""
        return self._locate(sql, end=False)

    def end(self, sql: Position) -> Position:
        """Where a finding ending at ``sql`` ends in the file."""
        return self._locate(sql, end=True)

    def _locate(self, sql: Position, *, end: bool) -> Position:
        own = self.lines[sql.line - 1] if 0 < sql.line <= len(self.lines) else None
        if own is not None and own.line is not None:
            return Position(own.line, max(1, sql.column + own.shift))
        origin = self._at(sql.line)
        return origin.end if end else origin.start


def remap(report: Report, origins: Mapping[str, Origin]) -> Report:
    """The report with findings in rendered SQL (keyed by the path linted) moved to their files."""
    if not origins:
        return report
    return report._replace(
        violations=tuple(_violation(v, origins.get(v.path)) for v in report.violations),
        overrides=tuple(_override(o, origins.get(o.path)) for o in report.overrides),
        errors=tuple(_error(e, origins.get(e.path)) for e in report.errors),
    )


def _violation(violation: Violation, origin: Origin | None) -> Violation:
    if origin is None:
        return violation
    start = origin.start(violation.start)
    end = origin.end(violation.end)
    end = max(end, start)
    rendered = Rendered(
        command=origin.command,
        start=violation.start,
        end=violation.end,
        statement_start=violation.statement_start,
    )
    return violation._replace(path=origin.path, start=start, end=end, rendered=rendered)


def _override(override: Override, origin: Origin | None) -> Override:
    if origin is None:
        return override
    line = origin.start(Position(override.line, 1)).line
    covers = tuple(_violation(v, origin) for v in override.covers)
    return override._replace(path=origin.path, line=line, covers=covers)


def _error(error: LintError, origin: Origin | None) -> LintError:
    if origin is None:
        return error
    at = origin.start(Position(error.line, error.column))
    message = (
        f"{error.message} (line {error.line}, column {error.column} of the SQL that "
        f"`{origin.command}` renders)"
    )
    return LintError(origin.path, at.line, at.column, message)


def exact_lines(
    sql_lines: Sequence[str], file_lines: Sequence[str], start: Position, end: Position
) -> list[tuple[int, int] | None]:
    """For SQL lines produced by one call, the (file line, column shift) of each, when every one
    of them is written out verbatim, in order, between ``start`` and ``end`` of the file (raw
    SQL in ``op.execute``); otherwise ``None`` for all (the call's span is all there is)."""
    found: list[tuple[int, int] | None] = []
    cursor = start.line
    for text in sql_lines:
        # the tool may end the statement with a ";" the file does not have
        stripped = text.strip().removesuffix(";").rstrip()
        hit: tuple[int, int] | None = None
        if stripped:
            for number in range(cursor, min(end.line, len(file_lines)) + 1):
                column = file_lines[number - 1].find(stripped)
                if column >= 0:
                    lead = len(text) - len(text.lstrip())
                    hit = (number, column - lead)
                    cursor = number
                    break
            if hit is None and not stripped.startswith("--"):  # tools write comments too
                return [None] * len(sql_lines)
        found.append(hit)
    return found
