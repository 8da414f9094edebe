"""Renaming a column.

## What it does
Flags `ALTER TABLE ... RENAME COLUMN` on a table that is not new, unless the same change
set added the column.

## Why it breaks old code
The running (N-1) release reads and writes the column by its old name: those statements
fail with `column does not exist` as soon as the migration commits.

## Instead
Add the new column, write both from code (or keep them in sync with a trigger), backfill,
switch reads, and drop the old column in a later release.

## Known problems
None known.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag RENAME COLUMN of a column old code knows."""
    node = statement.node
    relation = node.get("relation")
    if node.get("renameType") != "OBJECT_COLUMN" or relation is None:
        return
    if node.get("relationType") not in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
        return
    table = context.relation(relation)
    old_name = node.get("subname", "")
    if context.is_new_column(table, old_name):
        return
    yield Finding(
        partial(statement.clause, "RENAME", name=old_name),
        f'renaming column "{old_name}" of table {table.display} to "{node.get("newname", "")}" '
        "breaks the running release, which still uses the old name",
        (ObjectKind.TABLE, table),
    )


RULE = Rule(
    code="MC107",
    name="rename-column",
    summary="RENAME COLUMN on an existing table",
    help="add the new column, write both, backfill, switch reads, then drop the old "
    "column in a later release",
    doc=__doc__ or "",
    bad="ALTER TABLE users RENAME COLUMN name TO full_name;",
    ok="ALTER TABLE users ADD COLUMN full_name text;",
    nodes=("RenameStmt",),
    check=check,
)
