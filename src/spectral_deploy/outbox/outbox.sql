-- Queries of the outbox (spectral_deploy.outbox). Rows are routed by generation: every claim
-- names one generation. A claim is a lease (owner + token + expiry); the token is the fence that
-- acks, retries, dead-letters and renewals must present, so a row whose lease lapsed and was
-- claimed again can never be acked twice nor end both finished and failed. Tokens come from a
-- sequence and never repeat. `attempt` is the retry budget: handler runs charged to the row.

-- insert_event --
-- Emit one event in the caller's transaction; a delay counts from the emit itself, not from
-- the start of the caller's transaction.
INSERT INTO {schema}.outbox (generation, topic, key, payload, available_at)
VALUES (%(generation)s, %(topic)s, %(key)s, %(payload)s::jsonb,
        clock_timestamp() + make_interval(secs => %(delay)s))
RETURNING id;

-- copy_events --
-- Bulk emit (COPY fires the statement trigger once, so one notification per call).
COPY {schema}.outbox (generation, topic, key, payload) FROM STDIN;

-- synchronous_commit_off --
-- A store's session: a commit no longer waits for the disk (a claim or ack lost to a server
-- crash is a redelivery, which at-least-once delivery allows).
SET synchronous_commit = off;

-- ack_and_claim --
-- Finish this worker's rows and lease its next batch (see outbox_ack_and_claim_v1 in the
-- schema's migration 0005): one call, one commit per batch. Payloads come back as text, so a
-- row the codec cannot decode is one row's problem, never the batch's. The columns are named as
-- the fields of a claimed row (``store.Claimed``); every row carries the ack count.
SELECT r_id AS id, r_topic AS topic, r_key AS key, r_payload AS payload_text,
       r_generation AS generation, r_attempt AS attempt, r_token AS token,
       r_created_at AS created_at, r_original_generation AS original_generation,
       r_suspect AS suspect, r_acked AS acked
FROM {schema}.outbox_ack_and_claim_v1(
    %(worker)s, %(generation)s, %(ack_ids)s::bigint[], %(ack_tokens)s::bigint[],
    %(archive)s::boolean, %(after_id)s, %(topics)s::text[], %(limit)s, %(lease_seconds)s);

-- schedule_retry --
-- Give a row whose handler failed back for a later attempt (fenced), charging the attempt;
-- keeps the error for operators.
UPDATE {schema}.outbox
SET available_at = now() + make_interval(secs => %(delay_seconds)s),
    attempt = %(attempt)s,
    lease_owner = NULL,
    lease_expires_at = NULL,
    last_error = %(error)s
WHERE id = %(id)s AND lease_token = %(token)s AND lease_owner = %(worker)s
RETURNING id;

-- dead_letter --
-- Park a row that used up its attempts, or that cannot be run at all (fenced); it is kept,
-- never deleted.
UPDATE {schema}.outbox
SET state = 'dead',
    dead_at = now(),
    attempt = %(attempt)s,
    lease_owner = NULL,
    lease_expires_at = NULL,
    last_error = %(error)s
WHERE id = %(id)s AND lease_token = %(token)s AND lease_owner = %(worker)s
RETURNING id;

-- release_leases --
-- Give back rows this worker holds but will not run (fenced), uncharged and at once: the rows
-- after a hung handler, the rows in hand when it is told to stop, a row whose finish failed.
UPDATE {schema}.outbox o
SET lease_owner = NULL,
    lease_expires_at = NULL
FROM unnest(%(ids)s::bigint[], %(tokens)s::bigint[]) AS h(id, token)
WHERE o.id = h.id AND o.lease_token = h.token AND o.lease_owner = %(worker)s
  AND o.state = 'pending'
RETURNING o.id;

-- register_worker --
-- A worker process announces itself (state 'starting') with the settings others judge it by.
INSERT INTO {schema}.workers (id, generation, host, pid, app, state, concurrency, lease_seconds,
                              stale_after_seconds, heartbeat_seconds, claim_topics)
VALUES (%(id)s, %(generation)s, %(host)s, %(pid)s, %(app)s, 'starting', %(concurrency)s,
        %(lease_seconds)s, %(stale_after_seconds)s, %(heartbeat_seconds)s,
        %(claim_topics)s::text[]);

