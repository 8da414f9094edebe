"""Adding a required column: ``ADD COLUMN ... NOT NULL`` without a default.

## What it does
Flags `ALTER TABLE ... ADD COLUMN` with `NOT NULL` (or an inline `PRIMARY KEY`) and no
`DEFAULT` on a table that is not new. `DEFAULT NULL` is no default. Identity columns,
generated columns and `serial` types fill themselves and are fine.

## Why it breaks old code
The running (N-1) release does not know the column, so its `INSERT`s leave it out. With
no default PostgreSQL puts NULL there and the `NOT NULL` constraint rejects every insert
of the old code for as long as it runs: the whole blue/green window, and after a rollback.

## Instead
Add the column with a `DEFAULT` (a constant default is instant since PostgreSQL 11), or
add it nullable, deploy code that writes it, backfill, and add `NOT NULL` in a later
release (see `set-not-null` for doing that without a long lock).

## Known problems
A table that old code never inserts into is safe; the lint cannot know that. Use the
override marker with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from spectral_deploy.lint.context import Context, ObjectKind, has_default
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule, alter_commands
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]

_REQUIRED = {"CONSTR_NOTNULL": len("NOT NULL"), "CONSTR_PRIMARY": len("PRIMARY KEY")}


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag ADD COLUMN ... NOT NULL without a default."""
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_AddColumn"):
        column = command.get("def", {}).get("ColumnDef", {})
        if has_default(column):
            continue
        for item in column.get("constraints", ()):
            constraint = item.get("Constraint", {})
            width = _REQUIRED.get(constraint.get("contype", ""))
            if width is None:
                continue
            name = column.get("colname", "")
            yield Finding(
                (
                    statement.offset(column.get("location")),
                    statement.offset(constraint.get("location")) + width,
                ),
                f'adding column "{name}" to table {table.display} as NOT NULL without a '
                "default makes every INSERT of the running release (which does not know "
                "the column) fail",
                (ObjectKind.TABLE, table),
            )
            break


RULE = Rule(
    code="MC101",
    name="adding-required-column",
    summary="ADD COLUMN ... NOT NULL without a DEFAULT on an existing table",
    help="give the column a DEFAULT, or add it nullable, backfill, and add NOT NULL "
    "in a later release",
    doc=__doc__ or "",
    bad="ALTER TABLE users ADD COLUMN email text NOT NULL;",
    ok="ALTER TABLE users ADD COLUMN email text NOT NULL DEFAULT '';\n"
    "ALTER TABLE users ADD COLUMN id2 bigint GENERATED ALWAYS AS IDENTITY;\n"
    "CREATE TABLE posts (id bigint);\nALTER TABLE posts ADD COLUMN title text NOT NULL;",
    nodes=("AlterTableStmt",),
    check=check,
)
