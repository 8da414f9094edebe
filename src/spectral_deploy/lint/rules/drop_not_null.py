"""Letting an existing column hold NULL: ``ALTER COLUMN ... DROP NOT NULL`` (off by default).

## What it does
Flags `ALTER TABLE ... ALTER COLUMN ... DROP NOT NULL` on a table that is not new.

## Why it breaks old code
Readers of the running (N-1) release may map the column to a type that cannot hold NULL
(a Go `string`, a Rust `i64`, a Java `int`, a non-optional field): as soon as new code
writes a NULL, the old release fails to read that row.

## Instead
Release readers that accept NULL first; let writers produce NULL in a later release.

## Known problems
This is also the first, safe step of retiring a required column, and many stacks read
NULL without trouble, so the rule is off by default. Enable it with
`enable = ["drop-not-null"]` in the `[lint]` config when your readers are strict.
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
    """Flag DROP NOT NULL of a column old code reads."""
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_DropNotNull"):
        name = command.get("name", "")
        if context.is_new_column(table, name):
            continue
        yield Finding(
            partial(statement.clause_from, ("ALTER",), name),
            f'column "{name}" of table {table.display} may now hold NULL, which readers of '
            "the running release may not accept",
            (ObjectKind.TABLE, table),
        )


RULE = Rule(
    code="MC114",
    name="drop-not-null",
    summary="DROP NOT NULL on a column of an existing table",
    help="release readers that accept NULL before any writer produces one",
    doc=__doc__ or "",
    bad="ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
    ok="ALTER TABLE users ALTER COLUMN email SET DEFAULT '';",
    nodes=("AlterTableStmt",),
    check=check,
    default=False,
)