-- set_worker_state --
-- Move a worker along starting -> running -> draining -> stopped (and record its topics).
UPDATE {schema}.workers
SET state = %(state)s,
    heartbeat_at = now(),
    stopped_at = CASE WHEN %(state)s = 'stopped' THEN now() ELSE stopped_at END,
    last_error = coalesce(%(error)s, last_error),
    topics = coalesce(%(topics)s::text[], topics)
WHERE id = %(id)s;

-- heartbeat --
-- Prove this worker is alive (re-arming it if it was reaped while it could not beat: paused,
-- cut off) and renew the leases of the rows it still holds, fenced: a row that another worker
-- claimed meanwhile is not renewed, and the worker drops it. Returns whether it had been
-- reaped, whether it was told to stop, and the ids renewed.
WITH beat AS (
    UPDATE {schema}.workers w
    SET heartbeat_at = now(), reaped_at = NULL
    WHERE w.id = %(worker)s
    RETURNING (SELECT was.reaped_at FROM {schema}.workers was WHERE was.id = %(worker)s)
                  AS reaped_at,
              w.stop_requested_at
), renewed AS (
    UPDATE {schema}.outbox o
    SET lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
    FROM unnest(%(ids)s::bigint[], %(tokens)s::bigint[]) AS h(id, token)
    WHERE o.id = h.id AND o.lease_token = h.token AND o.lease_owner = %(worker)s
      AND o.state = 'pending'
    RETURNING o.id
)
SELECT (SELECT reaped_at IS NOT NULL FROM beat) AS was_reaped,
       (SELECT stop_requested_at IS NOT NULL FROM beat) AS stop_requested,
       coalesce((SELECT array_agg(id) FROM renewed), '{{}}'::bigint[]) AS renewed;

-- reap_dead_workers --
-- End the leases of workers whose heartbeat went stale by their own threshold (crashed,
-- SIGKILLed, paused), so their rows are claimed again now instead of when the leases run out.
-- A reaped worker that beats again is re-armed (see heartbeat), so it is reaped again if it
-- later dies. Workers registered by older versions, with no threshold, get the caller's.
WITH dead AS (
    UPDATE {schema}.workers
    SET reaped_at = now()
    WHERE reaped_at IS NULL
      AND state <> 'stopped'
      AND heartbeat_at < now() - make_interval(
            secs => coalesce(stale_after_seconds, %(stale_after_seconds)s))
    RETURNING id, generation
)
UPDATE {schema}.outbox o
SET lease_expires_at = now()
FROM dead d
WHERE o.generation = d.generation
  AND o.state = 'pending'
  AND o.lease_owner = d.id
  AND o.lease_expires_at > now()
RETURNING o.id;

-- backlog_by_generation --
-- Pending / in-flight / dead per generation, the oldest unfinished row's age, and the rows no
-- live worker will ever claim ("stranded"): pending rows of a generation (of topics) that no
-- live claiming worker of it takes, unless a live worker holds them under a lease. Live: not
-- stopping, heartbeat fresh by the worker's own threshold.
WITH claimers AS (
    SELECT id, generation, claim_topics
    FROM {schema}.workers
    WHERE state IN ('starting', 'running')
      AND stop_requested_at IS NULL
      AND heartbeat_at >= now() - make_interval(
            secs => coalesce(stale_after_seconds, %(stale_after_seconds)s))
), alive AS (
    SELECT id
    FROM {schema}.workers
    WHERE state <> 'stopped'
      AND heartbeat_at >= now() - make_interval(
            secs => coalesce(stale_after_seconds, %(stale_after_seconds)s))
)
SELECT o.generation,
       count(*) FILTER (WHERE o.state = 'pending'
                        AND (o.lease_expires_at IS NULL OR o.lease_expires_at <= now()))
           AS pending,
       count(*) FILTER (WHERE o.state = 'pending' AND o.lease_expires_at > now()) AS in_flight,
       count(*) FILTER (WHERE o.state = 'dead') AS dead,
       extract(epoch FROM now() - min(o.created_at) FILTER (WHERE o.state = 'pending'))::float8
           AS oldest_pending_age_seconds,
       count(*) FILTER (
           WHERE o.state = 'pending'
             AND NOT coalesce(
                 o.lease_expires_at > now() AND o.lease_owner IN (SELECT id FROM alive), false)
             AND NOT EXISTS (
                 SELECT 1 FROM claimers c
                 WHERE c.generation = o.generation
                   AND (c.claim_topics IS NULL OR o.topic = ANY(c.claim_topics))))
           AS stranded_rows
