-- Queries of the forward-only migration runner (spectral_deploy.migrate.runner).

-- lock_migrations --
-- One migration run at a time per schema (session-level advisory lock, waits).
SELECT pg_advisory_lock(hashtextextended('spectral-deploy/migrate/' || %(schema)s, 0));

-- unlock_migrations --
-- Release the runner's lock.
SELECT pg_advisory_unlock(hashtextextended('spectral-deploy/migrate/' || %(schema)s, 0));

-- applied --
-- Every applied migration, in the order applied.
SELECT filename, checksum, generation, transactional, duration_ms, applied_by, applied_at
FROM {schema}.app_migrations
ORDER BY applied_at, filename;

-- record_applied --
-- Remember an applied migration.
INSERT INTO {schema}.app_migrations
    (filename, checksum, generation, transactional, duration_ms, applied_by)
VALUES (%(filename)s, %(checksum)s, %(generation)s, %(transactional)s, %(duration_ms)s,
        %(applied_by)s);

-- set_local_timeouts --
-- Timeouts for the statements of one migration (transaction-local).
SELECT set_config('lock_timeout', %(lock_timeout)s, true),
       set_config('statement_timeout', %(statement_timeout)s, true);

-- set_session_timeouts --
-- Timeouts for a migration that cannot run in a transaction (session-wide until reset).
SELECT set_config('lock_timeout', %(lock_timeout)s, false),
       set_config('statement_timeout', %(statement_timeout)s, false);
