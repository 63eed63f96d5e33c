-- Residents beyond the report (issue 17): messages waiting to be sent, area alerts,
-- "is it fixed?" answers, and webhooks for city systems.

-- Every message, written in the same transaction as what it tells of and sent later by
-- the one server holding the "alerts" lease. A message is claimed before it is sent,
-- so two servers never send it twice; payload is rendered into words when sent.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subscription_id BIGINT,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    sent_at TIMESTAMP,
    failed_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (sent_at, failed_at, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);

-- Who wants to hear of new reports and closures where: around a point, in a ward, or
-- for one report; optionally for some categories only. Addresses are never shown.
CREATE TABLE subscriptions (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    area TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    radius_m DOUBLE PRECISION,
    ward_id BIGINT REFERENCES wards(id),
    request_id BIGINT REFERENCES requests(id),
    service_codes TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    confirmed_at TIMESTAMP,
    unsubscribed_at TIMESTAMP,
    told_until TIMESTAMP,
    last_sent_at TIMESTAMP
);
CREATE INDEX subscriptions_email ON subscriptions (email);

-- One "is it fixed?" question per closed report with an address, answerable once
-- within 30 days; the answers are facts statistics and the model read.
CREATE TABLE feedback (
    id BIGSERIAL PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES requests(id),
    issue_id BIGINT REFERENCES issues(id),
    work_order_id BIGINT REFERENCES work_orders(id),
    crew_id BIGINT REFERENCES crews(id),
    ward_id BIGINT REFERENCES wards(id),
    service_code TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    answered_at TIMESTAMP,
    fixed BOOLEAN,
    reason TEXT,
    satisfaction INTEGER
);
CREATE INDEX feedback_answered ON feedback (answered_at);

-- City systems that follow report changes: each gets signed batches (HMAC-SHA256).
-- The watermarks say which reports and updates it has been sent.
CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP,
    last_request_id BIGINT NOT NULL,
    last_update_id BIGINT NOT NULL
);

-- How often residents said a finished order had not fixed the problem.
ALTER TABLE work_orders ADD COLUMN reopens INTEGER NOT NULL DEFAULT 0;
