-- Figures computed in the background and read by pages that must not scan every report
-- (the public neighbourhood dashboard): one JSON document per name, with when it was
-- computed.
CREATE TABLE summaries (
    name TEXT PRIMARY KEY NOT NULL,
    body TEXT NOT NULL,
    computed_at TIMESTAMP NOT NULL
);
