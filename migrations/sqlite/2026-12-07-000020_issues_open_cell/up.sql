-- De-duplication looks for the open issue of a service nearest a new report, through the
-- handful of grid cells around it (backend/src/db/issues.rs, `nearest`). This index
-- answers that from the index alone. Before it, every open issue in a band of latitude
-- across the whole city was read from the table to test its longitude: on the large demo
-- city, a third of the report writer's time.
CREATE INDEX issues_open_cell ON issues (service_code, status, cell, lat, lon);
-- Both begin with (service_code, status), which the new index also begins with: every
-- new issue and every change of status wrote three indexes for one.
DROP INDEX issues_open_location;
DROP INDEX issues_open;
