-- Queries of the schema installer (spectral_deploy.db.schema).

-- create_schema --
-- The schema and the table that records which of Spectral's own migrations ran.
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    tool_version text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- lock_schema --
-- Serialise installers of the same schema (session-level advisory lock).
SELECT pg_advisory_lock(hashtextextended('spectral-deploy/schema/' || %(schema)s, 0));

-- unlock_schema --
-- Release the installer lock.
SELECT pg_advisory_unlock(hashtextextended('spectral-deploy/schema/' || %(schema)s, 0));

-- applied_migrations --
-- What is installed, oldest first.
SELECT version, name, checksum, tool_version, applied_at
FROM {schema}.schema_migrations
ORDER BY version;

-- record_migration --
-- Remember one applied migration.
INSERT INTO {schema}.schema_migrations (version, name, checksum, tool_version)
VALUES (%(version)s, %(name)s, %(checksum)s, %(tool_version)s);

-- installed_version --
-- The highest installed version, or NULL when the table exists but is empty.
SELECT max(version) FROM {schema}.schema_migrations;

-- schema_exists --
-- Whether the migrations table exists (to_regclass does not fail on a missing schema).
SELECT to_regclass(%(table)s) IS NOT NULL;

-- current_user --
-- Who this session acts as.
SELECT current_user;

-- may_become --
-- Whether the connected user may act as a role (SET ROLE) and use its privileges.
SELECT pg_has_role(current_user, %(role)s, 'USAGE') AND pg_has_role(current_user, %(role)s, 'SET');

-- reset_role --
-- Act as the connected user again.
RESET ROLE;
