-- Spectral's roles and what each may touch (spectral_deploy.db.roles).
-- {schema} is Spectral's schema, {owner} the role that owns it (Spectral's own commands),
-- {app} the role apps and their workers connect as. Grants are per object, never
-- "ALL TABLES IN SCHEMA": a table a later migration adds is nobody's until it is listed
-- here. To give the app role a new object, add its GRANT to grant_app (and say why).

-- revoke_app --
-- Start from nothing: whatever the app role held on Spectral's objects is taken back.
REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {app};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {app};
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {schema} FROM PUBLIC;
REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;

-- grant_app --
-- What apps need: emit (insert into the outbox), run workers (claim, renew, ack, retry and
-- dead-letter rows; register and heartbeat in the worker registry; archive finished rows),
-- check the schema version and the generations. Nothing of the ledger, the deploys, the
-- rollbacks, the generation counter or the app migrations' record: not even reading them.
GRANT USAGE ON SCHEMA {schema} TO {app};
GRANT SELECT ON {schema}.schema_migrations TO {app};
GRANT SELECT ON {schema}.generations TO {app};
GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.outbox TO {app};
GRANT SELECT, INSERT ON {schema}.outbox_archive TO {app};
GRANT SELECT, INSERT, UPDATE ON {schema}.workers TO {app};
-- the claim (one statement: ack the batch done, claim the next, each row fenced by a token
-- drawn from the sequence), and the keys of every generation it orders by (migration 0005)
GRANT USAGE ON SEQUENCE {schema}.outbox_lease_token_seq TO {app};
GRANT EXECUTE ON FUNCTION {schema}.outbox_ack_and_claim_v1(
    uuid, bigint, bigint[], bigint[], boolean, bigint, text[], integer, double precision
) TO {app};
GRANT EXECUTE ON FUNCTION {schema}.outbox_keyed_generations_v1() TO {app};

-- app_tables_default --
-- Embedded server only: the app's own tables, made by `migrate apply` (as the owner role)
-- in schema public, are the app's to read and write (not to alter or drop).
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE, REFERENCES ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {app};
GRANT SELECT, INSERT, UPDATE, DELETE, REFERENCES ON ALL TABLES IN SCHEMA public TO {app};
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {app};

-- owned_relations --
-- Tables, views and sequences of a schema not yet owned by the owner role (adoption of an
-- install made before the roles existed); identity sequences follow their table.
SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                      WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND pg_get_userbyid(c.relowner) <> %(owner)s
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')
  );

-- owned_functions --
-- Functions of a schema not yet owned by the owner role.
SELECT p.oid::regprocedure::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND pg_get_userbyid(p.proowner) <> %(owner)s;
