-- read_only --
-- The catalog is only read.
SET TRANSACTION READ ONLY;

-- catalog_search_path --
-- Resolve names in PostgreSQL's catalog only (for this transaction).
SELECT set_config('search_path', 'pg_catalog', true);

-- schemas --
-- Every schema that is not PostgreSQL's own.
SELECT n.nspname AS name
FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
ORDER BY 1;

-- relations --
-- Tables (plain, partitioned, foreign), views, materialized views and sequences.
SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
       c.relispopulated AS populated
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
ORDER BY 1, 2;

-- columns --
-- Each live column: its type as SQL writes it, NOT NULL, whether an INSERT that leaves it
-- out gets a value (a non-NULL default, identity, generated), and a non-default collation.
SELECT n.nspname AS schema, c.relname AS table, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type_text,
       a.attnotnull AS not_null,
       (a.atthasdef AND pg_get_expr(d.adbin, d.adrelid) !~ '^NULL(::.*)?$')
         OR a.attidentity <> '' OR a.attgenerated <> '' AS has_default,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END AS collation
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
ORDER BY n.nspname, c.relname, a.attnum;

-- checks --
-- CHECK constraints, as SQL (the definition says NOT VALID when it is not validated).
SELECT n.nspname AS schema, c.relname AS table, con.conname AS name,
       pg_get_constraintdef(con.oid) AS definition
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype = 'c'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
ORDER BY 1, 2, 3;

-- indexes --
-- Every index, as the CREATE INDEX statement that would make it.
SELECT pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
ORDER BY 1;

-- routines --
-- Functions, procedures and aggregates outside PostgreSQL's own schemas.
SELECT n.nspname AS schema, p.proname AS name
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2;

-- types --
-- Enums, domains, ranges, multiranges and free-standing composite types.
SELECT n.nspname AS schema, t.typname AS name
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND c.relkind = 'c'))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2;
