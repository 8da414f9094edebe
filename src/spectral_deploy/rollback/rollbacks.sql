-- Queries of the rollback store (spectral_deploy.rollback.store).

-- insert_rollback --
-- Open a rollback with its plan (the unique index rollbacks_one_open_idx refuses a second
-- open one: the store says what that violation means).
INSERT INTO {schema}.rollbacks (deploy_id, failure_class, facts, reasons, plan, started_by)
VALUES (%(deploy_id)s, %(failure_class)s, %(facts)s, %(reasons)s, %(plan)s, %(started_by)s)
RETURNING id;

-- open_rollback --
-- The rollback in progress, if any.
SELECT id, deploy_id, failure_class, facts, reasons, plan, steps_done, started_by, started_at,
       finished_at, outcome
FROM {schema}.rollbacks
WHERE finished_at IS NULL;

-- get_rollback --
-- One rollback.
SELECT id, deploy_id, failure_class, facts, reasons, plan, steps_done, started_by, started_at,
       finished_at, outcome
FROM {schema}.rollbacks
WHERE id = %(id)s;

-- latest_rollback --
-- The newest rollback.
SELECT id, deploy_id, failure_class, facts, reasons, plan, steps_done, started_by, started_at,
       finished_at, outcome
FROM {schema}.rollbacks
ORDER BY id DESC
LIMIT 1;

-- rollback_step_done --
-- One more step of the plan is done.
UPDATE {schema}.rollbacks
SET steps_done = greatest(steps_done, %(steps_done)s), updated_at = now()
WHERE id = %(id)s;

-- finish_rollback --
-- The rollback is over.
UPDATE {schema}.rollbacks
SET finished_at = now(), outcome = %(outcome)s, updated_at = now()
WHERE id = %(id)s AND finished_at IS NULL;

