-- De-duplication: finding open issues of one service near a point, each issue's first
-- report, and who has reported it (so a resident reporting twice counts once).
CREATE INDEX issues_open_location ON issues (service_code, status, lat);
ALTER TABLE issues ADD COLUMN first_request_id INTEGER;
CREATE TABLE issue_reporters (
    issue_id INTEGER NOT NULL REFERENCES issues(id),
    reporter TEXT NOT NULL,
    PRIMARY KEY (issue_id, reporter)
);
