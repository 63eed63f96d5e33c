ALTER TABLE issues DROP COLUMN answers;
