-- Spectral's own schema, version 3: the app's applied migrations and the deploys.
-- Additive only (see 0001).

-- The app's forward-only migrations applied by `spectral-deploy migrate apply`.
CREATE TABLE {schema}.app_migrations (
    filename text PRIMARY KEY,
    checksum text NOT NULL,
    generation bigint,
    transactional boolean NOT NULL,
    duration_ms integer NOT NULL,
    applied_by text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per cutover attempt. What the operator asked for (intent) is kept apart from
-- what was observed (step reached, flip, conditions); the phase is computed from both.
CREATE TABLE {schema}.deploys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tag text NOT NULL,
    commit_sha text NOT NULL,
    -- the generation being deployed (allocated at step 2) and the one it replaces
    generation bigint,
    from_generation bigint,
    from_commit text,
    -- the color serving traffic when the deploy started, and the one being deployed
    blue_color text NOT NULL,
    green_color text NOT NULL,
    intent text NOT NULL DEFAULT 'deploy',
    step integer NOT NULL DEFAULT 0,
    failed_step integer,
    error text,
    conditions jsonb NOT NULL DEFAULT '[]'::jsonb,
    flipped_at timestamptz,
    hold_until timestamptz,
    started_by text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome text
);
-- At most one deploy in progress (finished_at unset) at any time.
CREATE UNIQUE INDEX deploys_one_open_idx ON {schema}.deploys ((true)) WHERE finished_at IS NULL;
CREATE INDEX deploys_started_idx ON {schema}.deploys (started_at DESC);
