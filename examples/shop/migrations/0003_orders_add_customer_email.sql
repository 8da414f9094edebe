-- Expand: a nullable column, so 1.0.0 (which does not know it) keeps inserting orders while
-- 1.1.0 (which writes it) rolls out. The lint passes it: no default is needed for NULL.
ALTER TABLE orders ADD COLUMN customer_email text;
