-- Upkeep's first schema (PostgreSQL). Times are UTC, in TIMESTAMP columns.
-- The SQLite twin lives in migrations/sqlite with the same tables and columns.

CREATE TABLE services (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    group_name TEXT NOT NULL,
    description TEXT NOT NULL,
    keywords TEXT NOT NULL,
    service_type TEXT NOT NULL,
    agency TEXT NOT NULL,
    road_surface BOOLEAN NOT NULL,
    default_severity INTEGER NOT NULL,
    sla_days TEXT NOT NULL,
    duplicate_radius_m DOUBLE PRECISION NOT NULL,
    attributes TEXT NOT NULL,
    area TEXT,
    position INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP
);

CREATE TABLE crews (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    depot_lat DOUBLE PRECISION NOT NULL,
    depot_lon DOUBLE PRECISION NOT NULL,
    service_codes TEXT NOT NULL,
    daily_capacity INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP
);

CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    crew_id BIGINT REFERENCES crews(id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

CREATE TABLE wards (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    population INTEGER,
    income_index DOUBLE PRECISION,
    geometry TEXT
);

CREATE TABLE segments (
    id BIGSERIAL PRIMARY KEY,
    external_id TEXT,
    name TEXT,
    road_class TEXT NOT NULL,
    surface TEXT,
    length_m DOUBLE PRECISION NOT NULL,
    aadt INTEGER,
    bus_route BOOLEAN NOT NULL DEFAULT FALSE,
    last_resurfaced DATE,
    ward_id BIGINT REFERENCES wards(id),
    neighbourhood TEXT,
    geometry TEXT NOT NULL,
    min_lon DOUBLE PRECISION NOT NULL,
    min_lat DOUBLE PRECISION NOT NULL,
    max_lon DOUBLE PRECISION NOT NULL,
    max_lat DOUBLE PRECISION NOT NULL,
    properties TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX segments_bbox ON segments (min_lon, min_lat);

CREATE TABLE issues (
    id BIGSERIAL PRIMARY KEY,
    service_code TEXT NOT NULL REFERENCES services(code),
    status TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    segment_id BIGINT REFERENCES segments(id),
    reporter_count INTEGER NOT NULL,
    first_reported_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP
);
CREATE INDEX issues_open ON issues (service_code, status);

CREATE TABLE requests (
    id BIGSERIAL PRIMARY KEY,
    token TEXT UNIQUE,
    accepted_at TIMESTAMP,
    service_code TEXT NOT NULL REFERENCES services(code),
    status TEXT NOT NULL,
    status_notes TEXT,
    description TEXT,
    agency_responsible TEXT,
    service_notice TEXT,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    address TEXT,
    address_id TEXT,
    zipcode TEXT,
    media_url TEXT,
    attributes TEXT NOT NULL,
    email TEXT,
    device_id TEXT,
    account_id TEXT,
    first_name TEXT,
    last_name TEXT,
    phone TEXT,
    api_key_id BIGINT REFERENCES api_keys(id),
    segment_id BIGINT REFERENCES segments(id),
    snap_distance_m DOUBLE PRECISION,
    issue_id BIGINT REFERENCES issues(id),
    requested_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    expected_at TIMESTAMP,
    closed_at TIMESTAMP
);
CREATE INDEX requests_requested_at ON requests (requested_at);
CREATE INDEX requests_updated_at ON requests (updated_at);
CREATE INDEX requests_service_code ON requests (service_code, requested_at);
CREATE INDEX requests_location ON requests (lat, lon);
CREATE INDEX requests_segment ON requests (segment_id);
CREATE INDEX requests_issue ON requests (issue_id);
-- Requests to batch services waiting to be accepted: a handful among millions, polled
-- every second, so they get an index of their own.
CREATE INDEX requests_queued ON requests (requested_at) WHERE accepted_at IS NULL;

CREATE TABLE request_updates (
    id BIGSERIAL PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES requests(id),
    status TEXT NOT NULL,
    description TEXT,
    media_url TEXT,
    author TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX request_updates_request ON request_updates (request_id);
CREATE INDEX request_updates_created_at ON request_updates (created_at);

CREATE TABLE media (
    id TEXT PRIMARY KEY NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE work_orders (
    id BIGSERIAL PRIMARY KEY,
    issue_id BIGINT REFERENCES issues(id),
    segment_id BIGINT REFERENCES segments(id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    crew_id BIGINT REFERENCES crews(id),
    priority DOUBLE PRECISION NOT NULL,
    priority_breakdown TEXT NOT NULL,
    due_at TIMESTAMP,
    notes TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);
CREATE INDEX work_orders_status ON work_orders (status, crew_id);

CREATE TABLE work_order_events (
    id BIGSERIAL PRIMARY KEY,
    work_order_id BIGINT NOT NULL REFERENCES work_orders(id),
    actor TEXT NOT NULL,
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX work_order_events_order ON work_order_events (work_order_id);

CREATE TABLE maintenance_history (
    id BIGSERIAL PRIMARY KEY,
    segment_id BIGINT NOT NULL REFERENCES segments(id),
    work_order_id BIGINT REFERENCES work_orders(id),
    kind TEXT NOT NULL,
    performed_at TIMESTAMP NOT NULL,
    notes TEXT
);
CREATE INDEX maintenance_history_segment ON maintenance_history (segment_id, performed_at);

CREATE TABLE sensor_readings (
    id BIGSERIAL PRIMARY KEY,
    segment_id BIGINT NOT NULL REFERENCES segments(id),
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    observed_at TIMESTAMP NOT NULL
);
CREATE INDEX sensor_readings_segment ON sensor_readings (segment_id, observed_at);

CREATE TABLE weather_daily (
    station TEXT NOT NULL,
    day DATE NOT NULL,
    tmin_c DOUBLE PRECISION NOT NULL,
    tmax_c DOUBLE PRECISION NOT NULL,
    precipitation_mm DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (station, day)
);

CREATE TABLE model_versions (
    id BIGSERIAL PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    trained_from DATE NOT NULL,
    trained_to DATE NOT NULL,
    features TEXT NOT NULL,
    hyperparameters TEXT NOT NULL,
    metrics TEXT NOT NULL,
    artifact BYTEA NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE risk_scores (
    segment_id BIGINT NOT NULL REFERENCES segments(id),
    model_version_id BIGINT NOT NULL REFERENCES model_versions(id),
    scored_at TIMESTAMP NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    explanation TEXT NOT NULL,
    PRIMARY KEY (segment_id, model_version_id, scored_at)
);
