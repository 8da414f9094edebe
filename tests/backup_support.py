"""Helpers shared by the backup tests: keys, a sample application database, checksums."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from pyrage import x25519

# strings that must never appear in an encrypted object
PLAINTEXT_MARKERS = ("plaintext-canary-7d1f", "customer@example.org")


@dataclass(frozen=True)
class KeyPair:
    """An age identity written to a file, and its public key."""

    identity_file: Path
    public_key: str
    secret: str


def make_keypair(directory: Path, name: str = "backup.key") -> KeyPair:
    """A fresh X25519 identity in ``directory/name`` (mode 0600), as age-keygen writes it."""
    identity = x25519.Identity.generate()
    public = str(identity.to_public())
    path = directory / name
    path.write_text(f"# created: test\n# public key: {public}\n{identity}\n", encoding="utf-8")
    path.chmod(0o600)
    return KeyPair(identity_file=path, public_key=public, secret=str(identity))


SEED_SQL = """
CREATE SCHEMA shop;
CREATE TABLE shop.customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text,
    joined timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z'
);
CREATE TABLE shop.orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers (id),
    total numeric(12, 2) NOT NULL,
    items jsonb NOT NULL,
    note text,
    blob bytea
);
CREATE INDEX orders_customer_idx ON shop.orders (customer_id);
CREATE TABLE public.empty_table (id int PRIMARY KEY);
CREATE TABLE public."Mixed Case" ("Value" text);
INSERT INTO shop.customers (email, name)
SELECT 'user' || g || '@example.com', CASE WHEN g % 7 = 0 THEN NULL ELSE 'Zoë ' || g END
FROM generate_series(1, 300) g;
INSERT INTO shop.customers (email, name) VALUES ('customer@example.org', 'Canary');
INSERT INTO shop.orders (customer_id, total, items, note, blob)
SELECT 1 + g % 300, (g * 1.37)::numeric(12, 2),
       jsonb_build_object('sku', 'SKU-' || g, 'qty', g % 5),
       CASE WHEN g = 42 THEN 'plaintext-canary-7d1f' ELSE repeat('x', g % 17) END,
       decode(md5(g::text), 'hex')
FROM generate_series(1, 2000) g;
INSERT INTO public."Mixed Case" VALUES ('ünïcode ✓'), (NULL);
"""


def seed_app_database(url: str) -> None:
    """A small application schema: two schemas, keys, jsonb, bytea, NULLs, unicode."""
    with psycopg.connect(url) as conn:
        conn.execute(SEED_SQL)


def table_checksums(url: str) -> dict[str, tuple[int, str]]:
    """``schema.table -> (rows, md5 of the rows in primary-key-free canonical order)``."""
    result: dict[str, tuple[int, str]] = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY 1, 2"
        ).fetchall()
        for schema, name in tables:
            table = sql.Identifier(str(schema), str(name))
            row = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                    "FROM {} AS t"
                ).format(table)
            ).fetchone()
            assert row is not None
            result[f"{schema}.{name}"] = (int(str(row[0])), str(row[1]))
    return result
