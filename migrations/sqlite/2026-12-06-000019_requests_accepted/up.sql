-- Each server's in-memory index of report positions reads the reports accepted since
-- it last looked, every second (backend/src/report_index.rs).
CREATE INDEX requests_accepted ON requests (accepted_at);
