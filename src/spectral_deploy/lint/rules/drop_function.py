"""Dropping a function or procedure.

## What it does
Flags `DROP FUNCTION`, `DROP PROCEDURE` and `DROP ROUTINE` of a routine the change set did
not create.

## Why it breaks old code
The running (N-1) release may call the function, directly or through a trigger, a default
or a view: those calls fail with `function does not exist` once the migration commits.

## Instead
Give changed functions a new versioned name (`claim_batch_v2`) and keep the old one until
no deployed code calls it; drop it in a later release.

## Known problems
Dropping one overload of a function old code never calls is safe; the lint compares names
only, not argument types. Use the override marker with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule, drop_findings
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]

_ROUTINES = {
    "OBJECT_FUNCTION": "function",
    "OBJECT_PROCEDURE": "procedure",
    "OBJECT_ROUTINE": "routine",
}


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag DROP FUNCTION of an existing routine."""
    return drop_findings(
        statement,
        context,
        _ROUTINES,
        ObjectKind.FUNCTION,
        "breaks the running release if it (or a trigger or view it uses) still calls it",
    )


RULE = Rule(
    code="MC110",
    name="drop-function",
    summary="DROP FUNCTION / PROCEDURE of an existing routine",
    help="add a versioned routine (name_v2) beside it and drop the old one in a later release",
    doc=__doc__ or "",
    bad="DROP FUNCTION claim_batch(integer);",
    ok="CREATE FUNCTION tmp_fix() RETURNS void LANGUAGE sql AS 'SELECT 1';\n"
    "DROP FUNCTION tmp_fix();",
    nodes=("DropStmt",),
    check=check,
)
