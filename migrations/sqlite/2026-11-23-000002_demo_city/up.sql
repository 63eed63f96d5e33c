-- The demo city: its neighbourhoods (observable) and its ground truth (hidden).
-- Tables named truth_* hold what really happened in a synthetic city. Only evaluation
-- may read them; features, scoring and every API stay on the observed tables.

CREATE TABLE neighbourhoods (
    id INTEGER PRIMARY KEY NOT NULL,
    ward_id INTEGER REFERENCES wards(id),
    name TEXT NOT NULL,
    population INTEGER NOT NULL,
    income_index DOUBLE NOT NULL,
    density_per_km2 DOUBLE NOT NULL
);

CREATE TABLE demo_cities (
    id INTEGER PRIMARY KEY NOT NULL,
    seed BIGINT NOT NULL,
    size TEXT NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE truth_neighbourhoods (
    neighbourhood_id INTEGER PRIMARY KEY NOT NULL REFERENCES neighbourhoods(id),
    reporting_propensity DOUBLE NOT NULL
);

CREATE TABLE truth_segments (
    segment_id INTEGER PRIMARY KEY NOT NULL REFERENCES segments(id),
    drainage DOUBLE NOT NULL
);

CREATE TABLE truth_potholes (
    id INTEGER PRIMARY KEY NOT NULL,
    segment_id INTEGER NOT NULL REFERENCES segments(id),
    lat DOUBLE NOT NULL,
    lon DOUBLE NOT NULL,
    formed_on DATE NOT NULL,
    repaired_on DATE,
    reports INTEGER NOT NULL
);
CREATE INDEX truth_potholes_segment ON truth_potholes (segment_id, formed_on);

CREATE TABLE truth_report_potholes (
    request_id INTEGER PRIMARY KEY NOT NULL REFERENCES requests(id),
    pothole_id INTEGER NOT NULL REFERENCES truth_potholes(id)
);

CREATE TABLE truth_segment_weeks (
    segment_id INTEGER NOT NULL REFERENCES segments(id),
    week_start DATE NOT NULL,
    pci DOUBLE NOT NULL,
    hazard_28d DOUBLE NOT NULL,
    PRIMARY KEY (segment_id, week_start)
);
