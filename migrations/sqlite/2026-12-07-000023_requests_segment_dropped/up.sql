-- No query looks reports up by their segment: per-segment figures read reports by service
-- and time (`reports_of`), a report's segment is joined to `segments` through the
-- segment's own key, and segments are never deleted (so no foreign-key check searches
-- the reports for one). The (segment_id) index was only one more B-tree that every new
-- report is written into at a random place, for the report writer to log and checkpoint.
DROP INDEX requests_segment;
