-- Queries of the outbox (spectral_deploy.outbox). Rows are routed by generation: every claim
-- names one generation. A claim is a lease (owner + expiry); `attempt` is the fencing token
-- that acks, retries and dead-letters must present, so a row whose lease lapsed and was claimed
-- again can never be acked twice nor end both finished and failed.

-- insert_event --
-- Emit one event in the caller's transaction.
INSERT INTO {schema}.outbox (generation, topic, key, payload, available_at)
VALUES (%(generation)s, %(topic)s, %(key)s, %(payload)s::jsonb,
        now() + make_interval(secs => %(delay)s))
RETURNING id;

-- copy_events --
-- Bulk emit (COPY fires the statement trigger once, so one notification per call).
COPY {schema}.outbox (generation, topic, key, payload) FROM STDIN;

-- ack_and_claim --
-- Delete the rows this worker finished (fenced by owner and attempt), then lease the next
-- batch of its generation: fresh rows and rows whose lease expired (of the given topics, when a
-- legacy drain only has handlers for some), starting just past the ids it claimed last, skipping rows locked by other claimers, and for keyed rows only the head of
-- each key. With `archive` the finished rows are moved to outbox_archive instead of dropped.
-- One statement, one commit per batch. Always returns at least one row: the ack count, with
-- NULL event columns when nothing was claimed.
WITH acked AS (
    DELETE FROM {schema}.outbox o
    USING unnest(%(ack_ids)s::bigint[], %(ack_attempts)s::integer[]) AS a(id, attempt)
    WHERE o.id = a.id AND o.attempt = a.attempt AND o.lease_owner = %(worker)s
    RETURNING o.id, o.generation, o.topic, o.key, o.payload, o.attempt, o.created_at,
              o.original_generation
), archived AS (
    INSERT INTO {schema}.outbox_archive
        (id, generation, topic, key, payload, attempt, created_at, original_generation)
    SELECT id, generation, topic, key, payload, attempt, created_at, original_generation
    FROM acked
    WHERE %(archive)s::boolean
), candidates AS (
    SELECT o.id
    FROM {schema}.outbox o
    WHERE o.generation = %(generation)s
      AND o.state = 'pending'
      AND o.id > %(after_id)s
      AND (%(topics)s::text[] IS NULL OR o.topic = ANY(%(topics)s::text[]))
      AND o.available_at <= now()
      AND (o.lease_expires_at IS NULL OR o.lease_expires_at < now())
      AND (o.key IS NULL OR NOT EXISTS (
            SELECT 1 FROM {schema}.outbox p
            WHERE p.generation = o.generation AND p.key = o.key
              AND p.state = 'pending' AND p.id < o.id))
    ORDER BY o.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE {schema}.outbox o
    SET attempt = o.attempt + 1,
        lease_owner = %(worker)s,
        lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
    FROM candidates c
    WHERE o.id = c.id
    RETURNING o.id, o.topic, o.key, o.payload, o.generation, o.attempt, o.created_at,
              o.original_generation
)
SELECT (SELECT count(*) FROM acked), c.id, c.topic, c.key, c.payload, c.generation, c.attempt,
       c.created_at, c.original_generation
FROM (SELECT 1) AS one
LEFT JOIN claimed c ON true
ORDER BY c.id;

-- schedule_retry --
-- Give a failed row back for a later attempt (fenced); keeps the error for operators.
UPDATE {schema}.outbox
SET available_at = now() + make_interval(secs => %(delay_seconds)s),
    lease_owner = NULL,
    lease_expires_at = NULL,
    last_error = %(error)s
WHERE id = %(id)s AND attempt = %(attempt)s AND lease_owner = %(worker)s
RETURNING id;

-- dead_letter --
-- Park a row that used up its attempts (fenced); it is kept, never deleted.
UPDATE {schema}.outbox
SET state = 'dead',
    dead_at = now(),
    lease_owner = NULL,
    lease_expires_at = NULL,
    last_error = %(error)s
