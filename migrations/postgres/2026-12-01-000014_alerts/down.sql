ALTER TABLE work_orders DROP COLUMN reopens;
DROP TABLE webhooks;
DROP TABLE feedback;
DROP TABLE subscriptions;
DROP TABLE outbox;
