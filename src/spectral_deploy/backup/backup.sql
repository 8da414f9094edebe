-- Queries of backups (spectral_deploy.backup.pipeline and .restore).

-- snapshot_info --
-- Server and database facts, and a snapshot pg_dump imports so the row counts match the dump.
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       current_database() AS database,
       pg_export_snapshot() AS snapshot;

-- server_info --
-- The server's version, for picking matching client programs.
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num;

-- user_tables --
-- Tables whose rows pg_dump dumps: ordinary tables outside the system schemas and not
-- owned by an extension.
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY n.nspname, c.relname;

-- user_relations --
-- Up to five relations a restore would collide with, and how many there are.
SELECT n.nspname || '.' || c.relname AS relation, count(*) OVER () AS total
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY 1
LIMIT 5;

-- spectral_schema_present --
-- Whether Spectral's generations and ledger tables exist in this database.
SELECT to_regclass(%(generations)s) IS NOT NULL AND to_regclass(%(ledger)s) IS NOT NULL;

-- no_timeouts --
-- A session that lives as long as a dump or a restore's checks: no statement or idle timeout.
SELECT set_config('statement_timeout', '0', false),
       set_config('idle_in_transaction_session_timeout', '0', false);

-- table_exists --
-- Whether a table (a quoted, schema-qualified name) exists.
SELECT to_regclass(%(table)s) IS NOT NULL;

-- schema_names --
-- Every schema of the database.
SELECT nspname FROM pg_namespace;

-- supabase_present --
-- A Supabase server: its admin role and its auth schema.
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s)
   AND EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth');

-- extensions --
-- Every extension and the schema it is installed in.
SELECT e.extname AS name, n.nspname AS schema
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace;
