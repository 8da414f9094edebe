"""``--format text``: for people. Each violation as ``path:line:column``, the statement
with the offending part underlined, the message, and what to do instead. For a revision
file a migration tool rendered (Alembic, Django), ``path:line:column`` is the revision's
and the statement is shown from the rendered SQL, with its line numbers there.

    migrations/0002_users.sql:3:19: MC102 drop-column
      |
    3 | ALTER TABLE users DROP COLUMN email;
      |                   ^^^^^^^^^^^^^^^^^ dropping column "email" of table users breaks ...
      = help: stop using the column in code first, then drop it in a later release
"""

from __future__ import annotations

from collections.abc import Sequence

from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Override, OverrideScope, Report, Violation

__all__ = ["render"]

# A statement longer than this is shown as its first line, an ellipsis, and the span.
MAX_EXCERPT_LINES = 6


def render(report: Report, rules: Sequence[Rule]) -> str:
    """The whole report as text, ending with a summary line."""
    blocks = [_violation(v) for v in report.violations]
    blocks.extend(f"{e.path}:{e.line}:{e.column}: error: {e.message}\n" for e in report.errors)
    if report.overrides:
        listed = "".join(_override(o) for o in report.overrides)
        blocks.append(f"overrides needing reviewer signoff:\n{listed}")
    if report.notes:
        blocks.append("".join(f"note: {note}\n" for note in report.notes))
    blocks.append(_summary(report))
    return "\n".join(blocks)


def _override(o: Override) -> str:
    """A marker, its reason, and every finding it covers (so reviewers see what they sign)."""
    scope = "this file" if o.scope is OverrideScope.FILE else "the statement after it"
    head = f"  {o.path}:{o.line}: {o.reason}\n"
    if o.signoff is not None:
        head += f"    {'signed off: ' if o.signoff.signed else ''}{o.signoff.detail}\n"
    if not o.covers:
        return head + f"    covers nothing in {scope}\n"
    covered = "".join(
        f"    covers {v.path}:{v.line}:{v.column}: {v.code} {v.rule}: {v.message}\n"
        for v in o.covers
    )
    return head + covered


def _violation(v: Violation) -> str:
    # the excerpt is SQL: for a revision a tool rendered, its positions are the SQL's
    where = v.rendered or v
    start, end = where.start, where.end
    first = where.statement_start.line if where.statement_start.line <= start.line else start.line
    numbered = list(enumerate(v.statement_lines, start=first))
    if len(numbered) > MAX_EXCERPT_LINES:
        head = [numbered[0]] if numbered[0][0] < start.line else []
        tail = [(n, text) for n, text in numbered if n >= start.line]
        tail = tail[: MAX_EXCERPT_LINES - len(head)]
        numbered = [*head, (0, "..."), *tail] if head else tail
    width = len(str(max(n for n, _ in numbered)))
    gutter = " " * width
    out = [f"{v.path}:{v.line}:{v.column}: {v.code} {v.rule}"]
    if v.rendered is not None:
        out.append(f"{gutter} = in the SQL of `{v.rendered.command}`, line {start.line}:")
    out.append(f"{gutter} |")
    last_marked = max((n for n, _ in numbered if start.line <= n <= end.line), default=0)
    for number, raw in numbered:
        text = raw.replace("\t", " ")
        if number == 0:
            out.append(f"{gutter} | {text}")
            continue
        out.append(f"{number:>{width}} | {text}".rstrip())
        if start.line <= number <= end.line:
            begin = start.column if number == start.line else _indent(text) + 1
            stop = end.column if number == end.line else len(text.rstrip()) + 1
            carets = "^" * max(1, stop - begin)
            note = f" {v.message}" if number == last_marked else ""
            out.append(f"{gutter} | {' ' * (begin - 1)}{carets}{note}")
    out.append(f"{gutter} = help: {v.help}")
    return "\n".join(out) + "\n"


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _summary(report: Report) -> str:
    files = f"{report.files} file{'s' if report.files != 1 else ''}"
    parts = []
    if report.errors:
        parts.append(f"{len(report.errors)} could not be checked")
    unsigned = len(report.unsigned)
    if unsigned:
        parts.append(f"{unsigned} override(s) not signed off")
    elif report.overrides and all(o.signoff is not None for o in report.overrides):
        parts.append(f"{len(report.overrides)} override(s) signed off")
    elif report.overrides:
        parts.append(f"{len(report.overrides)} override(s) need reviewer signoff")
    extra = f" ({', '.join(parts)})" if parts else ""
    if report.violations:
        count = len(report.violations)
        return f"Found {count} violation{'s' if count != 1 else ''} in {files}{extra}.\n"
    if unsigned:
        return f"No violations in {files}, but {unsigned} override(s) not signed off.\n"
    return f"No violations in {files}{extra}.\n"
