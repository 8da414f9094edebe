"""Changing a column's type: ``ALTER COLUMN ... TYPE``.

## What it does
Flags `ALTER TABLE ... ALTER COLUMN ... [SET DATA] TYPE` on a table that is not new
(unless the same change set added the column) when the change narrows the type or makes
it another type. The old type comes from the schema model (the project's earlier
migrations, or `--schema-from` a database); a widening is not flagged: `varchar(n)` to
`varchar(m)` with m >= n, to `varchar` or `text`; `text` to `varchar` without a limit;
`numeric(p, s)` to `numeric(q, s)` with q >= p, or to `numeric`; `varbit(n)` to a longer
or unlimited one; more (or unlimited) precision of `timestamp`, `timestamptz`, `time`,
`timetz` and `interval`; `cidr` to `inet`; between `text`/`varchar` and `citext` on a
column no index reads. PostgreSQL relabels those without touching a row, and the old
release reads and writes the column exactly as before.

## Why it breaks old code
A narrower type rejects values the running (N-1) release still writes (a 30-character
name into `varchar(20)`, a scale it rounds away); another type is not what it reads
(a `bigint` read into a 32-bit integer, a `text` that was an enum, a `timestamptz` where
it expected a naive timestamp). Both rewrite the whole table and its indexes under an
`ACCESS EXCLUSIVE` lock, blocking every read and write meanwhile. A `USING` expression
other than the column itself always rewrites, and so does a new collation.

## Instead
Add a new column of the new type, write both from code, backfill, switch reads, and drop
the old column in a later release.

## Known problems
Without any history (a file linted on its own, stdin) the old type is unknown and every
type change is flagged, saying so; lint the migrations directory (or give `--base` or
`--schema-from`) so the old type is known. A change that rewrites without changing what
old code sees (`integer` to `bigint` on a small table) is still flagged for its lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from spectral_deploy.lint.coltype import ColumnType, Verdict, judge, type_of
from spectral_deploy.lint.context import Context
from spectral_deploy.lint.names import ObjectKind, QualifiedName
from spectral_deploy.lint.parse import Node, Statement, string_list
from spectral_deploy.lint.rule import Rule, alter_commands
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]

_LOCK = "rewrites the table and its indexes under an ACCESS EXCLUSIVE lock"


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag ALTER COLUMN ... TYPE of a column old code knows, unless it only widens."""
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_AlterColumnType"):
        name = command.get("name", "")
        if context.is_new_column(table, name):
            continue
        message = _message(context, table, name, command.get("def", {}).get("ColumnDef", {}))
        if message is not None:
            yield Finding(
                partial(statement.clause, "ALTER", name=name), message, (ObjectKind.TABLE, table)
            )


def _message(context: Context, table: QualifiedName, name: str, definition: Node) -> str | None:
    """What is wrong with the change, or None when it is safe."""
    new = type_of(definition.get("typeName", {}), context.schema)
    subject = f'column "{name}" of table {table.display}'
    column = context.model.column(table, name)
    if column is None or column.type is None:
        why = (
            "no migration history or schema given"
            if not context.model.complete
            else ("the schema model does not know the column")
        )
        return (
            f"changing the type of {subject} to {new} (old type unknown: {why}) breaks the "
            "running release if it narrows the type or changes it, and then "
            f"{_LOCK}"
        )
    old = column.type
    using = definition.get("raw_default")
    if using is not None and not _is_plain(using, name):
        return (
            f"changing the type of {subject} from {old} to {new} with a USING expression "
            f"changes the values the running release reads, and {_LOCK}"
        )
    collation = definition.get("collClause", {}).get("collname")
    new_collation = ".".join(string_list(collation)) if collation else None
    if new_collation is not None and new_collation != column.collation:
        return (
            f"changing the collation of {subject} to {new_collation} changes how the running "
            f"release's queries compare and sort it, and {_LOCK}"
        )
    verdict = judge(old, new, indexed=context.model.indexed(table, name))
    return _VERDICTS[verdict](subject, old, new)


def _is_plain(using: Node, column: str) -> bool:
    """``USING col`` or ``USING col::type``: the conversion PostgreSQL does anyway."""
    while "TypeCast" in using:
        using = using["TypeCast"].get("arg", {})
    fields = string_list(using.get("ColumnRef", {}).get("fields"))
    return bool(fields) and fields[-1] == column


def _narrowing(subject: str, old: ColumnType, new: ColumnType) -> str:
    return (
        f"changing the type of {subject} from {old} to {new} narrows it: values the "
        f"running release writes may no longer fit, and it {_LOCK}"
    )


def _rewrite(subject: str, old: ColumnType, new: ColumnType) -> str:
    return (
        f"changing the type of {subject} from {old} to {new} changes what the running "
        f"release reads and writes, and {_LOCK}"
    )


def _zone(subject: str, old: ColumnType, new: ColumnType) -> str:
    return (
        f"changing the type of {subject} from {old} to {new} changes what the running "
        "release reads and writes (timestamps with and without a time zone are different "
        "types to its driver), and rewrites the table under an ACCESS EXCLUSIVE lock "
        "unless the migration runs with TimeZone UTC"
    )


_VERDICTS: dict[Verdict, Callable[[str, ColumnType, ColumnType], str | None]] = {
    Verdict.SAME: lambda subject, old, new: None,
    Verdict.WIDENING: lambda subject, old, new: None,
    Verdict.NARROWING: _narrowing,
    Verdict.REWRITE: _rewrite,
    Verdict.ZONE: _zone,
}


RULE = Rule(
    code="MC104",
    name="alter-column-type",
    summary="ALTER COLUMN ... TYPE on an existing table",
    help="add a column of the new type, write both, backfill, switch reads, "
    "then drop the old column in a later release",
    doc=__doc__ or "",
    history="CREATE TABLE orders (id bigint, total numeric(12, 2), note varchar(50));",
    bad="ALTER TABLE orders ALTER COLUMN total TYPE numeric(10, 2);\n"
    "ALTER TABLE orders ALTER COLUMN id TYPE text;",
    ok="ALTER TABLE orders ALTER COLUMN note TYPE varchar(100);\n"
    "ALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 2);",
    nodes=("AlterTableStmt",),
    check=check,
)
