-- Imported repairs (and resurfacing dated from a rating's last overlay year) keep their
-- source and the id they had there, so importing the same file again adds nothing.
-- Work Upkeep's own crews record has no source.
ALTER TABLE maintenance_history ADD COLUMN source TEXT;
ALTER TABLE maintenance_history ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX maintenance_history_external
    ON maintenance_history (source, external_id, segment_id);

-- Dated condition ratings per segment: a survey's overall score and its parts.
CREATE TABLE segment_ratings (
    id BIGSERIAL PRIMARY KEY,
    segment_id BIGINT NOT NULL REFERENCES segments(id),
    source TEXT NOT NULL,
    rated_on DATE NOT NULL,
    -- The part of the street rated (e.g. a block), where a survey rates parts apart.
    section TEXT NOT NULL DEFAULT '',
    overall DOUBLE PRECISION,
    cracking DOUBLE PRECISION,
    patching DOUBLE PRECISION,
    last_overlay_year INTEGER,
    pavement_type TEXT,
    rater TEXT,
    imported_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX segment_ratings_dated ON segment_ratings (segment_id, source, rated_on, section);

-- Repairs, ratings and attributes join segments by the source's own street id.
CREATE INDEX segments_external ON segments (external_id);
-- Re-imported readings are recognised by source, segment and time.
CREATE INDEX sensor_readings_source ON sensor_readings (source, segment_id, observed_at);

-- Every import that stored something: its source and kind, when, and what it read,
-- with how often each mapped column was filled (for the data-quality report).
CREATE TABLE import_runs (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    files TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX import_runs_source ON import_runs (source, started_at);
