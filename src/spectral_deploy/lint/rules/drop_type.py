"""Dropping a type or domain.

## What it does
Flags `DROP TYPE` (enums, composite and range types) and `DROP DOMAIN` of a type the change
set did not create.

## Why it breaks old code
Columns, functions and casts in the running (N-1) release's queries name the type
(`'active'::order_status`): those statements fail once the type is gone, and a
`CASCADE` silently drops the columns that used it.

## Instead
Move columns and code off the type first (for an enum, to `text` with a `CHECK`, or to a
new type), and drop it in a later release.

## Known problems
None known.
"""

from __future__ import annotations

from collections.abc import Iterator

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule, drop_findings
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]

_TYPES = {"OBJECT_TYPE": "type", "OBJECT_DOMAIN": "domain"}


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag DROP TYPE / DROP DOMAIN of an existing type."""
    return drop_findings(
        statement,
        context,
        _TYPES,
        ObjectKind.TYPE,
        "breaks the running release's statements that still name it",
    )


RULE = Rule(
    code="MC111",
    name="drop-type",
    summary="DROP TYPE / DROP DOMAIN of an existing type",
    help="move columns and code off the type first and drop it in a later release",
    doc=__doc__ or "",
    bad="DROP TYPE order_status;",
    ok="CREATE TYPE mood AS ENUM ('ok', 'sad');\nDROP TYPE mood;",
    nodes=("DropStmt",),
    check=check,
)
