ALTER TABLE requests DROP COLUMN channel;
