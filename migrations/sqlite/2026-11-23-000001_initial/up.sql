-- Upkeep's first schema (SQLite). Times are UTC, stored as TIMESTAMP text by diesel.
-- The PostgreSQL twin lives in migrations/postgres with the same tables and columns.

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
    duplicate_radius_m DOUBLE NOT NULL,
    attributes TEXT NOT NULL,
    area TEXT,
    position INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP
);

CREATE TABLE crews (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    depot_lat DOUBLE NOT NULL,
    depot_lon DOUBLE NOT NULL,
    service_codes TEXT NOT NULL,
    daily_capacity INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    crew_id INTEGER REFERENCES crews(id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

CREATE TABLE wards (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    population INTEGER,
    income_index DOUBLE,
    geometry TEXT
);

CREATE TABLE segments (
    id INTEGER PRIMARY KEY NOT NULL,
    external_id TEXT,
    name TEXT,
    road_class TEXT NOT NULL,
    surface TEXT,
    length_m DOUBLE NOT NULL,
    aadt INTEGER,
    bus_route BOOLEAN NOT NULL DEFAULT 0,
    last_resurfaced DATE,
    ward_id INTEGER REFERENCES wards(id),
    neighbourhood TEXT,
    geometry TEXT NOT NULL,
    min_lon DOUBLE NOT NULL,
    min_lat DOUBLE NOT NULL,
    max_lon DOUBLE NOT NULL,
    max_lat DOUBLE NOT NULL,
    properties TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX segments_bbox ON segments (min_lon, min_lat);

CREATE TABLE issues (
    id INTEGER PRIMARY KEY NOT NULL,
    service_code TEXT NOT NULL REFERENCES services(code),
    status TEXT NOT NULL,
    lat DOUBLE NOT NULL,
    lon DOUBLE NOT NULL,
    segment_id INTEGER REFERENCES segments(id),
    reporter_count INTEGER NOT NULL,
    first_reported_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP
);
CREATE INDEX issues_open ON issues (service_code, status);

CREATE TABLE requests (
    id INTEGER PRIMARY KEY NOT NULL,
    token TEXT UNIQUE,
    accepted_at TIMESTAMP,
    service_code TEXT NOT NULL REFERENCES services(code),
    status TEXT NOT NULL,
    status_notes TEXT,
    description TEXT,
    agency_responsible TEXT,
    service_notice TEXT,
    lat DOUBLE,
    lon DOUBLE,
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
    api_key_id INTEGER REFERENCES api_keys(id),
    segment_id INTEGER REFERENCES segments(id),
    snap_distance_m DOUBLE,
    issue_id INTEGER REFERENCES issues(id),
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
    id INTEGER PRIMARY KEY NOT NULL,
    request_id INTEGER NOT NULL REFERENCES requests(id),
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
    bytes BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE work_orders (
    id INTEGER PRIMARY KEY NOT NULL,
    issue_id INTEGER REFERENCES issues(id),
    segment_id INTEGER REFERENCES segments(id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    crew_id INTEGER REFERENCES crews(id),
    priority DOUBLE NOT NULL,
    priority_breakdown TEXT NOT NULL,
    due_at TIMESTAMP,
    notes TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);
CREATE INDEX work_orders_status ON work_orders (status, crew_id);

CREATE TABLE work_order_events (
    id INTEGER PRIMARY KEY NOT NULL,
    work_order_id INTEGER NOT NULL REFERENCES work_orders(id),
    actor TEXT NOT NULL,
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX work_order_events_order ON work_order_events (work_order_id);

CREATE TABLE maintenance_history (
    id INTEGER PRIMARY KEY NOT NULL,
    segment_id INTEGER NOT NULL REFERENCES segments(id),
    work_order_id INTEGER REFERENCES work_orders(id),
    kind TEXT NOT NULL,
    performed_at TIMESTAMP NOT NULL,
    notes TEXT
);
CREATE INDEX maintenance_history_segment ON maintenance_history (segment_id, performed_at);

CREATE TABLE sensor_readings (
    id INTEGER PRIMARY KEY NOT NULL,
    segment_id INTEGER NOT NULL REFERENCES segments(id),
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    value DOUBLE NOT NULL,
    observed_at TIMESTAMP NOT NULL
);
CREATE INDEX sensor_readings_segment ON sensor_readings (segment_id, observed_at);

CREATE TABLE weather_daily (
    station TEXT NOT NULL,
    day DATE NOT NULL,
    tmin_c DOUBLE NOT NULL,
    tmax_c DOUBLE NOT NULL,
    precipitation_mm DOUBLE NOT NULL,
    PRIMARY KEY (station, day)
);

CREATE TABLE model_versions (
    id INTEGER PRIMARY KEY NOT NULL,
    version TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    trained_from DATE NOT NULL,
    trained_to DATE NOT NULL,
    features TEXT NOT NULL,
    hyperparameters TEXT NOT NULL,
    metrics TEXT NOT NULL,
    artifact BLOB NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE risk_scores (
    segment_id INTEGER NOT NULL REFERENCES segments(id),
    model_version_id INTEGER NOT NULL REFERENCES model_versions(id),
    scored_at TIMESTAMP NOT NULL,
    probability DOUBLE NOT NULL,
    explanation TEXT NOT NULL,
    PRIMARY KEY (segment_id, model_version_id, scored_at)
);
