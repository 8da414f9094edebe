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
from collections.abc import Mapping, Sequence
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
    from psycopg import Error  # noqa: PLC0415 - only --schema-from needs a connection

    from spectral_deploy.db.connect import connect, translate  # noqa: PLC0415
    from spectral_deploy.db.queries import load_queries  # noqa: PLC0415

    url = _checked_url(url)
    queries = load_queries("spectral_deploy.lint", "catalog.sql", "public")
    try:
        conn = connect(url, settings=settings)
    except DatabaseUnreachable as exc:
        raise DatabaseUnreachable(
            exc.message,
            hint="check the --schema-from URL (host, port, database, user), or lint without "
            "it: the earlier migrations are replayed instead",
        ) from exc
    with conn:
        try:
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute("SET LOCAL search_path = pg_catalog")
            rows = {name: conn.execute(queries[name]).fetchall() for name in queries.names()}
        except Error as exc:
            raise translate(exc) from exc
    return build_model(rows)


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


def build_model(rows: Mapping[str, Sequence[tuple[object, ...]]]) -> Schema:
    """The model from the rows of each ``catalog.sql`` query (by name)."""
    model = Schema(complete=True)
    model.schemas.update(str(row[0]) for row in rows["schemas"])
    for schema, name, kind, populated in rows["relations"]:
        qualified = QualifiedName(str(schema), str(name))
        if kind == "S":
            model.sequences.add(qualified)
        else:
            relation = Relation(_KINDS[str(kind)], {}, populated=bool(populated))
            model.add_relation(qualified, relation)
    types = _types({str(row[3]) for row in rows["columns"]})
    for schema, table, column, type_text, not_null, default, collation in rows["columns"]:
        table_relation = model.relation(QualifiedName(str(schema), str(table)))
        if table_relation is None or table_relation.columns is None:
            continue
        table_relation.columns[str(column)] = Column(
            str(column),
            types.get(str(type_text)),
            not_null=bool(not_null),
            default=bool(default),
            collation=str(collation) if collation is not None else None,
        )
    for schema, table, name, definition, _validated in rows["checks"]:
        # the definition says NOT VALID when it is not validated
        quoted_table = f'"{_escape(str(schema))}"."{_escape(str(table))}"'
        sql = f'ALTER TABLE {quoted_table} ADD CONSTRAINT "{_escape(str(name))}" {definition}'
        _apply_sql(model, sql)
    for (definition,) in rows["indexes"]:
        _apply_sql(model, str(definition))
    model.routines.update(QualifiedName(str(s), str(n)) for s, n in rows["routines"])
    model.types.update(QualifiedName(str(s), str(n)) for s, n in rows["types"])
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
