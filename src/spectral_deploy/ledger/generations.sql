-- Queries of the generation allocator (spectral_deploy.ledger.generations).

-- next_generation --
-- Take the next number; the counter's row lock serialises concurrent allocators, and
-- because the insert of the generation commits in the same transaction there are no gaps.
UPDATE {schema}.generation_counter
SET last_value = last_value + 1
WHERE singleton
RETURNING last_value;

-- insert_generation --
-- Record an allocated generation with its tag and commit.
INSERT INTO {schema}.generations (generation, tag, commit_sha, state, allocated_by)
VALUES (%(generation)s, %(tag)s, %(commit_sha)s, %(state)s, %(allocated_by)s)
RETURNING generation, tag, commit_sha, state, allocated_by, allocated_at, activated_at,
          retired_at;

-- get_generation --
-- One generation by number.
SELECT generation, tag, commit_sha, state, allocated_by, allocated_at, activated_at, retired_at
FROM {schema}.generations
WHERE generation = %(generation)s;

-- lock_generation --
-- One generation by number, locked for a state change.
SELECT generation, tag, commit_sha, state, allocated_by, allocated_at, activated_at, retired_at
FROM {schema}.generations
WHERE generation = %(generation)s
FOR UPDATE;

-- list_generations --
-- All generations, newest first.
SELECT generation, tag, commit_sha, state, allocated_by, allocated_at, activated_at, retired_at
FROM {schema}.generations
ORDER BY generation DESC;

-- active_generation --
-- The generation serving traffic, if any.
SELECT generation, tag, commit_sha, state, allocated_by, allocated_at, activated_at, retired_at
FROM {schema}.generations
WHERE state = 'active'
ORDER BY generation DESC
LIMIT 1;

-- set_generation_state --
-- Move a generation to a new state, stamping the matching timestamp.
UPDATE {schema}.generations
SET state = %(state)s,
    activated_at = CASE WHEN %(state)s = 'active' THEN now() ELSE activated_at END,
    retired_at = CASE WHEN %(state)s IN ('retired', 'failed') THEN now() ELSE retired_at END,
    updated_at = now()
WHERE generation = %(generation)s
RETURNING generation, tag, commit_sha, state, allocated_by, allocated_at, activated_at,
          retired_at;
