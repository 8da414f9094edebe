"""Renaming a table.

## What it does
Flags `ALTER TABLE ... RENAME TO` (and the same on a foreign table) of a table that is
not new.

## Why it breaks old code
The running (N-1) release queries the table by its old name: every such query fails with
`relation does not exist` from the moment the migration commits until the old release is
gone, and again after a rollback.

## Instead
Keep the old name working: in the same migration, create a view with the old name over
the renamed table (`CREATE VIEW users AS SELECT * FROM app_users`), which PostgreSQL
reads and writes through; move code to the new name, and drop the view in a later
release. The lint recognises such a view: a simple projection of every row of the renamed
table exposing every column the old release knows (under its old name, `AS` if renamed),
created later in the same file, and then does not flag the rename.

## Known problems
The view must come in the same file as the rename (one transaction), so there is no
moment without the old name.
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
    """Flag RENAME of an existing table."""
    node = statement.node
    if node.get("renameType") not in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
        return
    relation = node.get("relation")
    if relation is None:
        return
    table = context.relation(relation)
    new_name = node.get("newname", "")
    yield Finding(
        partial(statement.clause, "RENAME", "TO", name=new_name),
        f'renaming table {table.display} to "{new_name}" breaks the running release, '
        "which still uses the old name",
        (ObjectKind.TABLE, table),
        replaced=context.origin(table),
    )


RULE = Rule(
    code="MC106",
    name="rename-table",
    summary="RENAME of an existing table",
    help="keep the old name working (a view over the renamed table) until no deployed code uses it",
    doc=__doc__ or "",
    bad="ALTER TABLE users RENAME TO accounts;",
    ok="CREATE TABLE draft (id bigint);\nALTER TABLE draft RENAME TO drafts;\n"
    "ALTER TABLE users RENAME TO app_users;\n"
    "CREATE VIEW users AS SELECT * FROM app_users;",
    nodes=("RenameStmt",),
    check=check,
)
