"""What a backup dumps: the app's schemas, never the platform's own.

On Supabase the database also holds Supabase's own schemas (``auth``, ``storage``,
``realtime``, ``extensions``...) and extensions that exist only on Supabase (``pg_graphql``,
``supabase_vault``...). They belong to the platform, are rebuilt with a new project, and make a
restore into a plain PostgreSQL server (``backup verify``) fail. So on a Supabase server
(observed: the ``supabase_admin`` role and an ``auth`` schema) the dump leaves out the schemas
Supabase's own CLI treats as internal (``supabase/cli``, ``pkg/migration/dump.go``), and the
extensions installed in them. ``backup.exclude_schemas`` leaves out more, on any server.

pg_dump is told with ``--exclude-schema`` for each left-out schema (an include list would make
pg_dump write ``CREATE SCHEMA public``, which a fresh database refuses) and ``--extension`` for
each extension that lives in a kept schema (``plpgsql``, built in and never written, when there
is none: "no extension").
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from spectral_deploy.backup.queries import catalog_statements

__all__ = ["NO_EXTENSION", "SUPABASE_SCHEMAS", "DumpScope", "dump_scope", "pattern_literal"]

# supabase/cli pkg/migration/dump.go, InternalSchemas (pg_* and information_schema are
# PostgreSQL's own and never dumped)
SUPABASE_SCHEMAS = (
    "_analytics",
    "_realtime",
    "_supavisor",
    "auth",
    "extensions",
    "pgbouncer",
    "realtime",
    "storage",
    "supabase_functions",
    "supabase_migrations",
    "cron",
    "dbdev",
    "graphql",
    "graphql_public",
    "net",
    "pgmq",
    "pgsodium",
    "pgsodium_masks",
    "pgtle",
    "repack",
    "tiger",
    "tiger_data",
    "timescaledb_*",
    "_timescaledb_*",
    "topology",
    "vault",
)
# built into every server and never written by pg_dump: "--extension=plpgsql" dumps none
NO_EXTENSION = "plpgsql"
SUPABASE_ROLE = "supabase_admin"

Connection = psycopg.Connection[tuple[object, ...]]


def pattern_literal(name: str) -> str:
    """A pg_dump pattern matching exactly ``name`` (double quotes: no wildcards, no folding)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class DumpScope:
    """The schemas and extensions a dump leaves out (nothing: pg_dump's whole database)."""

    excluded_schemas: tuple[str, ...] = ()
    extensions: tuple[str, ...] | None = None
    supabase: bool = False

    def keeps(self, schema: str) -> bool:
        """Whether tables of ``schema`` are in the dump."""
        return schema not in self.excluded_schemas

    def pg_dump_args(self) -> list[str]:
        """The pg_dump options that make the dump this scope."""
        args = [f"--exclude-schema={pattern_literal(s)}" for s in self.excluded_schemas]
        if self.extensions is not None:
            args += [f"--extension={pattern_literal(e)}" for e in self.extensions]
        return args


@dataclass(frozen=True)
class _Extension:
    name: str
    schema: str


def dump_scope(conn: Connection, *, exclude: Sequence[str] = ()) -> DumpScope:
    """Decide what to leave out, by looking at the server (in the caller's transaction)."""
    queries = catalog_statements()
    schemas = [str(name) for name in queries.values(conn, "schema_names")]
    supabase = bool(queries.value(conn, "supabase_present", {"role": SUPABASE_ROLE}))
    patterns = [*(SUPABASE_SCHEMAS if supabase else ()), *exclude]
    excluded = sorted(
        s for s in schemas if any(fnmatch.fnmatchcase(s, pattern) for pattern in patterns)
    )
    if not excluded:
        return DumpScope(supabase=supabase)
    kept_extensions = sorted(
        extension.name
        for extension in queries.all(conn, "extensions", into=_Extension)
        if extension.schema not in excluded and extension.schema != "pg_catalog"
    )
    return DumpScope(
        excluded_schemas=tuple(excluded),
        extensions=tuple(kept_extensions) or (NO_EXTENSION,),
        supabase=supabase,
    )
