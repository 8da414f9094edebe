-- Spectral's own schema, version 5: the outbox under faults. Additive only: spectral-deploy
-- versions before this one keep working (they fence with `attempt`, as before).

-- The fence: every claim takes a new token, so a lease never repeats, whatever happens to the
-- row later (`outbox dead retry`, an adopt). `attempt` is now the retry budget alone: the
-- handler runs charged to the row since its budget last started.
CREATE SEQUENCE {schema}.outbox_lease_token_seq AS bigint;
ALTER TABLE {schema}.outbox ADD COLUMN lease_token bigint;

-- Per-key order holds across generations. The generations that hold pending keyed rows are
-- few (the live one, one being drained): found by a loose scan of outbox_pending_key_idx, one
-- index descent each, they let that index answer "an earlier row of this key, in any
-- generation" without a new index (whose build would block emits on the hot table).
CREATE FUNCTION {schema}.outbox_keyed_generations_v1() RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE g(generation) AS (
        SELECT min(generation) FROM {schema}.outbox
        WHERE state = 'pending' AND key IS NOT NULL
        UNION ALL
        SELECT (SELECT min(o.generation) FROM {schema}.outbox o
                WHERE o.state = 'pending' AND o.key IS NOT NULL AND o.generation > g.generation)
        FROM g
        WHERE g.generation IS NOT NULL
    )
    SELECT coalesce(array_agg(generation) FILTER (WHERE generation IS NOT NULL), '{{}}')
    FROM g
$$;

-- Liveness per worker: the reaper and `outbox status` judge each worker by its own settings.
-- topics: the handlers it has; claim_topics: what it claims (NULL: every topic; a legacy
-- drain claims only the topics it has handlers for). stop_requested_at: told to stop claiming
-- (it finishes the rows in hand, then stops).
ALTER TABLE {schema}.workers
    ADD COLUMN stale_after_seconds double precision,
    ADD COLUMN heartbeat_seconds double precision,
    ADD COLUMN topics text[],
    ADD COLUMN claim_topics text[],
    ADD COLUMN stop_requested_at timestamptz;

