"""Adding a required column: ``ADD COLUMN ... NOT NULL`` without a default, or dropping it.

## What it does
Flags `ALTER TABLE ... ADD COLUMN` with `NOT NULL` (or an inline `PRIMARY KEY`) and no
`DEFAULT` on a table that is not new. `DEFAULT NULL` is no default. Identity columns,
generated columns and `serial` types fill themselves and are fine.

Also flags taking the default away from a column that must not be NULL
(`ALTER COLUMN ... DROP DEFAULT`, or `SET DEFAULT NULL`): a column the change set added
`NOT NULL DEFAULT x` (what Django's `AddField` emits: add with a default, then drop it),
and a `NOT NULL` column the old release knows, when the schema model says so.

## Why it breaks old code
The running (N-1) release does not know a new column, so its `INSERT`s leave it out.
With no default PostgreSQL puts NULL there and the `NOT NULL` constraint rejects every
insert of the old code for as long as it runs: the whole blue/green window, and after a
rollback. A column old code knows but leaves out of its `INSERT`s, relying on the
default, fails the same way once the default is gone.

## Instead
Add the column with a `DEFAULT` (a constant default is instant since PostgreSQL 11) and
keep it until no deployed code leaves the column out; or add it nullable, deploy code
that writes it, backfill, and add `NOT NULL` in a later release (see `set-not-null` for
doing that without a long lock). With Django 5, `db_default` keeps the default in the
database.

## Known problems
A table that old code never inserts into is safe; the lint cannot know that. Use the
override marker with the reason. Without history (a file linted on its own) the lint
does not know which existing columns are `NOT NULL`, and only flags dropping the default
of a column the change set added.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from spectral_deploy.lint.context import Context, has_default
from spectral_deploy.lint.names import ObjectKind, QualifiedName
from spectral_deploy.lint.parse import Node, Statement
from spectral_deploy.lint.rule import Rule, alter_commands
from spectral_deploy.lint.schema import column_has_default
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]

_REQUIRED = {"CONSTR_NOTNULL": len("NOT NULL"), "CONSTR_PRIMARY": len("PRIMARY KEY")}


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag ADD COLUMN ... NOT NULL without a default, and a required column's default dropped."""
    table = context.relation(statement.node["relation"])
    # columns this statement adds, in order, so a DROP DEFAULT later in it sees them
    added: dict[str, tuple[bool, bool]] = {}
    for command in alter_commands(statement, "AT_AddColumn", "AT_ColumnDefault"):
        if command.get("subtype") == "AT_AddColumn":
            yield from _added(statement, context, table, command, added)
        elif not column_has_default({"constraints": _default_constraint(command)}):
            found = _default_dropped(context, table, command.get("name", ""), added)
            if found is not None:
                span = partial(statement.clause_from, ("ALTER",), command.get("name", ""))
                yield Finding(span, found, (ObjectKind.TABLE, table))


def _added(
    statement: Statement,
    context: Context,
    table: QualifiedName,
    command: Node,
    added: dict[str, tuple[bool, bool]],
) -> Iterator[Finding]:
    column = command.get("def", {}).get("ColumnDef", {})
    name = column.get("colname", "")
    if command.get("missing_ok") and context.model.has_column(table, name):
        return  # ADD COLUMN IF NOT EXISTS of a column that is there already: a no-op
    required = [
        item.get("Constraint", {})
        for item in column.get("constraints", ())
        if item.get("Constraint", {}).get("contype") in _REQUIRED
    ]
    added[name] = (bool(required) or bool(column.get("is_not_null")), has_default(column))
    if has_default(column) or not required:
        return
    constraint = required[0]
    yield Finding(
        (
            statement.offset(column.get("location")),
            statement.offset(constraint.get("location")) + _REQUIRED[constraint["contype"]],
        ),
        f'adding column "{name}" to table {table.display} as NOT NULL without a '
        "default makes every INSERT of the running release (which does not know "
        "the column) fail",
        (ObjectKind.TABLE, table),
    )


def _default_constraint(command: Node) -> list[Node]:
    """``SET DEFAULT x`` as a column constraint list (empty for ``DROP DEFAULT``)."""
    value = command.get("def")
    return [{"Constraint": {"contype": "CONSTR_DEFAULT", "raw_expr": value}}] if value else []


def _default_dropped(
    context: Context, table: QualifiedName, name: str, added: dict[str, tuple[bool, bool]]
) -> str | None:
    """Why taking ``name``'s default away breaks old inserts, or None when it does not."""
    subject = f'the default of column "{name}" of table {table.display}'
    if name in added:
        required, _ = added[name]
        known = True
    elif context.is_new_column(table, name):
        required = context.new_column_required(table, name)
        known = True
    else:
        column = context.model.column(table, name)
        required = column is not None and column.not_null
        known = False
    if not required:
        return None
    if known:
        return (
            f"dropping {subject}, added NOT NULL by this change set, makes every INSERT of "
            "the running release (which does not know the column) fail"
        )
    return (
        f"dropping {subject}, which is NOT NULL, makes the running release's INSERTs "
        "that leave the column out fail"
    )


RULE = Rule(
    code="MC101",
    name="adding-required-column",
    summary="ADD COLUMN ... NOT NULL without a DEFAULT on an existing table",
    help="give the column a DEFAULT, or add it nullable, backfill, and add NOT NULL "
    "in a later release",
    doc=__doc__ or "",
    bad="ALTER TABLE users ADD COLUMN email text NOT NULL;\n"
    "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';\n"
    "ALTER TABLE users ALTER COLUMN plan DROP DEFAULT;",
    ok="ALTER TABLE users ADD COLUMN email text NOT NULL DEFAULT '';\n"
    "ALTER TABLE users ADD COLUMN id2 bigint GENERATED ALWAYS AS IDENTITY;\n"
    "CREATE TABLE posts (id bigint);\nALTER TABLE posts ADD COLUMN title text NOT NULL;",
    nodes=("AlterTableStmt",),
    check=check,
)
