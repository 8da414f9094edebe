"""Dropping a schema: ``DROP SCHEMA`` (with ``CASCADE``, everything in it).

## What it does
Flags `DROP SCHEMA` of a schema the change set did not create. With `CASCADE` it drops
every table, view, function, type and sequence in the schema, and whatever elsewhere
depends on them (views, foreign keys, column defaults), without naming any of them.
When the schema model knows the schema is empty (and the statement has no `CASCADE`),
or knows it does not exist (`IF EXISTS`), nothing the running release uses goes away
and it is not flagged.

## Why it breaks old code
The running (N-1) release queries objects in the schema by qualified name or through
its `search_path`: once the migration commits those statements fail with
`relation does not exist` (or `function does not exist`), and a rollback cannot bring
the objects or their rows back. `CASCADE` makes one line of SQL drop far more than
anyone reviewed.

## Instead
Move or drop the objects one by one, each in the release after no deployed code uses
it (the lint checks each of those drops), and drop the empty schema last, without
`CASCADE`.

## Known problems
A schema only tools outside the application use (a reporting or extension schema) is
safe to drop when they are gone; the lint cannot know that. Use the override marker
with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context
from spectral_deploy.lint.names import ObjectKind, QualifiedName
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag DROP SCHEMA of a schema old code may use."""
    node = statement.node
    if node.get("removeType") != "OBJECT_SCHEMA":
        return
    cascade = node.get("behavior") == "DROP_CASCADE"
    for item in node.get("objects", ()):
        schema = item.get("String", {}).get("sval", "")
        name = QualifiedName("", schema)
        if node.get("missing_ok") and context.known_absent(ObjectKind.SCHEMA, name):
            continue
        known_empty = (
            context.model.complete
            and context.model.exists(ObjectKind.SCHEMA, name)
            and context.model.objects_in(schema) == 0
        )
        if known_empty and not cascade:
            continue
        what = (
            "and, with CASCADE, every table, view, function, type and sequence in it "
            if cascade
            else ""
        )
        yield Finding(
            partial(statement.clause, "DROP", "SCHEMA", name=schema),
            f'dropping schema "{schema}" {what}breaks the running release, which still '
            "uses what is in it",
            (ObjectKind.SCHEMA, name),
        )


RULE = Rule(
    code="MC115",
    name="drop-schema",
    summary="DROP SCHEMA (with or without CASCADE) of an existing schema",
    help="drop the objects in it one by one, each once no deployed code uses it, then "
    "the empty schema without CASCADE",
    doc=__doc__ or "",
    bad="DROP SCHEMA billing CASCADE;",
    ok="CREATE SCHEMA scratch;\nDROP SCHEMA scratch CASCADE;",
    nodes=("DropStmt",),
    check=check,
)
