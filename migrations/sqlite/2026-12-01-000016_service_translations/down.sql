ALTER TABLE services DROP COLUMN translations;