-- Finish a worker's rows and lease its next batch, in one call (one round trip, one commit).
--
-- 1. Acks: delete (or archive) the rows it finished, fenced by owner and lease token.
-- 2. Candidates, in id order from p_after_id: pending rows of the generation (of p_topics),
--    due, not under a live lease; a keyed row only when no pending row of its key, in any
--    generation, has a lower id, and only if this claim can take the key's advisory lock
--    (claims of one key never overlap). Locked FOR UPDATE SKIP LOCKED.
-- 3. The claim, in a new statement, so with a snapshot taken after the key locks: a keyed
--    candidate is checked again (a claim of its key committed meanwhile is now visible), and
--    of the candidates whose last lease ended without an outcome (its worker died or lost it:
--    "suspects") only the first is taken, and it is charged an attempt now, since it runs
--    first. Other rows are charged only when their handler fails, so a crash charges nothing
--    to rows whose handler never started.
-- Returns the claimed rows (the suspect first), each with the ack count; or one row with the
-- ack count and NULLs when nothing was claimed.
CREATE FUNCTION {schema}.outbox_ack_and_claim_v1(
    p_worker uuid,
    p_generation bigint,
    p_ack_ids bigint[],
    p_ack_tokens bigint[],
    p_archive boolean,
    p_after_id bigint,
    p_topics text[],
    p_limit integer,
    p_lease_seconds double precision
) RETURNS TABLE (
    r_acked integer,
    r_id bigint,
    r_topic text,
    r_key text,
    r_payload text,
    r_generation bigint,
    r_attempt integer,
    r_token bigint,
    r_created_at timestamptz,
    r_original_generation bigint,
    r_suspect boolean
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_acked integer := 0;
    v_ids bigint[];
    v_suspect bigint;
    v_token bigint;
    v_keyed bigint[];
BEGIN
    IF cardinality(p_ack_ids) > 0 THEN
        WITH done AS (
            DELETE FROM {schema}.outbox o
            USING unnest(p_ack_ids, p_ack_tokens) AS a(id, token)
            WHERE o.id = a.id AND o.lease_token = a.token AND o.lease_owner = p_worker
            RETURNING o.id, o.generation, o.topic, o.key, o.payload, o.attempt, o.created_at,
                      o.original_generation
        ), kept AS (
            INSERT INTO {schema}.outbox_archive
                (id, generation, topic, key, payload, attempt, created_at, original_generation)
            SELECT d.id, d.generation, d.topic, d.key, d.payload, d.attempt, d.created_at,
                   d.original_generation
            FROM done d
            WHERE p_archive
        )
        SELECT count(*) INTO v_acked FROM done;
    END IF;

    IF p_limit > 0 THEN
        v_keyed := {schema}.outbox_keyed_generations_v1();
        SELECT array_agg(c.id ORDER BY c.id), min(c.id) FILTER (WHERE c.suspect)
        INTO v_ids, v_suspect
        FROM (
            SELECT o.id, o.lease_expires_at IS NOT NULL AS suspect
            FROM {schema}.outbox o
            WHERE o.generation = p_generation
              AND o.state = 'pending'
              AND o.id > p_after_id
              AND (p_topics IS NULL OR o.topic = ANY(p_topics))
              AND o.available_at <= now()
              AND (o.lease_expires_at IS NULL OR o.lease_expires_at < now())
              AND CASE
                    WHEN o.key IS NULL THEN true
                    WHEN EXISTS (
                        SELECT 1 FROM {schema}.outbox p
                        WHERE p.generation = ANY(v_keyed) AND p.key = o.key
                          AND p.state = 'pending' AND p.id < o.id)
                    THEN false
                    ELSE pg_try_advisory_xact_lock(1936745331, hashtext(o.key))
                  END
            ORDER BY o.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        ) c;
    END IF;

    IF v_ids IS NOT NULL THEN
        v_token := nextval('{schema}.outbox_lease_token_seq');
        v_keyed := {schema}.outbox_keyed_generations_v1();
        RETURN QUERY
        WITH claimed AS (
            UPDATE {schema}.outbox o
            SET lease_token = v_token,
                lease_owner = p_worker,
                lease_expires_at = now() + make_interval(secs => p_lease_seconds),
                attempt = o.attempt + CASE WHEN o.id = v_suspect THEN 1 ELSE 0 END
            WHERE o.id = ANY(v_ids)
              AND (o.lease_expires_at IS NULL OR o.id = v_suspect)
              AND (o.key IS NULL OR NOT (
                    EXISTS (
                        SELECT 1 FROM {schema}.outbox p
                        WHERE p.generation = ANY(v_keyed) AND p.key = o.key
                          AND p.state = 'pending' AND p.id < o.id)
                    OR EXISTS (
                        -- a later id of the key in flight: this row committed after it was
                        -- claimed (ids are taken at insert, rows are seen at commit)
                        SELECT 1 FROM {schema}.outbox p
                        WHERE p.generation = ANY(v_keyed) AND p.key = o.key
                          AND p.state = 'pending' AND p.id > o.id
                          AND p.lease_expires_at >= now())))
            RETURNING o.id AS id, o.topic AS topic, o.key AS key, o.payload::text AS payload,
                      o.generation AS generation,
                      o.attempt + CASE WHEN o.id = v_suspect THEN 0 ELSE 1 END AS run_attempt,
                      o.created_at AS created_at, o.original_generation AS original_generation,
                      o.id IS NOT DISTINCT FROM v_suspect AS suspect
        )
        SELECT v_acked, c.id, c.topic, c.key, c.payload, c.generation, c.run_attempt, v_token,
               c.created_at, c.original_generation, c.suspect
        FROM claimed c
        ORDER BY c.suspect DESC, c.id;
    END IF;
    IF NOT FOUND OR v_ids IS NULL THEN
        RETURN QUERY SELECT v_acked, NULL::bigint, NULL::text, NULL::text, NULL::text,
            NULL::bigint, NULL::integer, NULL::bigint, NULL::timestamptz, NULL::bigint,
            NULL::boolean;
    END IF;
END
$$;
