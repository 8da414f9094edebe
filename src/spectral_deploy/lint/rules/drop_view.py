"""Dropping a view or materialized view.

## What it does
Flags `DROP VIEW` and `DROP MATERIALIZED VIEW` of a view the change set did not create.

## Why it breaks old code
The running (N-1) release may query the view: those queries fail with
`relation does not exist` once the migration commits. Views are often the stable
interface reporting jobs and other services read, far from the code being deployed.

## Instead
Move readers off the view first and drop it in a later release. To change a view's
definition, `CREATE OR REPLACE VIEW` keeps its name (it may only add columns at the end),
or create a new versioned view (`orders_v2`) beside the old one.

## Known problems
`DROP VIEW` followed by `CREATE VIEW` of the same name in one transaction is a common way
to change a view that `CREATE OR REPLACE` cannot; old code keeps working if the new view
has the same columns. The lint flags the drop: use the override marker with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule, drop_findings
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]

_VIEWS = {"OBJECT_VIEW": "view", "OBJECT_MATVIEW": "materialized view"}


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag DROP VIEW of an existing view."""
    return drop_findings(
        statement,
        context,
        _VIEWS,
        ObjectKind.VIEW,
        "breaks the running release and anything else that still queries it",
    )


RULE = Rule(
    code="MC109",
    name="drop-view",
    summary="DROP VIEW / DROP MATERIALIZED VIEW of an existing view",
    help="move readers off the view first and drop it in a later release, or add a "
    "versioned view beside it",
    doc=__doc__ or "",
    bad="DROP VIEW active_users;",
    ok="CREATE VIEW recent_orders AS SELECT 1 AS id;\nDROP VIEW recent_orders;",
    nodes=("DropStmt",),
    check=check,
)