WHERE id = %(id)s AND attempt = %(attempt)s AND lease_owner = %(worker)s
RETURNING id;

-- register_worker --
-- A worker process announces itself (state 'starting').
INSERT INTO {schema}.workers (id, generation, host, pid, app, state, concurrency, lease_seconds)
VALUES (%(id)s, %(generation)s, %(host)s, %(pid)s, %(app)s, 'starting', %(concurrency)s,
        %(lease_seconds)s);

-- set_worker_state --
-- Move a worker along starting -> running -> draining -> stopped.
UPDATE {schema}.workers
SET state = %(state)s,
    heartbeat_at = now(),
    stopped_at = CASE WHEN %(state)s = 'stopped' THEN now() ELSE stopped_at END,
    last_error = coalesce(%(error)s, last_error)
WHERE id = %(id)s;

-- heartbeat --
-- Prove this worker is alive and extend the leases it holds (renewed at most every third of a
-- lease, so a slow handler's rows are never claimed by someone else while it lives).
WITH beat AS (
    UPDATE {schema}.workers SET heartbeat_at = now() WHERE id = %(worker)s RETURNING id
)
UPDATE {schema}.outbox
SET lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
WHERE generation = %(generation)s
  AND state = 'pending'
  AND lease_owner = %(worker)s
  AND lease_expires_at IS NOT NULL
  AND EXISTS (SELECT 1 FROM beat)
RETURNING id;

-- reap_dead_workers --
-- End the leases of workers whose heartbeat went stale (crashed, SIGKILLed), once per worker,
-- so their rows are claimed again now instead of when the leases run out.
WITH dead AS (
    UPDATE {schema}.workers
    SET reaped_at = now()
    WHERE reaped_at IS NULL
      AND state <> 'stopped'
      AND heartbeat_at < now() - make_interval(secs => %(stale_after_seconds)s)
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
-- Pending / in-flight / dead per generation, and the oldest unfinished row's age.
SELECT generation,
       count(*) FILTER (WHERE state = 'pending'
                        AND (lease_expires_at IS NULL OR lease_expires_at <= now())),
       count(*) FILTER (WHERE state = 'pending' AND lease_expires_at > now()),
       count(*) FILTER (WHERE state = 'dead'),
       extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending'))::float8
FROM {schema}.outbox
GROUP BY generation
ORDER BY generation;

-- list_workers --
-- Workers not long stopped; `live` means not stopped and a fresh heartbeat.
SELECT id, generation, host, pid, app, state, concurrency, lease_seconds, started_at,
       heartbeat_at, stopped_at, last_error,
       (state <> 'stopped'
        AND heartbeat_at >= now() - make_interval(secs => %(stale_after_seconds)s)) AS live,
       extract(epoch FROM now() - heartbeat_at)::float8 AS heartbeat_age
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
-- Put dead rows back in line with a fresh set of attempts (their last error is kept).
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
                        AND (lease_expires_at IS NULL OR lease_expires_at <= now())),
       count(*) FILTER (WHERE state = 'pending' AND lease_expires_at > now()),
       count(*) FILTER (WHERE state = 'dead'),
       extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending'))::float8
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
-- generation, keeping the first original generation. Rows under a live lease are left alone;
-- rows locked by a claim in progress are skipped. The caller commits at once (short locks).
WITH picked AS (
    SELECT id
    FROM {schema}.outbox
    WHERE generation = %(from_generation)s
      AND state = 'pending'
      AND id > %(after_id)s
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.outbox o
SET generation = %(to_generation)s,
    original_generation = coalesce(o.original_generation, o.generation),
    lease_owner = NULL,
    lease_expires_at = NULL
FROM picked p
WHERE o.id = p.id
RETURNING o.id, o.topic;

-- notify_generation --
-- Wake the workers of a generation (used after adopting rows into it).
SELECT pg_notify(%(channel)s, %(generation)s::text);
