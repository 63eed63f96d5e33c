-- Work orders as crews use them (issue 6): where the work is, what kind of job it is,
-- what it took, and a single place for the priority weights.

ALTER TABLE work_orders ADD COLUMN service_code TEXT NOT NULL DEFAULT '';
ALTER TABLE work_orders ADD COLUMN lat DOUBLE NOT NULL DEFAULT 0;
ALTER TABLE work_orders ADD COLUMN lon DOUBLE NOT NULL DEFAULT 0;
ALTER TABLE work_orders ADD COLUMN cell BIGINT NOT NULL DEFAULT 0;
-- JSON lists: photo URLs, and materials as {"item", "quantity", "unit"}.
ALTER TABLE work_orders ADD COLUMN photo_urls TEXT NOT NULL DEFAULT '[]';
ALTER TABLE work_orders ADD COLUMN materials TEXT NOT NULL DEFAULT '[]';
ALTER TABLE work_orders ADD COLUMN labour_minutes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE work_orders ADD COLUMN outcome TEXT;

-- Orders that came from reports take their issue's place and category.
UPDATE work_orders SET
    service_code = (SELECT service_code FROM issues WHERE issues.id = work_orders.issue_id),
    lat = (SELECT lat FROM issues WHERE issues.id = work_orders.issue_id),
    lon = (SELECT lon FROM issues WHERE issues.id = work_orders.issue_id),
    cell = (SELECT cell FROM issues WHERE issues.id = work_orders.issue_id)
    WHERE issue_id IS NOT NULL;
-- The rest sit at the middle of their segment's box.
UPDATE work_orders SET
    service_code = 'pothole',
    lat = (SELECT (min_lat + max_lat) / 2.0 FROM segments WHERE segments.id = work_orders.segment_id),
    lon = (SELECT (min_lon + max_lon) / 2.0 FROM segments WHERE segments.id = work_orders.segment_id),
    cell = (SELECT cell FROM segments WHERE segments.id = work_orders.segment_id)
    WHERE issue_id IS NULL AND segment_id IS NOT NULL;
UPDATE work_orders SET outcome = 'repaired' WHERE status = 'completed';

-- One order per issue, even with several servers creating them at once.
CREATE UNIQUE INDEX work_orders_issue ON work_orders (issue_id);
CREATE INDEX work_orders_segment ON work_orders (segment_id, status);
CREATE INDEX work_orders_cell ON work_orders (cell);
CREATE INDEX work_orders_completed ON work_orders (completed_at);

-- How much a ward's residents depend on its streets being safe, 0 (not at all) to 1.
ALTER TABLE wards ADD COLUMN vulnerability DOUBLE NOT NULL DEFAULT 0;

-- The priority weights planners set; one row, id 1. Absent: the configured defaults.
CREATE TABLE priority_weights (
    id INTEGER PRIMARY KEY NOT NULL,
    weights TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- When the weekly inspection plan last ran, so several servers plan a week only once.
CREATE TABLE inspection_plans (
    week_start DATE PRIMARY KEY NOT NULL,
    planned_at TIMESTAMP NOT NULL,
    orders INTEGER NOT NULL
);
