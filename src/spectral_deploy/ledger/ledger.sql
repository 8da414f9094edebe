-- Queries of the deploy ledger (spectral_deploy.ledger.store).

-- append_entry --
-- Append one entry; the table refuses UPDATE and DELETE, so this is the only write.
INSERT INTO {schema}.ledger
    (kind, action, outcome, actor, deploy_id, generation, from_generation, to_generation,
     intent_key, details)
VALUES
    (%(kind)s, %(action)s, %(outcome)s, %(actor)s, %(deploy_id)s, %(generation)s,
     %(from_generation)s, %(to_generation)s, %(intent_key)s, %(details)s)
RETURNING id, recorded_at, kind, action, outcome, actor, deploy_id, generation,
          from_generation, to_generation, intent_key, details;

-- append_intent --
-- Record an intent once: a second attempt with the same key returns nothing.
INSERT INTO {schema}.ledger
    (kind, action, outcome, actor, deploy_id, generation, from_generation, to_generation,
     intent_key, details)
VALUES
    (%(kind)s, %(action)s, %(outcome)s, %(actor)s, %(deploy_id)s, %(generation)s,
     %(from_generation)s, %(to_generation)s, %(intent_key)s, %(details)s)
ON CONFLICT (intent_key) DO NOTHING
RETURNING id, recorded_at, kind, action, outcome, actor, deploy_id, generation,
          from_generation, to_generation, intent_key, details;

-- entry_by_intent --
-- The entry that recorded an intent key.
SELECT id, recorded_at, kind, action, outcome, actor, deploy_id, generation,
       from_generation, to_generation, intent_key, details
FROM {schema}.ledger
WHERE intent_key = %(intent_key)s;

-- list_entries --
-- Entries, oldest first, optionally filtered; NULL filters match everything.
SELECT id, recorded_at, kind, action, outcome, actor, deploy_id, generation,
       from_generation, to_generation, intent_key, details
FROM {schema}.ledger
WHERE (%(kind)s::text IS NULL OR kind = %(kind)s::text)
  AND (%(deploy_id)s::bigint IS NULL OR deploy_id = %(deploy_id)s::bigint)
  AND (%(generation)s::bigint IS NULL
       OR %(generation)s::bigint IN (generation, from_generation, to_generation))
  AND id > %(after_id)s
ORDER BY id;

-- tail_entries --
-- The newest entries (returned newest first; the caller reverses them).
SELECT id, recorded_at, kind, action, outcome, actor, deploy_id, generation,
       from_generation, to_generation, intent_key, details
FROM {schema}.ledger
WHERE (%(kind)s::text IS NULL OR kind = %(kind)s::text)
  AND (%(deploy_id)s::bigint IS NULL OR deploy_id = %(deploy_id)s::bigint)
  AND (%(generation)s::bigint IS NULL
       OR %(generation)s::bigint IN (generation, from_generation, to_generation))
ORDER BY id DESC
LIMIT %(limit)s;
