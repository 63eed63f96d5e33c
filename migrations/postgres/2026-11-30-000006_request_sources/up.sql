-- Where an imported report came from: its source (a mapping's name) and the id it had
-- there, unique per source, so importing the same file again updates rather than adds.
CREATE TABLE request_sources (
    request_id BIGINT PRIMARY KEY REFERENCES requests(id),
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    channel TEXT,
    imported_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX request_sources_external ON request_sources (source, external_id);
-- Issues as they were at a past time: open from their first report until closed.
CREATE INDEX issues_history ON issues (service_code, cell, first_reported_at);
