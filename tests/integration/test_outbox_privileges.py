"""The outbox needs no superuser: an app role with the grants docs/outbox.md lists can emit,
and a worker role can claim, renew, retry, dead-letter, release, ack and reap."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from spectral_deploy import emit
from spectral_deploy.db import Database
from spectral_deploy.outbox.pgstore import PostgresStore
from spectral_deploy.outbox.store import WorkerInfo
from tests.integration.workers import ensure_generations

_roles = itertools.count(1)

APP_GRANTS = (
    "GRANT USAGE ON SCHEMA spectral TO {role}",
    "GRANT SELECT ON spectral.generations TO {role}",
    "GRANT INSERT, SELECT (id) ON spectral.outbox TO {role}",  # emit returns the new id
)
WORKER_GRANTS = (
    "GRANT USAGE ON SCHEMA spectral TO {role}",
    "GRANT SELECT ON spectral.generations TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON spectral.workers TO {role}",
    "GRANT SELECT, UPDATE, DELETE ON spectral.outbox TO {role}",
    "GRANT INSERT ON spectral.outbox_archive TO {role}",
    "GRANT USAGE ON SEQUENCE spectral.outbox_lease_token_seq TO {role}",
    "GRANT EXECUTE ON FUNCTION spectral.outbox_keyed_generations_v1() TO {role}",
    "GRANT EXECUTE ON FUNCTION spectral.outbox_ack_and_claim_v1"
    "(uuid, bigint, bigint[], bigint[], boolean, bigint, text[], integer, double precision)"
    " TO {role}",
)


def role_url(database: Database, grants: tuple[str, ...]) -> Iterator[str]:
    """A fresh login role (not a superuser) with ``grants``; its connection URL."""
    role = f"outbox_role_{next(_roles)}_{uuid4().hex[:6]}"
    password = uuid4().hex  # the server may trust local roles or ask for passwords: both work
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        for grant in grants:
            conn.execute(sql.SQL(grant).format(role=sql.Identifier(role)))
    params = conninfo_to_dict(database.url)
    params["user"] = role
    params["password"] = password
    params.pop("passfile", None)
    try:
        yield make_conninfo(**params)
    finally:
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def app_url(database: Database) -> Iterator[str]:
    ensure_generations(database, 5)
    yield from role_url(database, APP_GRANTS)


@pytest.fixture
def worker_url(database: Database) -> Iterator[str]:
    yield from role_url(database, WORKER_GRANTS)


def test_an_app_role_can_emit(database: Database, app_url: str) -> None:
    """INSERT on outbox and SELECT on generations are all emit needs (the identity column and
    the notify trigger need no grant of their own)."""
    with psycopg.connect(app_url) as conn:
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert superuser.fetchone() == (False,)
        emit(conn, "t", {"n": 1}, generation=5)
        conn.commit()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM spectral.ledger")
    with database.connect() as conn:
        assert conn.execute("SELECT count(*) FROM spectral.outbox").fetchone() == (1,)


def test_a_worker_role_runs_the_whole_lease_cycle(
    database: Database, app_url: str, worker_url: str
) -> None:
    """Claim, renew, retry, dead-letter, release, ack and reap as a non-superuser."""
    with psycopg.connect(app_url) as conn:
        for key in (None, "k", "k"):
            emit(conn, "t", {}, key=key, generation=5)
        emit(conn, "t", {}, generation=5)
        conn.commit()
    store = PostgresStore(psycopg.connect(worker_url), "spectral", archive=True)
    worker = uuid4()
    try:
        store.register_worker(WorkerInfo(worker, 5, "h", 1, "a", 1, 30, stale_after_seconds=9))
        claimed = store.ack_and_claim(worker, 5, [], limit=10, lease_seconds=30, after_id=0)
        first, keyed, last = claimed.events
        assert store.heartbeat(worker, [c.lease for c in claimed.events], 30).renewed == {
            first.id,
            keyed.id,
            last.id,
        }
        assert store.retry(worker, first.lease, "later", 0, attempt=1)
        assert store.dead_letter(worker, last.lease, "never", attempt=1)
        assert store.release(worker, [keyed.lease]) == 1
        again = store.ack_and_claim(worker, 5, [], limit=10, lease_seconds=30, after_id=0).events
        done = store.ack_and_claim(
            worker, 5, [c.lease for c in again], limit=0, lease_seconds=30, after_id=0
        )
        assert done.acked == 2
        assert store.reap(15) == 0
    finally:
        store.close()
