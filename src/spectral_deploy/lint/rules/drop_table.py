"""Dropping a table.

## What it does
Flags `DROP TABLE` (and `DROP FOREIGN TABLE`) of a table that is not new. A staging
table created and dropped in the same change set is fine, and so is `DROP TABLE IF
EXISTS` of a table the schema model knows does not exist.

## Why it breaks old code
The running (N-1) release still queries the table: every one of those queries fails with
`relation does not exist` once the migration commits, and a rollback cannot restore the
table or its rows.

## Instead
Release code that no longer uses the table first; drop it in a later release. If the data
may be needed again, rename it aside in that later release and drop it after that.

## Known problems
A table that no deployed code uses any more is safe to drop; the lint cannot know that.
Use the override marker with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context, ObjectKind, dropped_names
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag DROP TABLE of each existing table."""
    if statement.node.get("removeType") not in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
        return
    missing_ok = bool(statement.node.get("missing_ok"))
    for table in dropped_names(context, statement.node):
        if missing_ok and context.known_absent(ObjectKind.TABLE, table):
            continue  # DROP TABLE IF EXISTS of a table known not to exist
        yield Finding(
            partial(statement.clause, "DROP", name=table.name),
            f"dropping table {table.display} breaks the running release, which still uses it",
            (ObjectKind.TABLE, table),
        )


RULE = Rule(
    code="MC103",
    name="drop-table",
    summary="DROP TABLE of an existing table",
    help="stop using the table in code first, then drop it in a later release",
    doc=__doc__ or "",
    bad="DROP TABLE sessions;",
    ok="CREATE TABLE import_staging (id bigint);\nDROP TABLE import_staging;",
    nodes=("DropStmt",),
    check=check,
)
