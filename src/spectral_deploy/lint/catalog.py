"""The schema model read from a live database's catalog (``lint --schema-from URL``).

For a project whose database was not built by its migrations alone (objects made by
hand, by a platform, by another tool), the catalog of the database the running release
uses is the truth the model should start from. The queries (``catalog.sql``) run in one
read-only transaction; the model is complete: what the catalog does not list does not
exist.

Types come back as ``format_type`` text, qualified (the session's ``search_path`` is
``pg_catalog`` alone) and parsed by the same parser as migrations, so a catalog type and
a migration's type compare alike. Indexes and CHECK constraints come back as the SQL that
would create them and go through the same model code as a migration.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spectral_deploy.errors import DatabaseUnreachable, InputError
from spectral_deploy.lint.coltype import ColumnType, type_of
from spectral_deploy.lint.names import QualifiedName
from spectral_deploy.lint.pgparser import ParseError, parse_sql_json
from spectral_deploy.lint.schema import Column, Relation, RelationKind, Schema

if TYPE_CHECKING:
    from spectral_deploy.config import DatabaseConfig

__all__ = ["read_catalog"]

_KINDS = {
    "r": RelationKind.TABLE,
    "p": RelationKind.TABLE,
    "f": RelationKind.TABLE,
    "v": RelationKind.VIEW,
    "m": RelationKind.MATVIEW,
}


def read_catalog(url: str, settings: DatabaseConfig | None = None) -> Schema:
    """The schema model of the database at ``url`` (errors name host/database, never the
    password)."""
    from spectral_deploy.db.access import statements  # noqa: PLC0415 - only --schema-from
    from spectral_deploy.db.connect import connect  # noqa: PLC0415

    url = _checked_url(url)
    queries = statements("spectral_deploy.lint", "catalog.sql")("public")
    try:
        conn = connect(url, settings=settings)
    except DatabaseUnreachable as exc:
        raise DatabaseUnreachable(
            exc.message,
            hint="check the --schema-from URL (host, port, database, user), or lint without "
            "it: the earlier migrations are replayed instead",
        ) from exc
    with conn:
        queries.run(conn, "read_only")
        queries.run(conn, "catalog_search_path")
        rows = CatalogRows(
            schemas=[str(name) for name in queries.values(conn, "schemas")],
            relations=queries.all(conn, "relations", into=RelationRow),
            columns=queries.all(conn, "columns", into=ColumnRow),
            checks=queries.all(conn, "checks", into=CheckRow),
            indexes=[str(definition) for definition in queries.values(conn, "indexes")],
            routines=queries.all(conn, "routines", into=NamedRow),
            types=queries.all(conn, "types", into=NamedRow),
        )
    return build_model(rows)


@dataclass(frozen=True)
class RelationRow:
    """A table, view, materialized view or sequence (``relkind``)."""

    schema: str
    name: str
    kind: str
    populated: bool


@dataclass(frozen=True)
class ColumnRow:
    """A live column of a relation."""

    schema: str
    table: str
    name: str
    type_text: str
    not_null: bool
    has_default: bool
    collation: str | None


@dataclass(frozen=True)
class CheckRow:
    """A CHECK constraint as SQL."""

    schema: str
    table: str
    name: str
    definition: str


@dataclass(frozen=True)
class NamedRow:
    """A schema-qualified routine or type."""

    schema: str
    name: str


@dataclass(frozen=True)
class CatalogRows:
    """What ``catalog.sql`` read, query by query."""

    schemas: list[str]
    relations: list[RelationRow]
    columns: list[ColumnRow]
    checks: list[CheckRow]
    indexes: list[str]
    routines: list[NamedRow]
    types: list[NamedRow]


_DRIVER_SCHEME = re.compile(r"^(postgres(?:ql)?)\+[a-z0-9_]+://", re.IGNORECASE)


def _checked_url(url: str) -> str:
    """The URL libpq can use (``postgresql+psycopg://`` as SQLAlchemy writes it accepted),
    or an error that does not repeat it: it may hold a password."""
    from psycopg import ProgrammingError  # noqa: PLC0415
    from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415

    url = _DRIVER_SCHEME.sub(r"\1://", url.strip())
    try:
        conninfo_to_dict(url)
    except ProgrammingError:
        raise InputError(
            "--schema-from: not a PostgreSQL URL libpq can read (not shown here: it may hold "
            "a password)",
            hint="--schema-from env:NAME with NAME=postgresql://user@host:5432/dbname, the "
            "password percent-encoded",
        ) from None
    return url


def build_model(rows: CatalogRows) -> Schema:
    """The model from the rows of the ``catalog.sql`` queries."""
    model = Schema(complete=True)
    model.schemas.update(rows.schemas)
    for found in rows.relations:
        qualified = QualifiedName(found.schema, found.name)
        if found.kind == "S":
            model.sequences.add(qualified)
        else:
            relation = Relation(_KINDS[found.kind], {}, populated=bool(found.populated))
            model.add_relation(qualified, relation)
    types = _types({column.type_text for column in rows.columns})
    for column in rows.columns:
        table_relation = model.relation(QualifiedName(column.schema, column.table))
        if table_relation is None or table_relation.columns is None:
            continue
        table_relation.columns[column.name] = Column(
            column.name,
            types.get(column.type_text),
            not_null=bool(column.not_null),
            default=bool(column.has_default),
            collation=column.collation,
        )
    for check in rows.checks:
        # the definition says NOT VALID when it is not validated
        quoted_table = f'"{_escape(check.schema)}"."{_escape(check.table)}"'
        sql = (
            f'ALTER TABLE {quoted_table} ADD CONSTRAINT "{_escape(check.name)}" {check.definition}'
        )
        _apply_sql(model, sql)
    for definition in rows.indexes:
        _apply_sql(model, definition)
    model.routines.update(QualifiedName(r.schema, r.name) for r in rows.routines)
    model.types.update(QualifiedName(t.schema, t.name) for t in rows.types)
    return model


def _escape(name: str) -> str:
    return name.replace('"', '""')


def _apply_sql(model: Schema, sql: str) -> None:
    """Apply catalog-made SQL (an index, a constraint) through the migration code path."""
    try:
        tree = json.loads(parse_sql_json(sql))
    except ParseError:
        model.complete = False  # a definition this parser cannot read: say "unknown"
        return
    for raw in tree.get("stmts", ()):
        kind, node = next(iter(raw["stmt"].items()))
        model.apply(kind, node, "public")


def _types(texts: set[str]) -> dict[str, ColumnType]:
    """``format_type`` texts -> types, parsed in one go."""
    ordered = sorted(texts)
    if not ordered:
        return {}
    sql = "SELECT " + ", ".join(f"NULL::{text}" for text in ordered)
    try:
        tree = json.loads(parse_sql_json(sql))
    except ParseError:
        return {text: one for text in ordered if (one := _one_type(text)) is not None}
    targets = tree["stmts"][0]["stmt"]["SelectStmt"]["targetList"]
    return {
        text: type_of(target["ResTarget"]["val"]["TypeCast"]["typeName"], "public")
        for text, target in zip(ordered, targets, strict=True)
    }


def _one_type(text: str) -> ColumnType | None:
    try:
        tree = json.loads(parse_sql_json(f"SELECT NULL::{text}"))
    except ParseError:
        return None
    target = tree["stmts"][0]["stmt"]["SelectStmt"]["targetList"][0]
    return type_of(target["ResTarget"]["val"]["TypeCast"]["typeName"], "public")
