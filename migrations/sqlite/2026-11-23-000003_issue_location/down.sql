DROP TABLE issue_reporters;
ALTER TABLE issues DROP COLUMN first_request_id;
DROP INDEX issues_open_location;
