-- The distinct attribute answers given by an issue's reports, kept on the issue by the
-- writer that joins a report to it: a JSON array of [attribute, answer] pairs, sorted.
-- An order's severity reads them, and reading them from every report of every issue
-- just reported cost the work-order upkeep a read per report (8 % of a large city's
-- server under a stream of reports). NULL: not kept (issues stored before this
-- migration), whose answers are still read from their reports.
ALTER TABLE issues ADD COLUMN answers TEXT;
