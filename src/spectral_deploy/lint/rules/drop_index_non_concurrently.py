"""Dropping an index without ``CONCURRENTLY``.

## What it does
Flags `DROP INDEX` without `CONCURRENTLY` of an index the change set did not create.

## Why it breaks old code
A plain `DROP INDEX` takes an `ACCESS EXCLUSIVE` lock on the index's table. It is quick
once granted, but while it waits for running queries to finish, every new read and write
of the running release queues behind it.

## Instead
`DROP INDEX CONCURRENTLY` (outside a transaction block). Also check that no query of the
running release needs the index to stay fast.

## Known problems
`DROP INDEX CONCURRENTLY` cannot drop the index behind a constraint; drop the constraint
instead (and read `drop-column` / `unique-on-existing-table` for what that means).
"""

from __future__ import annotations

from collections.abc import Iterator

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule, drop_findings
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]

_INDEX = {"OBJECT_INDEX": "index"}


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag DROP INDEX without CONCURRENTLY."""
    if statement.node.get("concurrent"):
        return iter(())
    return drop_findings(
        statement,
        context,
        _INDEX,
        ObjectKind.INDEX,
        "without CONCURRENTLY locks its table against every read and write while it "
        "waits for running queries",
    )


RULE = Rule(
    code="MC204",
    name="drop-index-non-concurrently",
    summary="DROP INDEX without CONCURRENTLY",
    help="use DROP INDEX CONCURRENTLY, outside a transaction block",
    doc=__doc__ or "",
    bad="DROP INDEX orders_user_idx;",
    ok="DROP INDEX CONCURRENTLY orders_user_idx;",
    nodes=("DropStmt",),
    check=check,
)
