DROP INDEX issues_history;
DROP TABLE request_sources;
