"""Adding a CHECK constraint without ``NOT VALID``.

## What it does
Flags `ALTER TABLE ... ADD CONSTRAINT ... CHECK (...)` without `NOT VALID` on a table that
is not new, and `VALIDATE CONSTRAINT` of such a constraint in the same transaction that
added it `NOT VALID` (the same migration file, with no `COMMIT` between): the `ADD`'s
lock is still held, so the validation scan blocks as if `NOT VALID` were not there.

Also flags a column added to an existing table with an inline `CHECK`
(`ADD COLUMN n int CHECK (n >= 0)`, Django's `PositiveIntegerField`): PostgreSQL scans
every row to check it, even when the new column is NULL everywhere, under the
`ACCESS EXCLUSIVE` lock of `ADD COLUMN` (an inline check cannot be `NOT VALID`).

## Why it breaks old code
PostgreSQL validates every existing row while holding an `ACCESS EXCLUSIVE` lock: on a
large table every read and write of the running release waits for the whole scan, which
looks like an outage. The new rule may also reject writes the old release still makes.

## Instead
Add the constraint `NOT VALID` (instant; it applies to new writes only), then
`ALTER TABLE ... VALIDATE CONSTRAINT ...` in a separate transaction: validation takes a
`SHARE UPDATE EXCLUSIVE` lock, which does not block reads or writes. Release code that
satisfies the check before adding it.
For a new column: add it without the check, then add the check `NOT VALID` and validate it
in a later transaction.

## Known problems
None known.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule, alter_commands, validated_too_soon
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag ADD CONSTRAINT ... CHECK without NOT VALID, or validated in the same transaction."""
    yield from validated_too_soon(statement, context, "CONSTR_CHECK", "CHECK constraint")
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_AddColumn"):
        column = command.get("def", {}).get("ColumnDef", {})
        name = column.get("colname", "")
        if command.get("missing_ok") and context.model.has_column(table, name):
            continue  # ADD COLUMN IF NOT EXISTS of a column that is there: a no-op
        for item in column.get("constraints", ()):
            constraint = item.get("Constraint", {})
            if constraint.get("contype") == "CONSTR_CHECK":
                yield Finding(
                    partial(statement.clause_at, statement.offset(constraint.get("location"))),
                    f'adding column "{name}" with a CHECK constraint scans every row of table '
                    f"{table.display} under an ACCESS EXCLUSIVE lock, blocking the running "
                    "release",
                    (ObjectKind.TABLE, table),
                )
    for command in alter_commands(statement, "AT_AddConstraint"):
        constraint = command.get("def", {}).get("Constraint", {})
        if constraint.get("contype") != "CONSTR_CHECK" or constraint.get("skip_validation"):
            continue
        yield Finding(
            partial(statement.clause_at, statement.offset(constraint.get("location"))),
            f"adding a CHECK constraint to table {table.display} without NOT VALID scans "
            "every row under an ACCESS EXCLUSIVE lock, blocking the running release",
            (ObjectKind.TABLE, table),
        )


RULE = Rule(
    code="MC201",
    name="check-without-not-valid",
    summary="ADD CONSTRAINT ... CHECK without NOT VALID on an existing table",
    help="add the constraint NOT VALID, then VALIDATE CONSTRAINT in a separate transaction",
    doc=__doc__ or "",
    bad="ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total >= 0);\n"
    "ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID;\n"
    "ALTER TABLE orders VALIDATE CONSTRAINT qty_positive;  -- same transaction",
    ok="ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total >= 0) NOT VALID;\n"
    "-- and in the next migration (another transaction):\n"
    "-- ALTER TABLE orders VALIDATE CONSTRAINT total_positive;",
    nodes=("AlterTableStmt",),
    check=check,
)
