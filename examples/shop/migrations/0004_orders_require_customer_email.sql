-- Contract: once every running release writes customer_email (1.1.0 and later), new rows must
-- have it. NOT VALID leaves old rows alone and takes no long lock; 1.0.0 could no longer insert
-- orders, which is why this ships only after 1.1.0 is the oldest code that may run (N-1 = 1.1.0).
ALTER TABLE orders ADD CONSTRAINT orders_customer_email_present
    CHECK (customer_email IS NOT NULL) NOT VALID;
