"""Changing a column's type: ``ALTER COLUMN ... TYPE``.

## What it does
Flags `ALTER TABLE ... ALTER COLUMN ... [SET DATA] TYPE` on a table that is not new,
unless the same change set added the column.

## Why it breaks old code
The running (N-1) release reads and writes the old type: values it sends may no longer
convert, values it reads may no longer fit its types (a `bigint` read into a 32-bit
integer, a `text` that was an enum). Most type changes also rewrite the whole table and
its indexes under an `ACCESS EXCLUSIVE` lock, blocking every read and write meanwhile.

## Instead
Add a new column of the new type, write both from code, backfill, switch reads, and drop
the old column in a later release.

## Known problems
Some changes are binary compatible and need no rewrite (`varchar(50)` to `varchar(100)`
or `text`), and may be safe for old code too; the lint still flags them. Use the override
marker with the reason.
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
    """Flag ALTER COLUMN ... TYPE of a column old code knows."""
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_AlterColumnType"):
        name = command.get("name", "")
        if context.is_new_column(table, name):
            continue
        yield Finding(
            partial(statement.clause, "ALTER", name=name),
            f'changing the type of column "{name}" of table {table.display} breaks the '
            "running release, which reads and writes the old type, and rewrites the table "
            "under an ACCESS EXCLUSIVE lock",
            (ObjectKind.TABLE, table),
        )


RULE = Rule(
    code="MC104",
    name="alter-column-type",
    summary="ALTER COLUMN ... TYPE on an existing table",
    help="add a column of the new type, write both, backfill, switch reads, "
    "then drop the old column in a later release",
    doc=__doc__ or "",
    bad="ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2);",
    ok="ALTER TABLE orders ADD COLUMN total_exact numeric(12, 2);",
    nodes=("AlterTableStmt",),
    check=check,
)
