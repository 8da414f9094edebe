-- Queries of the forward-only schema check (spectral_deploy.migrate.forward).

-- schema_records --
-- What the deploys recorded of the schema: after their migrations step (finished), and
-- before it ran (the schema it was about to leave: a step that crashed midway), newest first.
SELECT l.generation, d.tag, l.details -> 'schema' AS schema, l.kind = 'step' AS finished
FROM {schema}.ledger l
LEFT JOIN {schema}.deploys d ON d.id = l.deploy_id
WHERE ((l.kind = 'step' AND l.action = 'apply-migrations' AND l.outcome = 'ok')
       OR (l.kind = 'migration' AND l.action = 'applying'))
  AND l.details ? 'schema'
ORDER BY l.id DESC
LIMIT %(limit)s;

-- table_exists --
-- Whether a table the app's migration tool keeps its record in exists (on the search path).
SELECT to_regclass(%(table)s) IS NOT NULL;

-- alembic_heads --
-- Alembic's own record: the revisions the database is at.
SELECT version_num FROM alembic_version ORDER BY version_num;

-- django_applied --
-- Django's own record: every migration it applied, as app.name.
SELECT app || '.' || name FROM django_migrations ORDER BY id;

-- migrated_releases --
-- Deploys whose migrations step finished, newest first, with their commit: the migrations of
-- that commit describe the schema the step left (for deploys recorded before the ledger kept a
-- schema record).
SELECT d.id AS deploy_id, d.generation, d.tag, d.commit_sha
FROM {schema}.ledger l
JOIN {schema}.deploys d ON d.id = l.deploy_id
WHERE l.kind = 'step'
  AND l.action = 'apply-migrations'
  AND l.outcome = 'ok'
ORDER BY l.id DESC
LIMIT %(limit)s;
