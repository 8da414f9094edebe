"""Making an existing column required: ``ALTER COLUMN ... SET NOT NULL``.

## What it does
Flags `ALTER TABLE ... ALTER COLUMN ... SET NOT NULL` (and `ADD CONSTRAINT ... NOT NULL`
without `NOT VALID`) on a table that is not new. A column the same change set added with
a non-NULL default is fine: old code never writes it, so it always gets the default.
So is a column the schema model knows is `NOT NULL` already, or one a validated
`CHECK (col IS NOT NULL)` already guards (PostgreSQL 12+ then needs no scan, and old
code's NULLs were already refused by the check), unless the change set added the column
without a default.

## Why it breaks old code
The running (N-1) release may write NULL into the column, or leave it out of its
`INSERT`s: those writes now fail. And PostgreSQL checks every row while holding an
`ACCESS EXCLUSIVE` lock, blocking all reads and writes of the table for the whole scan.

## Instead
Release code that always writes a value first and backfill the NULLs. Then add
`CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it (a scan that does not block
writes), and only then `SET NOT NULL`, which PostgreSQL 12+ proves from the valid check
without scanning.

## Known problems
The validated check must be known to the schema model: earlier in the change set, in the
project's history, or in the database given with `--schema-from`. A file linted on its
own with the check added elsewhere is still flagged.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context, ObjectKind, QualifiedName
from spectral_deploy.lint.parse import Statement, string_list
from spectral_deploy.lint.rule import Rule, alter_commands
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag SET NOT NULL on a column old code may leave NULL."""
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_SetNotNull", "AT_AddConstraint"):
        if command.get("subtype") == "AT_SetNotNull":
            columns = [command.get("name", "")]
            span = partial(statement.clause_from, ("ALTER",), columns[0])
        else:
            constraint = command.get("def", {}).get("Constraint", {})
            if constraint.get("contype") != "CONSTR_NOTNULL" or constraint.get("skip_validation"):
                continue
            columns = string_list(constraint.get("keys"))
            span = partial(statement.clause_at, statement.offset(constraint.get("location")))
        for column in columns:
            if _already_guarded(context, table, column):
                continue
            yield Finding(
                span,
                f'making column "{column}" of table {table.display} NOT NULL breaks writes '
                "of the running release that leave it NULL, and scans the table under an "
                "ACCESS EXCLUSIVE lock",
                (ObjectKind.TABLE, table),
            )


def _already_guarded(context: Context, table: QualifiedName, column: str) -> bool:
    """True when old code's writes cannot newly fail and no table scan is needed."""
    if context.is_new_column(table, column):
        return context.new_column_has_default(table, column)
    known = context.model.column(table, column)
    if known is not None and known.not_null:
        return True
    check = context.model.not_null_check(table, column)
    return check is not None and check.validated


RULE = Rule(
    code="MC108",
    name="set-not-null",
    summary="SET NOT NULL on a column of an existing table",
    help="backfill, add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL "
    "in a later release",
    doc=__doc__ or "",
    bad="ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    ok="ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';\n"
    "ALTER TABLE users ALTER COLUMN plan SET NOT NULL;\n"
    "ALTER TABLE users ADD CONSTRAINT email_present CHECK (email IS NOT NULL) NOT VALID;\n"
    "ALTER TABLE users VALIDATE CONSTRAINT email_present;\n"
    "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    nodes=("AlterTableStmt",),
    check=check,
)
