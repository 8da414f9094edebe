"""Adding a uniqueness guarantee to an existing table.

## What it does
Flags a `UNIQUE`, `PRIMARY KEY` or `EXCLUDE` constraint added with `ALTER TABLE ... ADD`,
an inline `UNIQUE` / `PRIMARY KEY` on a column added to an existing table, and
`CREATE UNIQUE INDEX` (concurrently or not) on a table that is not new.
`ADD CONSTRAINT ... UNIQUE USING INDEX` is not flagged: the index it promotes already
enforced uniqueness and was flagged when it was created.

A `UNIQUE` column added without a default stays NULL in the running release's writes, and
NULLs are distinct (unless `NULLS NOT DISTINCT`): it is flagged for the index build under
the `ACCESS EXCLUSIVE` lock of `ADD COLUMN` alone.

## Why it breaks old code
The running (N-1) release does not know the rule: writes it makes that were fine yesterday
now fail with a unique violation. Building the index also reads the whole table; without
`CONCURRENTLY` it blocks writes meanwhile, and the build fails outright if the existing
rows already hold duplicates.

## Instead
Release code that never writes duplicates (and cleans up the ones that exist) first. Then
`CREATE UNIQUE INDEX CONCURRENTLY`, and, if a constraint is wanted,
`ALTER TABLE ... ADD CONSTRAINT ... UNIQUE USING INDEX`, with the override marker
stating that no deployed code writes duplicates.

## Known problems
When old code provably never writes duplicates, the new guarantee is safe; the lint cannot
know that. Use the override marker with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from spectral_deploy.lint.context import Context, ObjectKind, QualifiedName
from spectral_deploy.lint.parse import Node, Statement
from spectral_deploy.lint.rule import Rule, alter_commands, index_exists
from spectral_deploy.lint.schema import column_has_default
from spectral_deploy.lint.violation import Finding, Span

__all__ = ["RULE"]

_UNIQUE = {
    "CONSTR_UNIQUE": "a UNIQUE constraint",
    "CONSTR_PRIMARY": "a PRIMARY KEY",
    "CONSTR_EXCLUSION": "an EXCLUDE constraint",
}


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag UNIQUE / PRIMARY KEY constraints and unique indexes on existing tables."""
    if statement.kind == "IndexStmt":
        if statement.node.get("unique") and not index_exists(statement, context):
            table = context.relation(statement.node["relation"])
            yield _finding(
                partial(statement.clause, "CREATE", "UNIQUE", "INDEX"), "a unique index", table
            )
        return
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_AddConstraint", "AT_AddColumn"):
        definition = command.get("def", {})
        constraints: list[Node] = []
        empty_column = None  # an added column the running release leaves NULL
        if "Constraint" in definition:
            constraints.append(definition["Constraint"])
        else:
            column = definition.get("ColumnDef", {})
            name = column.get("colname", "")
            if command.get("missing_ok") and context.model.has_column(table, name):
                continue  # ADD COLUMN IF NOT EXISTS of a column that is there: a no-op
            constraints.extend(
                item["Constraint"] for item in column.get("constraints", ()) if "Constraint" in item
            )
            if not column_has_default(column):
                empty_column = name
        for constraint in constraints:
            contype = constraint.get("contype", "")
            what = _UNIQUE.get(contype)
            if what is None or constraint.get("indexname"):
                continue
            span = partial(statement.clause_at, statement.offset(constraint.get("location")))
            if (
                empty_column is not None
                and contype == "CONSTR_UNIQUE"
                and not constraint.get("nulls_not_distinct")
            ):
                yield Finding(  # NULLs are distinct: only the build hurts
                    span,
                    f'adding column "{empty_column}" with a UNIQUE constraint builds its '
                    f"index while holding an ACCESS EXCLUSIVE lock on table {table.display}: "
                    "reads and writes of the running release wait for the whole build",
                    (ObjectKind.TABLE, table),
                )
                continue
            yield _finding(span, what, table)


def _finding(span: Callable[[], Span], what: str, table: QualifiedName) -> Finding:
    return Finding(
        span,
        f"adding {what} to existing table {table.display} makes writes of the running "
        "release that it does not expect fail (unique or exclusion violations)",
        (ObjectKind.TABLE, table),
    )


RULE = Rule(
    code="MC105",
    name="unique-on-existing-table",
    summary="UNIQUE / PRIMARY KEY / EXCLUDE constraint or unique index on an existing table",
    help="release code that never writes duplicates first, then CREATE UNIQUE INDEX "
    "CONCURRENTLY with the override marker stating why old code is safe",
    doc=__doc__ or "",
    bad="CREATE UNIQUE INDEX users_email_key ON users (email);",
    ok="CREATE TABLE tokens (value text UNIQUE);\n"
    "CREATE UNIQUE INDEX tokens_value_key ON tokens (value);",
    nodes=("AlterTableStmt", "IndexStmt"),
    check=check,
)
