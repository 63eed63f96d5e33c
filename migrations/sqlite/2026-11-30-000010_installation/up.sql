-- One row per database: a secret shared by every server on it (reporters' addresses are
-- kept only as keyed hashes under it), and the time a server last proved it could write.
CREATE TABLE installation (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    source_salt TEXT NOT NULL,
    written_at TIMESTAMP
);
INSERT INTO installation (id, source_salt) VALUES (1, lower(hex(randomblob(32))));
