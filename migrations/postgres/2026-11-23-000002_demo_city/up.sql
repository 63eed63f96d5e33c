-- The demo city: its neighbourhoods (observable) and its ground truth (hidden).
-- Tables named truth_* hold what really happened in a synthetic city. Only evaluation
-- may read them; features, scoring and every API stay on the observed tables.

CREATE TABLE neighbourhoods (
    id BIGSERIAL PRIMARY KEY,
    ward_id BIGINT REFERENCES wards(id),
    name TEXT NOT NULL,
    population INTEGER NOT NULL,
    income_index DOUBLE PRECISION NOT NULL,
    density_per_km2 DOUBLE PRECISION NOT NULL
);

CREATE TABLE demo_cities (
    id BIGSERIAL PRIMARY KEY,
    seed BIGINT NOT NULL,
    size TEXT NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE truth_neighbourhoods (
    neighbourhood_id BIGINT PRIMARY KEY REFERENCES neighbourhoods(id),
    reporting_propensity DOUBLE PRECISION NOT NULL
);

CREATE TABLE truth_segments (
    segment_id BIGINT PRIMARY KEY REFERENCES segments(id),
    drainage DOUBLE PRECISION NOT NULL
);

CREATE TABLE truth_potholes (
    id BIGSERIAL PRIMARY KEY,
    segment_id BIGINT NOT NULL REFERENCES segments(id),
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    formed_on DATE NOT NULL,
    repaired_on DATE,
    reports INTEGER NOT NULL
);
CREATE INDEX truth_potholes_segment ON truth_potholes (segment_id, formed_on);

CREATE TABLE truth_report_potholes (
    request_id BIGINT PRIMARY KEY REFERENCES requests(id),
    pothole_id BIGINT NOT NULL REFERENCES truth_potholes(id)
);

CREATE TABLE truth_segment_weeks (
    segment_id BIGINT NOT NULL REFERENCES segments(id),
    week_start DATE NOT NULL,
    pci DOUBLE PRECISION NOT NULL,
    hazard_28d DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (segment_id, week_start)
);
