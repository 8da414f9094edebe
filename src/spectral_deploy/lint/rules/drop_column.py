"""Dropping a column.

## What it does
Flags `ALTER TABLE ... DROP COLUMN` on a table that is not new, unless the same change
set added the column (old code never knew it).

## Why it breaks old code
The running (N-1) release still selects, inserts and updates the column. The moment the
migration commits, each of those statements fails with `column does not exist`, and a
rollback to the old release cannot bring the column (or its data) back.

## Instead
Expand and contract: release code that no longer reads or writes the column first (ORMs
often select every column: tell yours to ignore it), then drop the column in a later
release, when no deployed code references it.

## Known problems
A column that old code never mentions is safe to drop; the lint cannot know that. Use the
override marker with the reason once the code that used it is gone from every release
that may run.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule, alter_commands
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag DROP COLUMN of a column old code knows."""
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_DropColumn"):
        name = command.get("name", "")
        if context.is_new_column(table, name):
            continue
        if command.get("missing_ok") and context.model.has_column(table, name) is False:
            continue  # DROP COLUMN IF EXISTS of a column known not to be there
        yield Finding(
            partial(statement.clause, "DROP", name=name),
            f'dropping column "{name}" of table {table.display} breaks the running release, '
            "which still reads and writes it",
            (ObjectKind.TABLE, table),
        )


RULE = Rule(
    code="MC102",
    name="drop-column",
    summary="DROP COLUMN on an existing table",
    help="stop using the column in code first, then drop it in a later release (expand/contract)",
    doc=__doc__ or "",
    bad="ALTER TABLE users DROP COLUMN email;",
    ok="ALTER TABLE users ADD COLUMN nickname text;\nALTER TABLE users DROP COLUMN nickname;",
    nodes=("AlterTableStmt",),
    check=check,
)
