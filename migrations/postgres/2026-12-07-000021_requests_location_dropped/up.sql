-- Reports in a box are found through the grid cells it touches, from the
-- (cell, lon, lat, requested_at) index (backend/src/db/requests.rs, `filtered`). The
-- (lat, lon) index was then only one more B-tree that every new report is written into
-- at a random place (with the cell, segment and issue indexes), for the writer to log
-- and checkpoint.
DROP INDEX requests_location;
