CREATE INDEX issues_open ON issues (service_code, status);
CREATE INDEX issues_open_location ON issues (service_code, status, lat);
DROP INDEX issues_open_cell;
