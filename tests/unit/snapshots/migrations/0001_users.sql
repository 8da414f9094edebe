-- Users get an email; the old name column goes.
ALTER TABLE users
    ADD COLUMN email text NOT NULL,
    DROP COLUMN name;

CREATE INDEX users_email_idx ON users (email);
