DROP TABLE import_runs;
DROP INDEX sensor_readings_source;
DROP INDEX segments_external;
DROP TABLE segment_ratings;
DROP INDEX maintenance_history_external;
ALTER TABLE maintenance_history DROP COLUMN external_id;
ALTER TABLE maintenance_history DROP COLUMN source;
