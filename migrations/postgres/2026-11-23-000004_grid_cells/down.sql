DROP INDEX segments_cell;
ALTER TABLE segments DROP COLUMN cell;
DROP INDEX issues_cell;
ALTER TABLE issues DROP COLUMN cell;
DROP INDEX requests_cell;
ALTER TABLE requests DROP COLUMN cell;
