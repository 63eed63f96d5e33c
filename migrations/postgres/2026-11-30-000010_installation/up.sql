-- One row per database: a secret shared by every server on it (reporters' addresses are
-- kept only as keyed hashes under it), and the time a server last proved it could write.
CREATE TABLE installation (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    source_salt TEXT NOT NULL,
    written_at TIMESTAMP
);
INSERT INTO installation (id, source_salt)
VALUES (1, replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
