-- A run's scores are read by model and time (the latest run, the map's tiles, the
-- priorities): without this index each read scanned every score ever stored.
CREATE INDEX risk_scores_run ON risk_scores (model_version_id, scored_at);
