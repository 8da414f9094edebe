-- Queries of the deploy store (spectral_deploy.cutover.store).

-- insert_deploy --
-- Open a deploy; the unique index on open deploys refuses a second one.
INSERT INTO {schema}.deploys
    (tag, commit_sha, from_generation, from_commit, blue_color, green_color, started_by)
VALUES (%(tag)s, %(commit)s, %(from_generation)s, %(from_commit)s, %(blue)s, %(green)s,
        %(started_by)s)
RETURNING id;

-- get_deploy --
-- One deploy.
SELECT id, tag, commit_sha, generation, from_generation, from_commit, blue_color, green_color,
       intent, step, failed_step, error, flipped_at, hold_until, started_by, started_at,
       updated_at, finished_at, outcome, conditions
FROM {schema}.deploys
WHERE id = %(id)s;

-- open_deploy --
-- The deploy in progress, if any.
SELECT id, tag, commit_sha, generation, from_generation, from_commit, blue_color, green_color,
       intent, step, failed_step, error, flipped_at, hold_until, started_by, started_at,
       updated_at, finished_at, outcome, conditions
FROM {schema}.deploys
WHERE finished_at IS NULL;

-- latest_deploy --
-- The newest deploy.
SELECT id, tag, commit_sha, generation, from_generation, from_commit, blue_color, green_color,
       intent, step, failed_step, error, flipped_at, hold_until, started_by, started_at,
       updated_at, finished_at, outcome, conditions
FROM {schema}.deploys
ORDER BY id DESC
LIMIT 1;

-- list_deploys --
-- Deploys, newest first.
SELECT id, tag, commit_sha, generation, from_generation, from_commit, blue_color, green_color,
       intent, step, failed_step, error, flipped_at, hold_until, started_by, started_at,
       updated_at, finished_at, outcome, conditions
FROM {schema}.deploys
ORDER BY id DESC
LIMIT %(limit)s;

-- set_generation --
-- Remember the generation allocated for a deploy (in the allocating transaction).
UPDATE {schema}.deploys SET generation = %(generation)s, updated_at = now() WHERE id = %(id)s;

-- step_done --
-- A step finished: record it and clear an earlier failure.
UPDATE {schema}.deploys
SET step = greatest(step, %(step)s), failed_step = NULL, error = NULL, updated_at = now()
WHERE id = %(id)s;

-- step_failed --
-- A step failed: the deploy waits for resume or abort.
UPDATE {schema}.deploys
SET failed_step = %(step)s, error = %(error)s, updated_at = now()
WHERE id = %(id)s;

-- set_intent --
-- What the operator asked for now.
UPDATE {schema}.deploys SET intent = %(intent)s, updated_at = now() WHERE id = %(id)s;

-- set_conditions --
-- The latest observed conditions.
UPDATE {schema}.deploys SET conditions = %(conditions)s, updated_at = now() WHERE id = %(id)s;

-- mark_flipped --
-- The CNAME points at green: the hold window starts.
UPDATE {schema}.deploys
SET flipped_at = coalesce(flipped_at, now()),
    hold_until = coalesce(hold_until, now() + make_interval(secs => %(hold_seconds)s)),
    step = greatest(step, %(step)s),
    failed_step = NULL,
    error = NULL,
    updated_at = now()
WHERE id = %(id)s;

-- finish_deploy --
-- The deploy is over.
UPDATE {schema}.deploys
SET finished_at = now(), outcome = %(outcome)s, updated_at = now()
WHERE id = %(id)s AND finished_at IS NULL;

-- try_lock_deploys --
-- Only one process drives deploys at a time (session-level advisory lock, no wait).
SELECT pg_try_advisory_lock(hashtextextended('spectral-deploy/deploy/' || %(schema)s, 0));

-- unlock_deploys --
-- Release the deploy lock.
SELECT pg_advisory_unlock(hashtextextended('spectral-deploy/deploy/' || %(schema)s, 0));

-- lock_holder --
-- Who holds the deploy lock (for the error message).
SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND l.granted
  AND ((l.classid::bigint << 32) | l.objid::bigint)
      = hashtextextended('spectral-deploy/deploy/' || %(schema)s, 0)
LIMIT 1;

-- open_rollback_of_deploy --
-- The rollback in progress for a deploy, if any (finishing that deploy would undercut it).
SELECT id FROM {schema}.rollbacks WHERE deploy_id = %(deploy_id)s AND finished_at IS NULL;

-- try_lock_named --
-- One process drives deploys (or rollbacks) at a time: a session-level advisory lock, no wait.
SELECT pg_try_advisory_lock(hashtextextended(%(key)s, 0));

-- unlock_named --
-- Release a named lock.
SELECT pg_advisory_unlock(hashtextextended(%(key)s, 0));

-- lock_holder_named --
-- Who holds a named lock (for the error message and for status).
SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND l.granted
  AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(%(key)s, 0)
LIMIT 1;
