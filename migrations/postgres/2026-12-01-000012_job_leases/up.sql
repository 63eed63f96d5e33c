-- Jobs that must run once per cluster however many servers share the database
-- (training and scoring the risk model): a server holds a job's lease while it works,
-- renewing it, and another takes it over once it has expired (its holder died).
CREATE TABLE job_leases (
    job TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
