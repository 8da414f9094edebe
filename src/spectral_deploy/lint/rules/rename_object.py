"""Renaming something old code names: a view, function, type, schema, sequence or enum value.

## What it does
Flags `ALTER VIEW / MATERIALIZED VIEW / FUNCTION / PROCEDURE / TYPE / DOMAIN / SCHEMA /
SEQUENCE ... RENAME TO`, `ALTER TYPE ... RENAME ATTRIBUTE` and
`ALTER TYPE ... RENAME VALUE` of objects the change set did not create. Tables and
columns have their own rules (`rename-table`, `rename-column`).

## Why it breaks old code
The running (N-1) release refers to the object, or the enum label, by its old name: those
statements fail, or compare against a label that no longer exists, once the migration
commits.

## Instead
Create the object under the new name beside the old one (for an enum, add the new value),
move code over, and remove the old name in a later release.

A view renamed and replaced, in the same file, by a view of the old name with the
same columns (`ALTER VIEW v RENAME TO v2; CREATE VIEW v AS SELECT * FROM v2`) is not
flagged.

## Known problems
Renaming objects no code refers to by name (indexes, constraints, triggers) is not
flagged. Column renames of views are `rename-column`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context, ObjectKind
from spectral_deploy.lint.parse import Statement, string_list
from spectral_deploy.lint.rule import Rule, object_name
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]

_RENAMED = {
    "OBJECT_VIEW": ("view", ObjectKind.VIEW),
    "OBJECT_MATVIEW": ("materialized view", ObjectKind.VIEW),
    "OBJECT_FUNCTION": ("function", ObjectKind.FUNCTION),
    "OBJECT_PROCEDURE": ("procedure", ObjectKind.FUNCTION),
    "OBJECT_ROUTINE": ("routine", ObjectKind.FUNCTION),
    "OBJECT_TYPE": ("type", ObjectKind.TYPE),
    "OBJECT_DOMAIN": ("domain", ObjectKind.TYPE),
    "OBJECT_ATTRIBUTE": ("attribute of type", ObjectKind.TYPE),
    "OBJECT_SCHEMA": ("schema", None),
    "OBJECT_SEQUENCE": ("sequence", None),
}


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag renames of existing objects old code names, and enum value renames."""
    node = statement.node
    if statement.kind == "AlterEnumStmt":
        old_value = node.get("oldVal")
        if old_value is None:
            return
        enum = context.qualify(string_list(node.get("typeName")))
        yield Finding(
            partial(statement.clause, "RENAME", "VALUE"),
            f"renaming value '{old_value}' of enum {enum.display} breaks the running release, "
            "which still uses the old label",
            (ObjectKind.TYPE, enum),
        )
        return
    described = _RENAMED.get(node.get("renameType", ""))
    if described is None:
        return
    noun, kind = described
    name = object_name(node, context)
    shown = name.display if name is not None else f'"{node.get("subname", "")}"'
    yield Finding(
        partial(statement.clause, "RENAME"),
        f'renaming {noun} {shown} to "{node.get("newname", "")}" breaks the running '
        "release, which still uses the old name",
        (kind, name) if kind is not None and name is not None else None,
        replaced=context.origin(name) if kind is ObjectKind.VIEW and name is not None else None,
    )


RULE = Rule(
    code="MC112",
    name="rename-object",
    summary="RENAME of an existing view, function, type, schema, sequence or enum value",
    help="create the new name beside the old one, move code over, and remove the old "
    "name in a later release",
    doc=__doc__ or "",
    bad="ALTER VIEW active_users RENAME TO current_users;\n"
    "ALTER TYPE order_status RENAME VALUE 'shipped' TO 'sent';",
    ok="ALTER TYPE order_status ADD VALUE 'returned';",
    nodes=("RenameStmt", "AlterEnumStmt"),
    check=check,
)
