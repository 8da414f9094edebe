-- Spectral's own schema, version 4: rollbacks (the planner's plan, and how far `rollback run`
-- got, so a crashed run resumes without repeating a done step). Additive only (see 0001).

CREATE TABLE {schema}.rollbacks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deploy_id bigint,
    failure_class integer NOT NULL CHECK (failure_class BETWEEN 1 AND 5),
    facts jsonb NOT NULL,
    reasons jsonb NOT NULL,
    plan jsonb NOT NULL,
    steps_done integer NOT NULL DEFAULT 0,
    started_by text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome text
);
-- One rollback in progress at a time.
CREATE UNIQUE INDEX rollbacks_one_open_idx ON {schema}.rollbacks ((true)) WHERE finished_at IS NULL;
