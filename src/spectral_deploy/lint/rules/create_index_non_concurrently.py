"""Building an index without ``CONCURRENTLY``.

## What it does
Flags `CREATE [UNIQUE] INDEX` without `CONCURRENTLY` on a table that is not new. An index
on a table the change set created is fine: the table is empty and unused.

## Why it breaks old code
A plain index build holds a `SHARE` lock on the table for the whole build: every
`INSERT`, `UPDATE` and `DELETE` of the running release waits, for minutes on a large
table.

## Instead
`CREATE INDEX CONCURRENTLY` (outside a transaction block; the migration runner must run
the statement on its own). If a concurrent build fails it leaves an `INVALID` index:
drop it and build again.

`CREATE INDEX IF NOT EXISTS` of an index the schema model knows exists does nothing and
is not flagged.

## Known problems
On a small table the lock is short; the lint does not know table sizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule, index_exists
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag CREATE INDEX without CONCURRENTLY."""
    if statement.node.get("concurrent") or index_exists(statement, context):
        return
    table = context.relation(statement.node["relation"])
    yield Finding(
        partial(statement.clause, "CREATE", "INDEX"),
        f"building an index on table {table.display} without CONCURRENTLY blocks writes "
        "of the running release for the whole build",
        (ObjectKind.TABLE, table),
    )


RULE = Rule(
    code="MC203",
    name="create-index-non-concurrently",
    summary="CREATE INDEX without CONCURRENTLY on an existing table",
    help="use CREATE INDEX CONCURRENTLY, outside a transaction block",
    doc=__doc__ or "",
    bad="CREATE INDEX orders_user_idx ON orders (user_id);",
    ok="CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);",
    nodes=("IndexStmt",),
    check=check,
)
