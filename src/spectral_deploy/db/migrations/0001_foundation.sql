-- Spectral's own schema, version 1: generations, the generation allocator, the deploy ledger.
-- Forward-only and additive: a later version may add tables, columns with defaults, indexes,
-- and new `_v2` functions, never drop or rename what an older spectral-deploy still uses.

CREATE TABLE {schema}.generation_counter (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_value bigint NOT NULL CHECK (last_value >= 0)
);
INSERT INTO {schema}.generation_counter (singleton, last_value) VALUES (true, 0);

CREATE TABLE {schema}.generations (
    generation bigint PRIMARY KEY CHECK (generation > 0),
    tag text,
    commit_sha text,
    state text NOT NULL DEFAULT 'allocated',
    allocated_by text NOT NULL,
    allocated_at timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retired_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX generations_state_idx ON {schema}.generations (state);

CREATE TABLE {schema}.ledger (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind text NOT NULL,
    action text NOT NULL,
    outcome text,
    actor text NOT NULL,
    deploy_id bigint,
    generation bigint,
    from_generation bigint,
    to_generation bigint,
    -- an action that must not repeat (a DNS flip, a chat message) records its intent once
    intent_key text UNIQUE,
    details jsonb NOT NULL DEFAULT '{{}}'::jsonb
);
CREATE INDEX ledger_deploy_idx ON {schema}.ledger (deploy_id, id) WHERE deploy_id IS NOT NULL;
CREATE INDEX ledger_kind_idx ON {schema}.ledger (kind, id);

CREATE FUNCTION {schema}.ledger_refuse_change_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the deploy ledger is append-only: % refused', TG_OP
        USING ERRCODE = 'SD001', HINT = 'append a correcting entry instead';
END
$$;

CREATE TRIGGER ledger_refuse_update_delete
    BEFORE UPDATE OR DELETE ON {schema}.ledger
    FOR EACH ROW EXECUTE FUNCTION {schema}.ledger_refuse_change_v1();

CREATE TRIGGER ledger_refuse_truncate
    BEFORE TRUNCATE ON {schema}.ledger
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.ledger_refuse_change_v1();
