"""Moving a table, view, function, type or sequence to another schema: ``SET SCHEMA``.

## What it does
Flags `ALTER TABLE / VIEW / MATERIALIZED VIEW / FUNCTION / TYPE / DOMAIN / SEQUENCE ...
SET SCHEMA` of an object the change set did not create.

## Why it breaks old code
The running (N-1) release finds the object by its schema-qualified name, or through its
`search_path`: after the move those statements fail with `does not exist`, exactly as
after a rename.

## Instead
Create the object in the new schema (or a view there over the old table), move code
over, and remove the old one in a later release.

## Known problems
If the old release's `search_path` contains the new schema and it never qualifies the
name, the move is invisible to it; the lint cannot know that. Use the override marker.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule, object_name
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]

_MOVED = {
    "OBJECT_TABLE": ("table", ObjectKind.TABLE),
    "OBJECT_FOREIGN_TABLE": ("foreign table", ObjectKind.TABLE),
    "OBJECT_VIEW": ("view", ObjectKind.VIEW),
    "OBJECT_MATVIEW": ("materialized view", ObjectKind.VIEW),
    "OBJECT_FUNCTION": ("function", ObjectKind.FUNCTION),
    "OBJECT_PROCEDURE": ("procedure", ObjectKind.FUNCTION),
    "OBJECT_TYPE": ("type", ObjectKind.TYPE),
    "OBJECT_DOMAIN": ("domain", ObjectKind.TYPE),
    "OBJECT_SEQUENCE": ("sequence", None),
}


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag SET SCHEMA of an existing object."""
    described = _MOVED.get(statement.node.get("objectType", ""))
    name = object_name(statement.node, context)
    if described is None or name is None:
        return
    noun, kind = described
    new_schema = statement.node.get("newschema", "")
    yield Finding(
        partial(statement.clause, "SET", "SCHEMA", name=new_schema),
        f'moving {noun} {name.display} to schema "{new_schema}" breaks the running '
        "release, which still finds it under the old schema",
        (kind, name) if kind is not None else None,
    )


RULE = Rule(
    code="MC113",
    name="set-schema",
    summary="SET SCHEMA of an existing table, view, function, type or sequence",
    help="create the object in the new schema beside the old one, move code over, and "
    "remove the old one in a later release",
    doc=__doc__ or "",
    bad="ALTER TABLE invoices SET SCHEMA billing;",
    ok="CREATE TABLE drafts (id bigint);\nALTER TABLE drafts SET SCHEMA archive;",
    nodes=("AlterObjectSchemaStmt",),
    check=check,
)
