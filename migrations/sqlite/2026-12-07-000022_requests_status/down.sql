DROP INDEX requests_status;
