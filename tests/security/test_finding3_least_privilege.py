"""Finding 3: apps connect as a role that can emit and run workers, and never rewrite history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from spectral_deploy.config import load_config
from spectral_deploy.db import Database
from spectral_deploy.db.roles import Roles
from spectral_deploy.db.schema import install
from spectral_deploy.outbox.emit import emit
from spectral_deploy.providers.local.hosting import from_config
from tests.security.conftest import project_with_a_ledger, role_url

# what an app must not be able to do to Spectral's history, whatever it tries
REWRITES = [
    "UPDATE spectral.ledger SET actor = 'someone else'",
    "DELETE FROM spectral.ledger",
    "TRUNCATE spectral.ledger",
    "INSERT INTO spectral.ledger (kind, action, actor) VALUES ('deploy', 'forged', 'app')",
    "SELECT * FROM spectral.ledger",
    "ALTER TABLE spectral.ledger DISABLE TRIGGER ALL",
    "DROP TRIGGER ledger_refuse_update_delete ON spectral.ledger",
    "CREATE OR REPLACE FUNCTION spectral.ledger_refuse_change_v1() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    "SET session_replication_role = replica",
    "SET ROLE spectral_owner",
    "SET ROLE postgres",
    "UPDATE spectral.generation_counter SET last_value = 0",
    "UPDATE spectral.deploys SET outcome = 'ok'",
    "DELETE FROM spectral.app_migrations",
    "CREATE TABLE spectral.shadow (id int)",
    "ALTER TABLE spectral.outbox DISABLE TRIGGER outbox_notify",
]


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    """A project whose embedded server has Spectral's schema and one ledger entry."""
    yield from project_with_a_ledger("spectral-sec-roles-")


_url = role_url


@pytest.mark.parametrize("statement", REWRITES)
def test_app_role_cannot_touch_the_ledger(project: Path, statement: str) -> None:
    """The app URL refuses every way of reading or rewriting history, and the ledger stays."""
    with psycopg.connect(_url(project, "owner")) as conn:
        before = conn.execute("SELECT count(*), max(id) FROM spectral.ledger").fetchone()
    with psycopg.connect(_url(project, "app"), autocommit=True) as conn:
        assert conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    with psycopg.connect(_url(project, "owner")) as conn:
        assert conn.execute("SELECT count(*), max(id) FROM spectral.ledger").fetchone() == before


def test_app_role_emits_and_runs_a_worker(project: Path) -> None:
    """What the app needs works: emit in its transaction, and claim/ack/register as a worker."""
    with psycopg.connect(_url(project, "app")) as conn:
        emit(conn, "order.created", {"order_id": 1}, generation=1)
        conn.commit()
        conn.execute(
            "INSERT INTO spectral.workers (id, generation, host, pid, app, concurrency, "
            "lease_seconds) VALUES (gen_random_uuid(), 1, 'h', 1, 'a', 1, 30)"
        )
        claimed = conn.execute(
            "UPDATE spectral.outbox SET attempt = attempt + 1, lease_owner = gen_random_uuid(), "
            "lease_expires_at = now() + interval '30 s' WHERE id = (SELECT min(id) FROM "
            "spectral.outbox WHERE generation = 1) RETURNING id"
        ).fetchone()
        assert claimed is not None
        conn.execute("DELETE FROM spectral.outbox WHERE id = %s", claimed)
        conn.execute("SELECT generation FROM spectral.generations").fetchall()
        conn.commit()


def test_owner_role_is_not_a_superuser(project: Path) -> None:
    """Spectral's own URL is the owner role: it owns the schema but cannot change replication."""
    url = _url(project, "owner")
    assert conninfo_to_dict(url)["user"] == "spectral_owner"
    with (
        psycopg.connect(url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SET session_replication_role = replica")


def test_hosting_hands_apps_the_app_url(project: Path) -> None:
    """The local hosting provider puts the app role's URL, not Spectral's, in DATABASE_URL."""
    config = load_config(cwd=project, environ={}, overrides={"hosting.web_command": "true"})
    database = Database(
        url=_url(project, "owner"), schema="spectral", settings=config.database, embedded=True
    )
    hosting = from_config(config, database.app_url)
    assert conninfo_to_dict(hosting._database_url)["user"] == "spectral_app"


def test_db_init_on_an_external_database_creates_the_roles(empty_database: str) -> None:
    """`db init` on a database it did not create: NOLOGIN owner and app roles, objects owned by
    the owner, the app role limited to its grants."""
    roles = Roles(owner="ext_owner", app="ext_app")
    with psycopg.connect(empty_database) as conn:
        install(conn, "spectral", roles)
        owners = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'spectral' AND c.relkind = 'r'"
        ).fetchall()
        assert owners == [("ext_owner",)]
        assert conn.execute(
            "SELECT has_table_privilege('ext_app', 'spectral.ledger', 'SELECT'), "
            "has_table_privilege('ext_app', 'spectral.outbox', 'INSERT'), "
            "(SELECT rolcanlogin OR rolsuper FROM pg_roles WHERE rolname = 'ext_app')"
        ).fetchone() == (False, True, False)
        conn.commit()
        install(conn, "spectral", roles)  # twice: nothing changes, nothing fails
