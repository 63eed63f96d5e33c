-- Grid cells for spatial queries (see backend/src/grid.rs): each located row keeps the
-- number of the 0.0025-degree cell it lies in (a segment: the centre of its bounding
-- box), so a query near a point reads a few index ranges instead of a stripe of the city.
-- The formula must match grid::cell_of: row = floor((lat + 90) / 0.0025), column =
-- floor((lon + 180) / 0.0025).
ALTER TABLE requests ADD COLUMN cell BIGINT;
UPDATE requests SET cell =
    LEAST(floor((lat + 90.0) / 0.0025)::BIGINT, 71999) * 144000
    + LEAST(floor((lon + 180.0) / 0.0025)::BIGINT, 143999)
    WHERE lat IS NOT NULL AND lon IS NOT NULL;
-- Covering, and only over accepted reports: a search by place reads this index alone.
CREATE INDEX requests_cell ON requests (cell, lon, lat, requested_at)
    WHERE accepted_at IS NOT NULL;

ALTER TABLE issues ADD COLUMN cell BIGINT NOT NULL DEFAULT 0;
UPDATE issues SET cell =
    LEAST(floor((lat + 90.0) / 0.0025)::BIGINT, 71999) * 144000
    + LEAST(floor((lon + 180.0) / 0.0025)::BIGINT, 143999);
CREATE INDEX issues_cell ON issues (cell);

ALTER TABLE segments ADD COLUMN cell BIGINT NOT NULL DEFAULT 0;
UPDATE segments SET cell =
    LEAST(floor(((min_lat + max_lat) / 2.0 + 90.0) / 0.0025)::BIGINT, 71999) * 144000
    + LEAST(floor(((min_lon + max_lon) / 2.0 + 180.0) / 0.0025)::BIGINT, 143999);
CREATE INDEX segments_cell ON segments (cell);
