-- Queries of what `db status` and `db server-version` observe (spectral_deploy.db.report).

-- database_exists --
-- Whether the embedded server holds Spectral's database (asked of the maintenance database).
SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = %(name)s);

-- server_version --
-- The server's version, as text and as a number (pg_dump and pg_restore match its major).
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num;