FROM {schema}.outbox o
GROUP BY o.generation
ORDER BY o.generation;

-- list_workers --
-- Workers not long stopped; `live` means not stopped and a heartbeat fresh by the worker's own
-- threshold (the caller's for workers registered by older versions).
SELECT id, generation, host, pid, app, state, concurrency, lease_seconds, started_at,
       heartbeat_at, stopped_at, last_error,
       (state <> 'stopped'
        AND heartbeat_at >= now() - make_interval(
              secs => coalesce(stale_after_seconds, %(stale_after_seconds)s))) AS live,
       extract(epoch FROM now() - heartbeat_at)::float8 AS heartbeat_age_seconds,
       topics, claim_topics, stop_requested_at IS NOT NULL AS stop_requested,
       coalesce(stale_after_seconds, %(stale_after_seconds)s) AS stale_after_seconds
FROM {schema}.workers
WHERE state <> 'stopped' OR stopped_at > now() - make_interval(secs => %(keep_stopped_seconds)s)
ORDER BY generation, started_at;

-- dead_rows --
-- Dead-lettered rows, optionally of one generation and topic.
SELECT id, generation, topic, key, attempt, last_error, created_at, dead_at
FROM {schema}.outbox
WHERE state = 'dead'
  AND (%(generation)s::bigint IS NULL OR generation = %(generation)s::bigint)
  AND (%(topic)s::text IS NULL OR topic = %(topic)s::text)
  AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
ORDER BY id
LIMIT %(limit)s;

-- retry_dead --
-- Put dead rows back in line with a fresh budget (attempt 0), due now; their last error is
-- kept. The fence is not reset: the next claim takes a new token, so no old ack matches.
UPDATE {schema}.outbox
SET state = 'pending', attempt = 0, available_at = now(), dead_at = NULL,
    lease_owner = NULL, lease_expires_at = NULL
WHERE state = 'dead'
  AND (%(generation)s::bigint IS NULL OR generation = %(generation)s::bigint)
  AND (%(topic)s::text IS NULL OR topic = %(topic)s::text)
  AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
RETURNING id, generation, topic;

-- discard_dead --
-- Delete dead rows for good (the caller records an audit entry in the ledger).
DELETE FROM {schema}.outbox
WHERE state = 'dead'
  AND (%(generation)s::bigint IS NULL OR generation = %(generation)s::bigint)
  AND (%(topic)s::text IS NULL OR topic = %(topic)s::text)
  AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
RETURNING id, generation, topic, attempt, last_error;

-- backlog_by_topic --
-- One generation's rows per topic: pending, in flight, dead, and the oldest unfinished row.
SELECT topic,
       count(*) FILTER (WHERE state = 'pending'
                        AND (lease_expires_at IS NULL OR lease_expires_at <= now())) AS pending,
       count(*) FILTER (WHERE state = 'pending' AND lease_expires_at > now()) AS in_flight,
       count(*) FILTER (WHERE state = 'dead') AS dead,
       extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending'))::float8
           AS oldest_pending_age_seconds
FROM {schema}.outbox
WHERE generation = %(generation)s
GROUP BY topic
ORDER BY topic;

-- unfinished_rows --
-- Pending and in-flight rows of a generation, of some topics (NULL: all), from its index.
SELECT count(*)
FROM {schema}.outbox
WHERE generation = %(generation)s
  AND state = 'pending'
  AND (%(topics)s::text[] IS NULL OR topic = ANY(%(topics)s::text[]));

-- release_worker --
-- A worker whose process is gone (found by pid on this host): stopped, its leases ended now.
WITH gone AS (
    UPDATE {schema}.workers
    SET state = 'stopped', stopped_at = now(), reaped_at = now(), last_error = %(reason)s
    WHERE id = %(id)s AND state <> 'stopped'
    RETURNING id, generation
)
UPDATE {schema}.outbox o
SET lease_expires_at = now()
FROM gone g
WHERE o.generation = g.generation
  AND o.state = 'pending'
  AND o.lease_owner = g.id
  AND o.lease_expires_at > now()
RETURNING o.id;

-- adopt_batch --
-- Legacy drain, adopt mode: re-stamp a bounded batch of a generation's pending rows to another
-- generation, keeping the first original generation, with a fresh budget and no inherited
-- backoff. Rows under a live lease are left alone; rows locked by a claim in progress are
-- skipped. A row whose last lease ended without an outcome stays marked so (its expired
-- lease time is kept): the new fleet runs it on its own, charged, in case it kills workers.
-- Only rows of the given topics move (NULL: every topic): rows the target generation has no
-- handler for would only retry until dead there. The caller commits at once (short locks).
WITH picked AS (
    SELECT id
    FROM {schema}.outbox
    WHERE generation = %(from_generation)s
      AND state = 'pending'
      AND id > %(after_id)s
      AND (%(topics)s::text[] IS NULL OR topic = ANY(%(topics)s::text[]))
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.outbox o
SET generation = %(to_generation)s,
    original_generation = coalesce(o.original_generation, o.generation),
    attempt = 0,
    -- a retry's backoff is dropped; an emit's delay (a row never tried) is kept
    available_at = CASE WHEN o.attempt > 0 THEN least(o.available_at, now())
                        ELSE o.available_at END,
    lease_owner = NULL
FROM picked p
WHERE o.id = p.id
RETURNING o.id, o.topic;

-- notify_generation --
-- Wake the workers of a generation (used after adopting rows into it).
SELECT pg_notify(%(channel)s, %(generation)s::text);

-- blocked_keys --
-- Rows of a generation (of the given topics) that wait behind an earlier pending row of their
-- key that the caller cannot claim: a topic it has no handler for, or another generation.
-- One line per key: how many rows wait, and the first blocking row.
SELECT o.key, count(*) AS rows, b.id AS blocker_id, b.generation AS blocker_generation,
       b.topic AS blocker_topic
FROM {schema}.outbox o
JOIN LATERAL (
    SELECT p.id, p.generation, p.topic
    FROM {schema}.outbox p
    WHERE p.generation = ANY({schema}.outbox_keyed_generations_v1()) AND p.key = o.key
      AND p.state = 'pending' AND p.id < o.id
    ORDER BY p.id
    LIMIT 1
) b ON b.generation <> o.generation OR NOT (b.topic = ANY(%(topics)s::text[]))
WHERE o.generation = %(generation)s
  AND o.state = 'pending'
  AND o.key IS NOT NULL
  AND o.topic = ANY(%(topics)s::text[])
GROUP BY o.key, b.id, b.generation, b.topic
ORDER BY b.id;

-- generation_state --
-- Whether a generation was allocated, and its state (emit checks once per process).
SELECT state FROM {schema}.generations WHERE generation = %(generation)s;

-- request_stop --
-- Tell a generation's workers to stop claiming (a rollback away from it): each finishes the
-- rows in hand and stops at its next heartbeat; a notification wakes them at once.
UPDATE {schema}.workers
SET stop_requested_at = now()
WHERE generation = %(generation)s AND state <> 'stopped' AND stop_requested_at IS NULL
RETURNING id;

-- notify_stop --
-- Wake a generation's workers to read their stop request now (payload 'stop:<generation>';
-- older listeners, which compare the payload with their generation, ignore it).
SELECT pg_notify(%(channel)s, 'stop:' || %(generation)s::text);

-- generation_topics --
-- What each live worker of a generation recorded as the topics it handles (NULL: a worker of
-- an older version, which did not record them), and its --app.
SELECT topics, app
FROM {schema}.workers
WHERE generation = %(generation)s
  AND state <> 'stopped'
  AND stop_requested_at IS NULL
  AND heartbeat_at >= now() - make_interval(
        secs => coalesce(stale_after_seconds, %(stale_after_seconds)s));
