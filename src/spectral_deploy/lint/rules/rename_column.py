"""Renaming a column of a table or view.

## What it does
Flags `ALTER TABLE ... RENAME COLUMN` on a table that is not new, unless the same change
set added the column, and `ALTER VIEW / MATERIALIZED VIEW ... RENAME COLUMN` of a view
the change set did not create.

## Why it breaks old code
The running (N-1) release reads and writes the column by its old name: those statements
fail with `column does not exist` as soon as the migration commits.

## Instead
Add the new column, write both from code (or keep them in sync with a trigger), backfill,
switch reads, and drop the old column in a later release. Or, with the table renamed too,
put a view under the old table name in the same migration that gives the column its old
name back (`CREATE VIEW users AS SELECT id, full_name AS name FROM app_users`): the lint
recognises it and flags neither rename.

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
    kind = _RELATIONS.get(node.get("relationType", ""))
    if kind is None:
        return
    noun, object_kind = kind
    table = context.relation(relation)
    old_name = node.get("subname", "")
    if context.is_new_column(table, old_name) or context.is_new(ObjectKind.VIEW, table):
        return
    yield Finding(
        partial(statement.clause, "RENAME", name=old_name),
        f'renaming column "{old_name}" of {noun} {table.display} to "{node.get("newname", "")}" '
        "breaks the running release, which still uses the old name",
        (object_kind, table),
        replaced=context.origin(table),
    )


_RELATIONS = {
    "OBJECT_TABLE": ("table", ObjectKind.TABLE),
    "OBJECT_FOREIGN_TABLE": ("table", ObjectKind.TABLE),
    "OBJECT_VIEW": ("view", ObjectKind.VIEW),
    "OBJECT_MATVIEW": ("materialized view", ObjectKind.VIEW),
}


RULE = Rule(
    code="MC107",
    name="rename-column",
    summary="RENAME COLUMN on an existing table or view",
    help="add the new column, write both, backfill, switch reads, then drop the old "
    "column in a later release",
    doc=__doc__ or "",
    bad="ALTER TABLE users RENAME COLUMN name TO full_name;\n"
    "ALTER VIEW active_users RENAME COLUMN name TO full_name;",
    ok="ALTER TABLE users ADD COLUMN full_name text;",
    nodes=("RenameStmt",),
    check=check,
)
