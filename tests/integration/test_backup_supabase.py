"""Backups of a Supabase database: the app's schemas are dumped and verified, Supabase's own
schemas and the extensions living in them are left out (a plain server could not restore
them); the server's major version is what the backup workflow installs a client for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from spectral_deploy.backup.keys import load_identities, parse_recipients
from spectral_deploy.backup.pipeline import run_backup
from spectral_deploy.backup.restore import verify_backup
from spectral_deploy.backup.schemas import DumpScope, dump_scope
from spectral_deploy.backup.storage.local import LocalStorage
from spectral_deploy.db.embedded import ServerStatus
from tests.acceptance.sandbox import run_cli
from tests.backup_support import make_keypair, seed_app_database
from tests.conftest import server_url

pytestmark = pytest.mark.db

# what a Supabase project holds besides the app: its own schemas and roles, an extension in
# its "extensions" schema, an app extension in public
SUPABASE_SQL = """
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text);
INSERT INTO auth.users VALUES (gen_random_uuid(), 'someone@example.org');
CREATE SCHEMA storage;
CREATE TABLE storage.objects (id bigint PRIMARY KEY, name text);
CREATE SCHEMA realtime;
CREATE TABLE realtime.messages (id bigint PRIMARY KEY);
CREATE SCHEMA extensions;
CREATE EXTENSION hstore SCHEMA extensions;
CREATE SCHEMA supabase_migrations;
CREATE TABLE supabase_migrations.schema_migrations (version text PRIMARY KEY);
CREATE EXTENSION citext SCHEMA public;
CREATE TABLE public.profiles (id bigint PRIMARY KEY, handle citext NOT NULL);
INSERT INTO public.profiles VALUES (1, 'Ada'), (2, 'Grace');
CREATE SCHEMA audit_2026;
CREATE TABLE audit_2026.events (id bigint PRIMARY KEY);
"""


@pytest.fixture
def supabase_url(empty_database: str) -> Iterator[str]:
    """A database shaped like a Supabase project's (the supabase_admin role exists while the
    test runs; roles are cluster-wide, so it is dropped after)."""
    role = "supabase_admin"
    with psycopg.connect(empty_database, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    seed_app_database(empty_database)
    with psycopg.connect(empty_database) as conn:
        conn.execute(SUPABASE_SQL)
    try:
        yield empty_database
    finally:
        with psycopg.connect(empty_database, autocommit=True) as conn:
            conn.execute("DROP SCHEMA auth CASCADE")
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_the_scope_leaves_out_supabases_schemas_and_their_extensions(supabase_url: str) -> None:
    """On a Supabase server: its schemas (listed by Supabase's own CLI) and the extensions
    installed in them are left out; the app's schemas and public's extension stay."""
    with psycopg.connect(supabase_url) as conn:
        scope = dump_scope(conn, exclude=["audit_*"])
    assert scope.supabase
    assert set(scope.excluded_schemas) == {
        "auth",
        "storage",
        "realtime",
        "extensions",
        "supabase_migrations",
        "audit_2026",
    }
    assert scope.extensions == ("citext",)
    assert '--exclude-schema="auth"' in scope.pg_dump_args()
    assert '--extension="citext"' in scope.pg_dump_args()


def test_a_plain_server_keeps_pg_dumps_whole_database(empty_database: str) -> None:
    """Not Supabase and nothing excluded: pg_dump's default, no option added."""
    seed_app_database(empty_database)
    with psycopg.connect(empty_database) as conn:
        assert dump_scope(conn) == DumpScope()


def test_a_supabase_backup_dumps_and_verifies_the_apps_schemas(
    supabase_url: str, pg_server: ServerStatus, tmp_path: Path
) -> None:
    """backup run -> verify on a plain server: the manifest counts the app's tables only,
    and the restore into a scratch database passes every check."""
    keys = make_keypair(tmp_path)
    storage = LocalStorage(tmp_path / "backups")
    result = run_backup(
        supabase_url,
        storage,
        parse_recipients([keys.public_key], source="test"),
        exclude_schemas=["audit_*"],
    )
    schemas = {table.schema for table in result.manifest.tables}
    assert schemas == {"public", "shop"}
    assert "auth" in result.excluded_schemas and "audit_2026" in result.excluded_schemas
    verification = verify_backup(
        storage,
        result.manifest,
        load_identities(keys.identity_file),
        scratch_server_url=server_url(pg_server, "postgres"),
    )
    assert verification.ok, verification.error
    assert "rows public.profiles" in {c.name for c in verification.checks}


def test_server_version_prints_the_major_the_client_must_match(
    pg_server: ServerStatus, tmp_path: Path
) -> None:
    """`db server-version` asks the server itself (the workflow installs that client)."""
    url = server_url(pg_server, "postgres")
    result = run_cli(tmp_path, ("db", "server-version"), env={"DATABASE_URL": url}, timeout=60)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(url) as conn:
        number = conn.execute("SHOW server_version_num").fetchone()
    assert number is not None
    assert result.stdout.strip() == str(int(str(number[0])) // 10000)


def test_names_are_passed_to_pg_dump_as_exact_patterns() -> None:
    """A schema name with pattern characters or capitals is matched literally."""
    scope = DumpScope(excluded_schemas=('Odd"Name*',), extensions=("plpgsql",))
    assert scope.pg_dump_args() == ['--exclude-schema="Odd""Name*"', '--extension="plpgsql"']
