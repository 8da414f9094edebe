"""Adding a foreign key without ``NOT VALID``.

## What it does
Flags `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY` (or `REFERENCES`) without
`NOT VALID` on a table that is not new, and `VALIDATE CONSTRAINT` of such a key in the
same transaction that added it `NOT VALID` (the same file, no `COMMIT` between).

A foreign key declared inline on a column added in the same statement
(`ADD COLUMN ... REFERENCES`) is flagged only when PostgreSQL checks it: when the column
has a `DEFAULT` (even `DEFAULT NULL`), is `serial` or `GENERATED ... STORED`. Without one
the column is NULL in every row and PostgreSQL skips the scan.

## Why it breaks old code
PostgreSQL checks every existing row against the referenced table while holding a
`SHARE ROW EXCLUSIVE` lock on both tables: writes of the running release to either table
wait for the whole scan. Writes the old release makes that violate the new key start to
fail.

## Instead
Add the foreign key `NOT VALID` (it applies to new writes at once), then
`ALTER TABLE ... VALIDATE CONSTRAINT ...` in a separate transaction, which does not block
writes. Release code that writes only valid references before adding it.

## Known problems
PostgreSQL does not check the inline foreign key of an added identity column either (its
values go unchecked); the lint follows it, and the rewrite is adding-column-rewrites-table's.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Node, Statement, string_list
from spectral_deploy.lint.rule import Rule, alter_commands, validated_too_soon
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag ADD CONSTRAINT ... FOREIGN KEY without NOT VALID, or validated in the same
    transaction."""
    yield from validated_too_soon(statement, context, "CONSTR_FOREIGN", "foreign key")
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_AddColumn"):
        column = command.get("def", {}).get("ColumnDef", {})
        if not _checked_when_added(column):
            continue  # PostgreSQL skips the check (the column is NULL in every row)
        for item in column.get("constraints", ()):
            constraint = item.get("Constraint", {})
            if constraint.get("contype") == "CONSTR_FOREIGN":
                yield Finding(
                    partial(statement.clause_at, statement.offset(constraint.get("location"))),
                    f'adding column "{column.get("colname", "")}" to table {table.display} '
                    "with a default and a foreign key checks every row while blocking writes "
                    "of the running release to both tables",
                    (ObjectKind.TABLE, table),
                )
    for command in alter_commands(statement, "AT_AddConstraint"):
        constraint = command.get("def", {}).get("Constraint", {})
        if constraint.get("contype") != "CONSTR_FOREIGN" or constraint.get("skip_validation"):
            continue
        yield Finding(
            partial(statement.clause_at, statement.offset(constraint.get("location"))),
            f"adding a foreign key to table {table.display} without NOT VALID scans every "
            "row while blocking writes of the running release to both tables",
            (ObjectKind.TABLE, table),
        )


_SERIAL = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})


def _checked_when_added(column: Node) -> bool:
    """Whether PostgreSQL checks the inline foreign keys of an added column: when it has a
    default expression (even ``DEFAULT NULL``), is serial, or generated (parse_utilcmd.c
    skips the check only for a column without ``raw_default``; an identity has none)."""
    names = string_list(column.get("typeName", {}).get("names"))
    if names and names[-1] in _SERIAL:
        return True
    return any(
        item.get("Constraint", {}).get("contype") in ("CONSTR_DEFAULT", "CONSTR_GENERATED")
        for item in column.get("constraints", ())
    )


RULE = Rule(
    code="MC202",
    name="foreign-key-without-not-valid",
    summary="ADD CONSTRAINT ... FOREIGN KEY without NOT VALID on an existing table",
    help="add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a separate transaction",
    doc=__doc__ or "",
    bad="ALTER TABLE orders ADD CONSTRAINT orders_user_fk "
    "FOREIGN KEY (user_id) REFERENCES users (id);",
    ok="ALTER TABLE orders ADD CONSTRAINT orders_user_fk "
    "FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
    nodes=("AlterTableStmt",),
    check=check,
)
