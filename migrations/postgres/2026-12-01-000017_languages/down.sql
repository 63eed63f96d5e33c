ALTER TABLE subscriptions DROP COLUMN lang;
